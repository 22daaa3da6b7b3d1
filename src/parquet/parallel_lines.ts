/**
 * The fast decoding path on several cores: {@link readEventLinesParallel} yields exactly what
 * `readEventLines` yields for the same object and options, but the row groups are decoded in
 * Web Workers (`lines_worker.ts`) taken from a {@link DecodePool}, so the main thread is left to
 * S3 reads, output, batching and confirmations.
 *
 * - **I/O**: a worker has no network and no AWS client. Its AsyncBuffer asks the main thread,
 *   which serves each range from the object's own AsyncBuffer and transfers the bytes. The
 *   footer, which every worker reads, is read once here and served from memory, so an object
 *   costs the S3 requests it costs in one thread (the footer, then one per row group), or fewer
 *   (a row group inside the footer read is served from it).
 * - **Order**: each worker runs `readEventLines` over the object and, through its `rowGroups`
 *   option (asked as the reader reaches each row group), takes the next row group no other worker
 *   took (an atomic claim in a SharedArrayBuffer), so free workers take row groups in order. The
 *   slices are merged back in row order, so a failure surfaces after exactly the slices
 *   `readEventLines` would have yielded before it.
 * - **Parts**: a row group of more than 4 × `partRows` (8,192) rows is shared part by part: every
 *   worker that may take a part walks the whole row group (pages inflated, levels read) and
 *   claims its parts in turn, writing lines only for the parts it took and skipping the others'
 *   rows, so two workers keep busy on one large row group while their leads stay small. The row
 *   group's bytes are read once and each worker gets a copy (see {@link Prefetcher}).
 * - **Backpressure**: a worker waits while `aheadBytes` (16 MiB) of its slices have not been taken
 *   by the consumer (credits sent back as slices are taken); memory is bounded by that and by the
 *   row group each worker is decoding. The lead has to be about half a row group's lines for two
 *   workers to overlap (the main thread takes one worker's row group while the other decodes the
 *   next): with 2–4 slices of lead, decoding row groups in order gains nothing over one thread.
 * - **Contract**: what the object's AsyncBuffer returns is transferred to the worker (detached
 *   here), so it must not be kept or handed out again by the AsyncBuffer: a fresh ArrayBuffer
 *   per call, as the S3 reader, `bufferFromBytes` and `bufferFromFile` return.
 * - **Header**: the header function cannot cross to a worker. It is called here, once per slice
 *   in slice order, when the slice is handed out (as `readEventLines` does; only the first call
 *   comes earlier, before decoding starts); the worker writes a placeholder of that first
 *   header's length before each line and sends the offsets of its lines,
 *   and the header is written over each placeholder in place (no copy of the slice). Should a
 *   later header differ in length, the slices of that row group are rebuilt here line by line
 *   with `readEventLines`'s slicing rule, so the output stays identical for any header function.
 * - **Pool**: one pool per run, shared by every input: workers start lazily (~30–60 ms each), are
 *   reused across objects, and are terminated when a lease ends early (abort, early return,
 *   error in another worker, crash) and by {@link DecodePool.close}. An object borrows up to one
 *   worker per row group; objects read at once share the workers (one waits when all are lent),
 *   so single-row-group objects also leave the main thread and run side by side. When no
 *   worker can start (the bundle has no worker module beside it), the pool logs it once and
 *   every object decodes on the calling thread. A worker lost in the middle of an object (it
 *   crashed, or the pool was closed) is not the object's fault: the rows not yet yielded are
 *   decoded on the calling thread, with a warning ({@link WorkerLost}).
 * @module
 */
import type { AsyncBuffer } from "hyparquet";
import { logEvent } from "../telemetry/events.ts";
import type { Obfuscator } from "../transform/obfuscate.ts";
import { groupByteRange, readEventLines, rowsPerPart } from "./json_reader.ts";
import type { LineSlice, Oversized, ReadEventLinesOptions } from "./json_reader.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { readObfuscatedLines } from "./obfuscated_lines.ts";
import { readMetadata } from "./reader.ts";
import { DecodePool, PoolWorker, WorkerLost } from "./decode_pool.ts";
import { FooterCache, Prefetcher } from "./footer_cache.ts";
import { decodeError, encodeError } from "./worker_wire.ts";
import type { FromWorker, ToWorker, WireError } from "./worker_wire.ts";

export { DecodePool, WorkerLost } from "./decode_pool.ts";
export type { DecodePoolOptions } from "./decode_pool.ts";

