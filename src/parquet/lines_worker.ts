/**
 * The decode worker of {@link readEventLinesParallel}: runs `readEventLines` over the row groups
 * it takes (the next one no other worker of the object took, as its reader reaches it) and posts
 * each slice (bytes and line offsets, transferred) to the main thread. Its
 * AsyncBuffer asks the main thread for every range; it waits while `aheadBytes` of its slices
 * have not been credited back by the main thread. Each line starts with a placeholder of `headerBytes` bytes, which
 * the main thread overwrites with the real header. For an input with obfuscation rules it
 * compiles them and applies them as each slice's lines are written (`obfuscated_plan.ts`), and
 * says what they did. It has no state between sessions.
 *
 * The module is a worker entry point: it installs its message handler only when it runs as a
 * worker, so importing it elsewhere does nothing.
 * @module
 */
import type { AsyncBuffer } from "hyparquet";
import { Obfuscator } from "../transform/obfuscate.ts";
import { readEventLines } from "./json_reader.ts";
import type { LineSlice } from "./json_reader.ts";
import { obfuscateLines } from "./obfuscated_lines.ts";
import { SharedPages } from "./shared_pages.ts";
import { decodeError, encodeError, READ_ID } from "./worker_wire.ts";
import type { FromWorker, StartMessage, ToWorker } from "./worker_wire.ts";

/** The parts of a worker's global scope used here. */
interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
}

/** One object's work in this worker. */
interface Session {
  readonly id: number;
  credited: number;
  wake?: () => void;
  readonly reads: Map<number, { resolve: (b: ArrayBuffer) => void; reject: (e: unknown) => void }>;
}

/** What the worker holds between messages: the object being decoded, and the last read's id. */
interface WorkerState {
  current?: Session;
  nextRead: number;
}

/** Installs the worker's message handler on `scope`. */
export function serve(scope: WorkerScope): void {
  const state: WorkerState = { nextRead: 0 };
  scope.onmessage = (e: MessageEvent<ToWorker>) => {
    const m = e.data;
    if (m.type === "start") {
      void run(scope, state, m);
      return;
    }
    const s = state.current;
    if (s === undefined || m.session !== s.id) return;
    answer(s, m);
  };
  scope.postMessage({ type: "ready" });
}

/** Hands the main thread's answer to a read, or a credit, to the session it is for. */
function answer(s: Session, m: Exclude<ToWorker, StartMessage>): void {
  switch (m.type) {
    case "data": {
      const r = s.reads.get(m.id);
      s.reads.delete(m.id);
      r?.resolve(m.buffer);
      return;
    }
    case "fail": {
      const r = s.reads.get(m.id);
      s.reads.delete(m.id);
      const error = decodeError(m.error);
      if (typeof error === "object" && error !== null) {
        (error as { [READ_ID]?: number })[READ_ID] = m.id;
      }
      r?.reject(error);
      return;
    }
    case "credit":
      s.credited += m.n;
      s.wake?.();
      return;
  }
}

/** Decodes the row groups this worker takes of one object, posting each slice. */
async function run(scope: WorkerScope, state: WorkerState, m: StartMessage): Promise<void> {
  const session: Session = { id: m.session, credited: 0, reads: new Map() };
  state.current = session;
  const placeholder = new Uint8Array(m.headerBytes);
  const routed = (m.routeHeaderBytes ?? []).map((n) => new Uint8Array(n));
  // With obfuscation rules, each slice's events are obfuscated here (a copy of the rules per
  // object, compiled here: its hash cache lives as long as the object). They are applied as the
  // lines are written, `members` added after them (`obfuscated_plan.ts`); with events cut down
  // first (`maxEventBytes`) or rows judged by `drop_events`/`tag_routes`, each line is rewritten
  // after it is written (`obfuscated_lines.ts`).
  const obfuscator = m.obfuscation && new Obfuscator(m.obfuscation.rules);
  const members = m.obfuscation?.members ?? "";
  // With row rules too, rows are judged on their values as read, then each line kept rewritten.
  const rewrite = obfuscator && (m.options.maxEventBytes !== undefined || m.options.rules)
    ? obfuscator
    : undefined;
  let sent = 0; // bytes
  try {
    const lines = readEventLines(remoteFile(scope, state, session, m.byteLength), {
      ...m.options,
      header: (route: number) => routed[route] ?? placeholder,
      ...claimer(m),
      lineStarts: true,
      sharedPages: new SharedPages(m.pages),
      ...(obfuscator && !rewrite ? { obfuscator, append: members } : {}),
    });
    for await (const raw of lines) {
      sent += postSlice(scope, session, raw, rewrite, members);
      while (sent - session.credited >= m.aheadBytes) {
        await new Promise<void>((resolve) => session.wake = resolve);
        session.wake = undefined;
      }
    }
    scope.postMessage({ type: "done", session: session.id });
  } catch (e) {
    scope.postMessage({ type: "error", session: session.id, error: encodeError(e) });
  } finally {
    if (state.current === session) state.current = undefined;
  }
}

