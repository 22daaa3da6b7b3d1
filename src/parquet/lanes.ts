/**
 * The workers lent to one object by {@link readEventLinesParallel} and the merge of what they
 * send: each worker is a {@link Lane} (its queue of slices, the reads it asked for), its messages
 * are answered here (reads served through the prefetcher, slices queued, the end of its session
 * noted), and {@link Lanes.merge} hands the slices out in row order, writing the headers over
 * their placeholders (see `parallel_lines.ts` for the whole design).
 * @module
 */
import type { Obfuscator } from "../transform/obfuscate.ts";
import type { LineSlice, Oversized } from "./json_reader.ts";
import type { DecodePool, PoolWorker } from "./decode_pool.ts";
import type { Prefetcher } from "./footer_cache.ts";
import { decodeError, encodeError } from "./worker_wire.ts";
import type { FromWorker, StartMessage, ToWorker, WireError } from "./worker_wire.ts";

/** What a lane's queue holds: a slice of lines, or how the worker's session ended. */
type Item =
  | {
    kind: "slice";
    rowStart: number;
    rows: number;
    /** With rules: the lines, the row, route and placeholder length of each. */
    lines?: number;
    lineRows?: Uint32Array<ArrayBuffer>;
    lineRoutes?: Int32Array<ArrayBuffer>;
    lineHeadBytes?: Uint32Array<ArrayBuffer>;
    bytes: Uint8Array;
    starts: Uint32Array;
    /** With obfuscation: the values changed in each line's event. */
    fields?: Uint32Array;
    oversized?: readonly Oversized[];
  }
  | { kind: "error"; error: unknown }
  | { kind: "done" };

/** One leased worker during one object: its queue of slices and the reads it asked for. */
export class Lane {
  readonly pw: PoolWorker;
  readonly items: Item[] = [];
  /** Lines of `items[0]` already taken (line-by-line mode). */
  cursor = 0;
  /** The worker's session ended (done or error): it is idle again. */
  ended = false;
  /** The worker went back to the pool (or was terminated). */
  returned = false;
  /** The worker was asked to take no more row groups. */
  leaving = false;
  readonly reads = new Set<Promise<void>>();
  readonly readErrors = new Map<number, unknown>();
  readonly #onEvent: () => void;
  #failure?: { reason: unknown };
  #wake?: () => void;

  constructor(pw: PoolWorker, onEvent: () => void) {
    this.pw = pw;
    this.#onEvent = onEvent;
  }

  push(item: Item): void {
    this.items.push(item);
    this.#wake?.();
    this.#onEvent();
  }

  /** Stops every wait of this lane with `reason`. */
  fail(reason: unknown): void {
    this.#failure ??= { reason };
    this.#wake?.();
    this.#onEvent();
  }