// ---- One object ----------------------------------------------------------------------------------

/** Options for {@link readEventLinesParallel}: those of `readEventLines`, and the pool. */
export interface ReadEventLinesParallelOptions extends ReadEventLinesOptions {
  /** Where the workers come from. */
  pool: DecodePool;
  /**
   * Every event obfuscated by these rules before `append` is added (`obfuscated_lines.ts`), in
   * the workers (each with its own copy of the rules; what they did to the lines handed out is
   * added to this one's `stats`) or, without them, on this thread. A worker's slice without those
   * counts is refused (the object fails): lines are never sent unobfuscated.
   */
  obfuscator?: Obfuscator;
}

type Item =
  | {
    kind: "slice";
    rowStart: number;
    rows: number;
    bytes: Uint8Array;
    starts: Uint32Array;
    /** With obfuscation: the values changed in each line's event. */
    fields?: Uint32Array;
    oversized?: readonly Oversized[];
  }
  | { kind: "error"; error: unknown }
  | { kind: "done" };

const EMPTY = new Uint8Array(0);

/**
 * The object's AsyncBuffer, remembering what the metadata read returned so that each worker's
 * own metadata read is served from memory instead of S3.
 */
/** One leased worker during one object: its queue of slices and the reads it asked for. */
class Lane {
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

/**
 * Yields the events of `file` as `readEventLines(file, options)` does — the same slices, bytes,
 * `rowStart` and `rows`, the same errors after the same slices, `signal.reason` on abort — with
 * the row groups decoded by workers of `options.pool`. Without a worker (pool closed or
 * unavailable, or nothing to read) it is `readEventLines` on this thread. Closing the generator
 * early terminates its workers.
 *
 * Each worker runs `readEventLines` over the whole object and takes (claims) the next row group
 * nobody has taken as it reaches it, so the row groups go to whichever worker is free, in order;
 * slices are merged back by row group. When another object waits for a worker, one worker of
 * this object takes no more row groups and goes back to the pool once its last one is decoded.
 */
export async function* readEventLinesParallel(
  file: AsyncBuffer,
  options: ReadEventLinesParallelOptions,
): AsyncGenerator<LineSlice> {
  const { pool, signal, startRow = 0, sliceRows = 1000, sliceBytes = 256 * 1024 } = options;
  const name = options.name ?? "object";
  const header = options.header ?? (() => EMPTY);
  const { pool: _, obfuscator, ...plain } = options;
  /** The lines of rows `from` on, made on this thread. */
  const here = (buffer: AsyncBuffer, from: number) =>
    obfuscator
      ? readObfuscatedLines(buffer, { ...plain, startRow: from, obfuscator })
      : readEventLines(buffer, { ...plain, startRow: from });
  if (!pool.available) {
    // Straight from the file: the footer cache would keep a copy of every read.
    yield* here(file, startRow);
    return;
  }
  const cache = new FooterCache(file, (n) => pool.footerBytesKept += n);
  const metadata = await readMetadata(cache, name, options.limits ?? DEFAULT_LIMITS);
  cache.stopRecording();
  // The row groups readEventLines would read, and their parts (the units of work), with their
  // first and end rows. Parts before startRow keep their claim slots but are not waited for.
  const groups: { index: number; parts: number }[] = [];
  const units: { unit: number; index: number; first: number; end: number; whole: boolean }[] = [];
  let groupStart = 0;
  let unitCount = 0;
  for (const [index, group] of metadata.row_groups.entries()) {
    const rows = Number(group.num_rows);
    const end = groupStart + rows;
    if (end > startRow && rows > 0 && options.rowGroups?.(index) !== false) {
      const part = rowsPerPart(rows, options.partRows);
      const parts = Math.ceil(rows / part);
      groups.push({ index, parts });
      for (let p = 0; p < parts; p++) {
        const first = groupStart + p * part;
        const last = Math.min(end, first + part);
        if (last > startRow) {
          units.push({
            unit: unitCount + p,
            index,
            first: Math.max(first, startRow),
            end: last,
            whole: parts === 1 && groupStart >= startRow,
          });
        }
      }
      unitCount += parts;
    }
    groupStart = end;
  }
  // What the workers are told must survive structured cloning (no functions).
  const { signal: _s, header: _h, rowGroups: _r, takePart: _t, ...cloned } = plain;
  // With obfuscation the workers add `append` after the rules ran (obfuscated_lines.ts).
  const { append, ...withoutAppend } = cloned;
  const rest = obfuscator ? withoutAppend : cloned;
  const obfuscation = obfuscator ? { rules: obfuscator.rules, members: append ?? "" } : undefined;
  let cloneable = true;
  try {
    structuredClone([rest, obfuscation]);
  } catch {
    cloneable = false;
  }
  const lent = groups.length === 0 || !cloneable ? [] : await pool.acquire(units.length, signal);
  if (lent.length === 0) {
    yield* here(cache, startRow);
    return;
  }

  const groupReadBytes = options.groupReadBytes ?? 16 * 1024 * 1024;
  const spans: { start: number; end: number; readers: number }[] = [];
  for (const g of groups) {
    const range = groupByteRange(metadata.row_groups[g.index]!);
    if (range && range[1] > range[0] && range[1] - range[0] <= groupReadBytes) {
      spans.push({ start: range[0], end: range[1], readers: g.parts > 1 ? lent.length : 1 });
    }
  }
  const prefetch = new Prefetcher(cache, spans, pool.readAheadBytes);
  const session = pool.nextSession();
  /** Rows before this one were yielded. */
  let handedTo = startRow;
  let lost: WorkerLost | undefined;
  const claims = new Int32Array(new SharedArrayBuffer(4 * (unitCount + lent.length)));
  let wakeAny: (() => void) | undefined;
  const lanes = lent.map((pw) => new Lane(pw, () => wakeAny?.()));
  const onAbort = () => {
    for (const lane of lanes) lane.fail(signal!.reason);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  /** A worker whose session ended is free at once (its slices are already here). */
  const giveBack = (lane: Lane) => {
    if (lane.returned) return;
    lane.returned = true;
    if (lane.ended && lane.reads.size === 0) pool.release(lane.pw);
    else pool.discard(lane.pw);
  };
  try {
    // The first slice's header, asked before the workers start: its length is the placeholder.
    const firstHead = header();
    const h = firstHead.length;
    for (const [k, lane] of lanes.entries()) {
      const worker = lane.pw.worker;
      lane.pw.onLost = (reason) => lane.fail(reason);
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (m.type === "ready" || m.session !== session) return;
        switch (m.type) {
          case "read": {
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
            const p = prefetch.slice(m.start, m.end).then((buffer) => {
              const data = { type: "data", session, id: m.id, buffer } as const;
              // Transferred when it can be (an ArrayBuffer of its own), else copied.
              if (!post(worker, data, [buffer]) && !post(worker, data)) {
                fail(new Error(`a read of ${m.end - m.start} bytes cannot be handed over`));
              }
            }, fail).catch(() => {});
            lane.reads.add(p);
            p.finally(() => lane.reads.delete(p));
            return;
          }
          case "slice":
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
              bytes: new Uint8Array(m.bytes),
              starts: new Uint32Array(m.starts),
              fields: m.fields && new Uint32Array(m.fields),
              ...(m.oversized ? { oversized: m.oversized } : {}),
            });
            return;
          case "error":
          case "done":
            lane.ended = true;
            lane.push(
              m.type === "done"
                ? { kind: "done" }
                : { kind: "error", error: decodeError(m.error, lane.readErrors) },
            );
            giveBack(lane);
            return;
        }
      };
      post(worker, {
        type: "start",
        session,
        lane: k,
        byteLength: file.byteLength,
        rowGroups: groups.map((g) => g.index),
        parts: groups.map((g) => g.parts),
        claims: claims.buffer as SharedArrayBuffer,
        headerBytes: h,
        aheadBytes: pool.aheadBytes,
        options: rest,
        obfuscation,
      });
    }
    signal?.throwIfAborted();