/** An AsyncBuffer of `byteLength` bytes whose every range is asked of the main thread. */
function remoteFile(
  scope: WorkerScope,
  state: WorkerState,
  session: Session,
  byteLength: number,
): AsyncBuffer {
  return {
    byteLength,
    slice(start: number, end: number = byteLength): Promise<ArrayBuffer> {
      const id = ++state.nextRead;
      return new Promise<ArrayBuffer>((resolve, reject) => {
        session.reads.set(id, { resolve, reject });
        scope.postMessage({ type: "read", session: session.id, id, start, end });
      });
    },
  };
}

/**
 * The `rowGroups` and `takePart` options of this worker's reader: which row groups and parts it
 * takes, claimed against the object's other workers in the shared `claims` (see `worker_wire.ts`).
 */
function claimer(m: StartMessage): {
  rowGroups: (index: number) => boolean;
  takePart: (index: number, part: number) => boolean;
} {
  const position = new Map(m.rowGroups.map((index, i) => [index, i]));
  // The first unit (claim slot) of each row group: its parts are the units after it.
  const firstUnit: number[] = [];
  let units = 0;
  for (const parts of m.parts) {
    firstUnit.push(units);
    units += parts;
  }
  const claims = new Int32Array(m.claims);
  const me = m.lane + 1;
  const leaving = units + m.lane;
  // Takes unit `u` unless another worker did, or this one was asked to take no more.
  const claim = (u: number): boolean => {
    const owner = Atomics.load(claims, u);
    if (owner !== 0) return owner === me;
    if (Atomics.load(claims, leaving) !== 0) return false;
    return Atomics.compareExchange(claims, u, 0, me) === 0;
  };
  // Asked as the reader reaches each row group. One read whole is claimed; one read in parts
  // is walked by every worker that may still take a part of it, each part claimed in turn.
  const rowGroups = (index: number): boolean => {
    const i = position.get(index);
    if (i === undefined) return false;
    if (m.parts[i] === 1) return claim(firstUnit[i]!);
    if (Atomics.load(claims, leaving) === 0) return true;
    for (let p = 0; p < m.parts[i]!; p++) {
      if (Atomics.load(claims, firstUnit[i]! + p) === me) return true;
    }
    return false;
  };
  const takePart = (index: number, part: number): boolean => {
    const i = position.get(index);
    return i !== undefined && claim(firstUnit[i]! + part);
  };
  return { rowGroups, takePart };
}

/**
 * Posts one slice (rewritten by `obfuscator` first when given; with the counts of the rules
 * applied as it was written otherwise), its buffers transferred; returns the
 * bytes sent, which count against the worker's lead until they are credited back.
 */
function postSlice(
  scope: WorkerScope,
  session: Session,
  raw: LineSlice,
  obfuscator: Obfuscator | undefined,
  members: string,
): number {
  let s = raw;
  let fields = raw.fields;
  if (obfuscator) {
    const o = obfuscateLines(
      raw.bytes,
      raw.lines ?? raw.rows,
      raw.headBytes,
      obfuscator,
      members,
      raw.lineHeadBytes,
    );
    s = { ...raw, bytes: o.bytes, starts: o.starts };
    fields = o.fields;
  }
  const starts = s.starts!; // asked for with lineStarts
  const whole = s.bytes.byteOffset === 0 &&
    s.bytes.byteLength === s.bytes.buffer.byteLength &&
    s.bytes.buffer instanceof ArrayBuffer;
  const bytes = whole ? s.bytes.buffer as ArrayBuffer : s.bytes.slice().buffer;
  const lineRows = s.lineRows?.buffer;
  const judged = lineRows
    ? [lineRows, s.lineRoutes!.buffer, s.lineHeadBytes!.buffer] as ArrayBuffer[]
    : [];
  const sent = bytes.byteLength; // before the transfer detaches it
  scope.postMessage({
    type: "slice",
    session: session.id,
    rowStart: s.rowStart,
    rows: s.rows,
    ...(lineRows
      ? {
        lines: s.lines,
        lineRows,
        lineRoutes: judged[1],
        lineHeadBytes: judged[2],
      }
      : {}),
    bytes,
    starts: starts.buffer,
    fields: fields?.buffer,
    ...(s.oversized ? { oversized: s.oversized } : {}),
  }, [bytes, starts.buffer, ...(fields ? [fields.buffer] : []), ...judged]);
  return sent;
}

if ("WorkerGlobalScope" in globalThis) serve(globalThis as unknown as WorkerScope);