  /** The next item, waiting for the worker when there is none yet. */
  async peek(): Promise<Item> {
    while (this.items.length === 0) {
      if (this.#failure) throw this.#failure.reason;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
    if (this.#failure) throw this.#failure.reason;
    return this.items[0]!;
  }
}

/** A unit of work: a row group, or a part of one, and the rows of it to hand out. */
export interface Unit {
  /** Its claim slot. */
  readonly unit: number;
  /** Its row group's index in the footer. */
  readonly index: number;
  readonly first: number;
  readonly end: number;
  /** A whole row group read from its start. */
  readonly whole: boolean;
}

/** What the lanes of one object share. */
export interface LanesContext {
  readonly pool: DecodePool;
  readonly name: string;
  readonly signal?: AbortSignal;
  readonly obfuscator?: Obfuscator;
  readonly prefetch: Prefetcher;
  /** Units of work of the object (claim slots before the workers' leave flags). */
  readonly unitCount: number;
  readonly sliceRows: number;
  readonly sliceBytes: number;
  /** The header function (see `readEventLines`). */
  readonly header: (route: number) => Uint8Array;
  /** With rules (`readEventLines`'s `rules`): how many tag routes there are. */
  readonly routes?: number;
}

/** The start message's fields that are the same for every worker of the object. */
export type StartFields = Omit<
  StartMessage,
  "type" | "session" | "lane" | "claims" | "headerBytes"
>;

/** The workers lent to one object, their messages, and the merge of their slices. */
export class Lanes {
  readonly #ctx: LanesContext;
  readonly #session: number;
  readonly lanes: Lane[];
  readonly #claims: Int32Array;
  #wakeAny?: () => void;
  readonly #onAbort = () => {
    for (const lane of this.lanes) lane.fail(this.#ctx.signal!.reason);
  };
  /** Rows before this one were yielded. */
  handedTo: number;
  /** The first slice's header, asked before the workers start: its length is the placeholder. */
  #pendingHead?: Uint8Array;
  #h = 0;
  /** With rules: the placeholder's length for each route's lines. */
  #routeH: number[] | undefined;

  constructor(ctx: LanesContext, lent: PoolWorker[], startRow: number) {
    this.#ctx = ctx;
    this.#session = ctx.pool.nextSession();
    this.handedTo = startRow;
    this.#claims = new Int32Array(new SharedArrayBuffer(4 * (ctx.unitCount + lent.length)));
    this.lanes = lent.map((pw) => new Lane(pw, () => this.#wakeAny?.()));
    ctx.signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Asks for the first header, then starts every worker on the object. */
  start(fields: StartFields): void {
    const firstHead = this.#ctx.header(-1);
    this.#h = firstHead.length;
    if (this.#ctx.routes !== undefined) {
      // Each line's header is asked (once per route and slice) as its slice is handed out.
      this.#routeH = Array.from({ length: this.#ctx.routes }, (_, r) => this.#ctx.header(r).length);
    } else this.#pendingHead = firstHead;
    for (const [k, lane] of this.lanes.entries()) {
      const worker = lane.pw.worker;
      lane.pw.onLost = (reason) => lane.fail(reason);
      worker.onmessage = (e: MessageEvent<FromWorker>) => this.#onMessage(lane, e.data);
      post(worker, {
        type: "start",
        session: this.#session,
        lane: k,
        claims: this.#claims.buffer as SharedArrayBuffer,
        headerBytes: this.#h,
        ...(this.#routeH ? { routeHeaderBytes: this.#routeH } : {}),
        ...fields,
      });
    }
  }

  #onMessage(lane: Lane, m: FromWorker): void {
    if (m.type === "ready" || m.session !== this.#session) return;
    switch (m.type) {
      case "read":
        return this.#serveRead(lane, m);
      case "slice":
        return this.#onSlice(lane, m);
      case "error":
      case "done":
        lane.ended = true;
        lane.push(
          m.type === "done"
            ? { kind: "done" }
            : { kind: "error", error: decodeError(m.error, lane.readErrors) },
        );
        this.giveBack(lane);
        return;
    }
  }

  /** Serves a worker's read through the prefetcher, the bytes transferred when they can be. */
  #serveRead(lane: Lane, m: FromWorker & { type: "read" }): void {
    const worker = lane.pw.worker;
    const session = this.#session;
    const fail = (e: unknown) => {
      lane.readErrors.set(m.id, e);
      let error: WireError;
      try {
        error = encodeError(e);
      } catch {
        error = { name: "Error", message: String(e) };
      }
      post(worker, { type: "fail", session, id: m.id, error });
    };
    const p = this.#ctx.prefetch.slice(m.start, m.end).then((buffer) => {
      const data = { type: "data", session, id: m.id, buffer } as const;
      // Transferred when it can be (an ArrayBuffer of its own), else copied.
      if (!post(worker, data, [buffer]) && !post(worker, data)) {
        fail(new Error(`a read of ${m.end - m.start} bytes cannot be handed over`));
      }
    }, fail).catch(() => {});
    lane.reads.add(p);
    p.finally(() => lane.reads.delete(p));
  }

  #onSlice(lane: Lane, m: FromWorker & { type: "slice" }): void {
    const { pool, obfuscator, name } = this.#ctx;
    if (obfuscator && m.fields === undefined) {
      // Fails closed: lines the rules did not go over are never sent.
      lane.push({
        kind: "error",
        error: new Error(`the decode worker of ${name} sent lines it did not obfuscate`),
      });
      return;
    }
    pool.received.slices++;
    pool.received.bytes += m.bytes.byteLength;
    lane.pw.slices++;
    lane.push({
      kind: "slice",
      rowStart: m.rowStart,
      rows: m.rows,
      ...(m.lineRows
        ? {
          lines: m.lines,
          lineRows: new Uint32Array(m.lineRows),
          lineRoutes: new Int32Array(m.lineRoutes!),
          lineHeadBytes: new Uint32Array(m.lineHeadBytes!),
        }
        : {}),
      bytes: new Uint8Array(m.bytes),
      starts: new Uint32Array(m.starts),
      fields: m.fields && new Uint32Array(m.fields),
      ...(m.oversized ? { oversized: m.oversized } : {}),
    });
  }

  /** A worker whose session ended is free at once (its slices are already here). */
  giveBack(lane: Lane): void {
    if (lane.returned) return;
    lane.returned = true;
    if (lane.ended && lane.reads.size === 0) this.#ctx.pool.release(lane.pw);
    else this.#ctx.pool.discard(lane.pw);
  }

  /** The worker that took unit `u`, once one has. */
  async #ownerOf(u: number, index: number): Promise<Lane> {
    const lanes = this.lanes;
    for (;;) {
      const c = Atomics.load(this.#claims, u);
      if (c > 0) return lanes[c - 1]!;
      this.#ctx.signal?.throwIfAborted();
      if (lanes.every((l) => l.ended)) {
        // Nobody will: every worker stopped, with the same error (one met before any group).
        for (const l of lanes) {
          const failed = l.items.find((i) => i.kind === "error");
          if (failed?.kind === "error") throw failed.error;
        }
        throw new Error(`no decode worker of ${this.#ctx.name} took row group ${index}`);
      }
      await new Promise<void>((resolve) => this.#wakeAny = resolve);
      this.#wakeAny = undefined;
    }
  }

  /**
   * One of our workers takes no more row groups when another object waits for a worker, or
   * when a row group's lines (`groupBytes`) are so many that a worker's lead (`aheadBytes`)
   * covers less than a quarter of them: the second worker then mostly waits (it can only run
   * `aheadBytes` ahead while this thread takes the first worker's row group).
   */
  #share(groupBytes = 0): void {
    const pool = this.#ctx.pool;
    if (pool.waiting === 0 && groupBytes <= 4 * pool.aheadBytes) return;
    const staying = this.lanes.filter((l) => !l.leaving && !l.ended);
    if (staying.length < 2) return;
    const lane = staying.at(-1)!;
    lane.leaving = true;
    Atomics.store(this.#claims, this.#ctx.unitCount + this.lanes.indexOf(lane), 1);
  }

  #nextHeader(): Uint8Array {
    const head = this.#pendingHead ?? this.#ctx.header(-1);
    this.#pendingHead = undefined;
    return head;
  }

  async #take(lane: Lane): Promise<Item & { kind: "slice" }> {
    const item = await lane.peek();
    if (item.kind === "error") throw item.error;
    if (item.kind === "done") {
      throw new Error(`the decode worker of ${this.#ctx.name} ended before the rows it took`);
    }
    return item;
  }

  /** Counts, in the consumer's obfuscator, what the rules did to lines `from` up to `to`. */
  #count(fields: Uint32Array, from: number, to: number): void {
    const stats = this.#ctx.obfuscator!.stats;
    for (let i = from; i < to; i++) {
      const f = fields[i]!;
      if (f > 0) {
        stats.fieldsObfuscated += f;
        stats.eventsTouched++;
      }
    }
  }

  #consumed(lane: Lane): void {
    const item = lane.items.shift();
    lane.cursor = 0;
    const n = item?.kind === "slice" ? item.bytes.byteLength : 0;
    if (!lane.returned) post(lane.pw.worker, { type: "credit", session: this.#session, n });
  }

  /** Yields the slices of `units`, in order, as `readEventLines` would cut them. */
  async *merge(units: readonly Unit[]): AsyncGenerator<LineSlice> {
    const h = this.#h;
    const signal = this.#ctx.signal;
    for (const group of units) {
      const lane = await this.#ownerOf(group.unit, group.index);
      let row = group.first;
      let groupBytes = 0;
      while (row < group.end) {
        signal?.throwIfAborted();
        this.#share();
        const item = await this.#take(lane);
        if (this.#routeH) {
          const slice = this.#judged(item);
          groupBytes += slice.bytes.length;
          yield slice;
          this.handedTo = item.rowStart + item.rows;
          this.#consumed(lane);
          row += item.rows;
          continue;
        }
        const head = this.#nextHeader();
        if (lane.cursor === 0 && item.rowStart === row && head.length === h) {
          // The worker cut the slice where readEventLines cuts it: write the headers in place.
          if (h > 0) { for (const at of item.starts) item.bytes.set(head, at); }
          groupBytes += item.bytes.length;
          if (item.fields) this.#count(item.fields, 0, item.rows);
          yield {
            rowStart: item.rowStart,
            rows: item.rows,
            bytes: item.bytes,
            headBytes: h,
            ...(item.oversized ? { oversized: item.oversized } : {}),
          };
          this.handedTo = item.rowStart + item.rows;
          this.#consumed(lane);
          row += item.rows;
          continue;
        }
        const slice = await this.#recut(lane, head, row, group.end);
        groupBytes += slice.bytes.length;
        row += slice.rows;
        yield slice;
        this.handedTo = row;
      }
      if (group.whole) this.#share(groupBytes); // its lines say whether a second worker helps
    }
  }

  /**
   * A slice of judged rows (with rules): taken whole, as the worker cut it (as readEventLines
   * cuts it), each line's header asked for its route (once per route in the slice, in the
   * order readEventLines asks) and written over its placeholder.
   */
  #judged(item: Item & { kind: "slice" }): LineSlice {
    const lines = item.lines ?? item.rows;
    if (item.fields) this.#count(item.fields, 0, lines);
    const routes = item.lineRoutes ?? new Int32Array(0);
    const placeholders = item.lineHeadBytes ?? new Uint32Array(0);
    const heads = new Map<number, Uint8Array>();
    let same = true;
    for (let i = 0; i < lines; i++) {
      const r = routes[i]!;
      let head = heads.get(r);
      if (head === undefined) heads.set(r, head = this.#ctx.header(r));
      if (head.length !== placeholders[i]) same = false;
    }
    const common = {
      rowStart: item.rowStart,
      rows: item.rows,
      lines,
      lineRows: item.lineRows ?? new Uint32Array(0),
      lineRoutes: routes,
      ...(item.oversized ? { oversized: item.oversized } : {}),
    };
    if (same) {
      for (let i = 0; i < lines; i++) item.bytes.set(heads.get(routes[i]!)!, item.starts[i]!);
      return {
        ...common,
        bytes: item.bytes,
        headBytes: placeholders[0] ?? 0,
        lineHeadBytes: placeholders,
      };
    }
    // A header of another length than its placeholder: the lines are copied behind theirs.
    const parts: Uint8Array[] = [];
    const lineHeadBytes = new Uint32Array(lines);
    for (let i = 0; i < lines; i++) {
      const end = i + 1 < lines ? item.starts[i + 1]! : item.bytes.length;
      const head = heads.get(routes[i]!)!;
      lineHeadBytes[i] = head.length;
      parts.push(head, item.bytes.subarray(item.starts[i]! + placeholders[i]!, end));
    }
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    return { ...common, bytes, headBytes: lineHeadBytes[0] ?? 0, lineHeadBytes };
  }

  /**
   * A header of another length: the slice from `row` is cut here, line by line, as
   * readEventLines cuts it, from the lines `lane` sent.
   */
  async #recut(lane: Lane, head: Uint8Array, row: number, end: number): Promise<LineSlice> {
    const { sliceRows, sliceBytes, name } = this.#ctx;
    const h = this.#h;
    const first = row;
    let out = new Uint8Array(sliceBytes + (sliceBytes >> 2));
    let pos = 0;
    let oversized: Oversized[] | undefined;
    while (row < end && row - first < sliceRows && pos < sliceBytes) {
      const it = await this.#take(lane);
      const i = lane.cursor;
      if (it.rowStart + i !== row) {
        throw new Error(`the decode worker of ${name} sent row ${it.rowStart + i}, not ${row}`);
      }
      const line = it.bytes.subarray(
        it.starts[i]! + h,
        i + 1 < it.rows ? it.starts[i + 1]! : it.bytes.length,
      );
      const need = pos + head.length + line.length;
      if (need > out.length) {
        const bigger = new Uint8Array(Math.max(need, out.length * 2));
        bigger.set(out.subarray(0, pos));
        out = bigger;
      }
      out.set(head, pos);
      out.set(line, pos + head.length);
      pos = need;
      if (it.fields) this.#count(it.fields, i, i + 1);
      const big = it.oversized?.find((o) => o.row === row);
      if (big) (oversized ??= []).push(big);
      row++;
      if (++lane.cursor === it.rows) this.#consumed(lane);
    }
    return {
      rowStart: first,
      rows: row - first,
      bytes: out.slice(0, pos),
      headBytes: head.length,
      ...(oversized ? { oversized } : {}),
    };
  }

  /** Every row was handed out: each worker's session ends (and the worker is reused). */
  async finish(): Promise<void> {
    for (const lane of this.lanes) {
      const item = await lane.peek();
      if (item.kind === "error") throw item.error;
      if (item.kind === "slice") {
        throw new Error(`the decode worker of ${this.#ctx.name} sent extra rows`);
      }
    }
  }

  /** Gives every worker back and waits for the reads still in flight to finish (or fail). */
  async close(): Promise<void> {
    this.#ctx.signal?.removeEventListener("abort", this.#onAbort);
    for (const lane of this.lanes) this.giveBack(lane);
    const prefetch = this.#ctx.prefetch;
    prefetch.clear();
    await Promise.allSettled([...this.lanes.flatMap((l) => [...l.reads]), ...prefetch.pending]);
  }
}

/** Posts `message`; false when it cannot be cloned or transferred. */
function post(worker: Worker, message: ToWorker, transfer: Transferable[] = []): boolean {
  try {
    worker.postMessage(message, transfer);
    return true;
  } catch {
    return false;
  }
}