    /** The worker that took unit `u`, once one has. */
    const ownerOf = async (u: number, index: number): Promise<Lane> => {
      for (;;) {
        const c = Atomics.load(claims, u);
        if (c > 0) return lanes[c - 1]!;
        signal?.throwIfAborted();
        if (lanes.every((l) => l.ended)) {
          // Nobody will: every worker stopped, with the same error (one met before any group).
          for (const l of lanes) {
            const failed = l.items.find((i) => i.kind === "error");
            if (failed?.kind === "error") throw failed.error;
          }
          throw new Error(`no decode worker of ${name} took row group ${index}`);
        }
        await new Promise<void>((resolve) => wakeAny = resolve);
        wakeAny = undefined;
      }
    };
    /**
     * One of our workers takes no more row groups when another object waits for a worker, or
     * when a row group's lines (`groupBytes`) are so many that a worker's lead (`aheadBytes`)
     * covers less than a quarter of them: the second worker then mostly waits (it can only run
     * `aheadBytes` ahead while this thread takes the first worker's row group).
     */
    const share = (groupBytes = 0) => {
      if (pool.waiting === 0 && groupBytes <= 4 * pool.aheadBytes) return;
      const staying = lanes.filter((l) => !l.leaving && !l.ended);
      if (staying.length < 2) return;
      const lane = staying.at(-1)!;
      lane.leaving = true;
      Atomics.store(claims, unitCount + lanes.indexOf(lane), 1);
    };

    let pendingHead: Uint8Array | undefined = firstHead;
    const nextHeader = () => {
      const head = pendingHead ?? header();
      pendingHead = undefined;
      return head;
    };
    const take = async (lane: Lane) => {
      const item = await lane.peek();
      if (item.kind === "error") throw item.error;
      if (item.kind === "done") {
        throw new Error(`the decode worker of ${name} ended before the rows it took`);
      }
      return item;
    };
    /** Counts, in the consumer's obfuscator, what the rules did to lines `from` up to `to`. */
    const count = (fields: Uint32Array, from: number, to: number) => {
      const stats = obfuscator!.stats;
      for (let i = from; i < to; i++) {
        const f = fields[i]!;
        if (f > 0) {
          stats.fieldsObfuscated += f;
          stats.eventsTouched++;
        }
      }
    };
    const consumed = (lane: Lane) => {
      const item = lane.items.shift();
      lane.cursor = 0;
      const n = item?.kind === "slice" ? item.bytes.byteLength : 0;
      if (!lane.returned) post(lane.pw.worker, { type: "credit", session, n });
    };

    for (const group of units) {
      const lane = await ownerOf(group.unit, group.index);
      let row = group.first;
      let groupBytes = 0;
      while (row < group.end) {
        signal?.throwIfAborted();
        share();
        const item = await take(lane);
        const head = nextHeader();
        if (lane.cursor === 0 && item.rowStart === row && head.length === h) {
          // The worker cut the slice where readEventLines cuts it: write the headers in place.
          if (h > 0) { for (const at of item.starts) item.bytes.set(head, at); }
          groupBytes += item.bytes.length;
          if (item.fields) count(item.fields, 0, item.rows);
          yield {
            rowStart: item.rowStart,
            rows: item.rows,
            bytes: item.bytes,
            headBytes: h,
            ...(item.oversized ? { oversized: item.oversized } : {}),
          };
          handedTo = item.rowStart + item.rows;
          consumed(lane);
          row += item.rows;
          continue;
        }
        // A header of another length: cut the slice here, line by line, as readEventLines does.
        const first = row;
        let out = new Uint8Array(sliceBytes + (sliceBytes >> 2));
        let pos = 0;
        let oversized: Oversized[] | undefined;
        while (row < group.end && row - first < sliceRows && pos < sliceBytes) {
          const it = await take(lane);
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
          if (it.fields) count(it.fields, i, i + 1);
          const big = it.oversized?.find((o) => o.row === row);
          if (big) (oversized ??= []).push(big);
          row++;
          if (++lane.cursor === it.rows) consumed(lane);
        }
        groupBytes += pos;
        yield {
          rowStart: first,
          rows: row - first,
          bytes: out.slice(0, pos),
          headBytes: head.length,
          ...(oversized ? { oversized } : {}),
        };
        handedTo = row;
      }
      if (group.whole) share(groupBytes); // its lines say whether a second worker helps
    }
    // Every row was handed out: each worker's session ends (and the worker is reused).
    for (const lane of lanes) {
      const item = await lane.peek();
      if (item.kind === "error") throw item.error;
      if (item.kind === "slice") throw new Error(`the decode worker of ${name} sent extra rows`);
    }
  } catch (e) {
    if (!(e instanceof WorkerLost) || signal?.aborted) throw e;
    lost = e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    for (const lane of lanes) giveBack(lane);
    // Reads still in flight finish (or fail) before the generator is done.
    prefetch.clear();
    await Promise.allSettled([...lanes.flatMap((l) => [...l.reads]), ...prefetch.pending]);
  }
  if (lost) {
    // The rows handed out stay handed out; the rest are decoded here, as one thread would.
    logEvent("decode_worker_lost", { error: lost.message, object: name, row: handedTo });
    yield* here(cache, handedTo);
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
