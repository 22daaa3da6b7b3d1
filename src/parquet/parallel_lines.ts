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
 *   worker that may take a part walks the whole row group (pages read, levels read) and
 *   claims its parts in turn, writing lines only for the parts it took and skipping the others'
 *   rows, so two workers keep busy on one large row group while their leads stay small. The row
 *   group's bytes are read once and each worker gets a copy (see {@link Prefetcher}); each page is
 *   inflated and checked once, by the first worker to reach it, and the others read its copy in
 *   buffers shared for the object (`shared_pages.ts`).
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
 *
 * This module plans an object's work and falls back to one thread; the workers lent to it, their
 * messages and the merge of their slices are in `lanes.ts`.
 * @module
 */
import type { AsyncBuffer, FileMetaData } from "hyparquet";
import { logEvent } from "../telemetry/events.ts";
import type { Obfuscator } from "../transform/obfuscate.ts";
import { groupByteRange, readEventLines, rowsPerPart } from "./json_reader.ts";
import type { LineSlice, ReadEventLinesOptions } from "./json_reader.ts";
import { declaredBytes, DEFAULT_LIMITS } from "./limits.ts";
import { readObfuscatedLines } from "./obfuscated_lines.ts";
import { hasRowRules } from "../transform/conditions.ts";
import { readMetadata } from "./reader.ts";
import { DecodePool, WorkerLost } from "./decode_pool.ts";
import { FooterCache, Prefetcher } from "./footer_cache.ts";
import { Lanes } from "./lanes.ts";
import type { Unit } from "./lanes.ts";
import type { StartMessage } from "./worker_wire.ts";
import { sharedPageBuffers } from "./shared_pages.ts";

export { DecodePool, WorkerLost } from "./decode_pool.ts";
export type { DecodePoolOptions } from "./decode_pool.ts";

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

const EMPTY = new Uint8Array(0);

/**
 * Yields the events of `file` as `readEventLines(file, options)` does — the same slices, bytes,
 * `rowStart` and `rows`, the same errors after the same slices, `signal.reason` on abort — with
 * the row groups decoded by workers of `options.pool`. Without a worker (pool closed or
 * unavailable, or nothing to read) it is `readEventLines` on this thread. Closing the generator
 * early terminates its workers.
 *
 * Each worker runs `readEventLines` over the whole object and takes (claims) the next row group
 * nobody has taken as it reaches it, so the row groups go to whichever worker is free, in order;
 * slices are merged back by row group (`lanes.ts`). When another object waits for a worker, one
 * worker of this object takes no more row groups and goes back to the pool once its last one is
 * decoded.
 */
export async function* readEventLinesParallel(
  file: AsyncBuffer,
  options: ReadEventLinesParallelOptions,
): AsyncGenerator<LineSlice> {
  const { pool, signal, startRow = 0 } = options;
  const name = options.name ?? "object";
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
  const { groups, units, unitCount } = planUnits(metadata, startRow, options);
  const told = workerOptions(plain, obfuscator);
  const lent = groups.length === 0 || !told ? [] : await pool.acquire(units.length, signal);
  if (lent.length === 0 || !told) {
    yield* here(cache, startRow);
    return;
  }
  const spans = groupSpans(metadata, groups, options.groupReadBytes, lent.length);
  const lanes = new Lanes(
    {
      pool,
      name,
      signal,
      obfuscator,
      prefetch: new Prefetcher(cache, spans, pool.readAheadBytes, pool.readAheadStrict),
      unitCount,
      sliceRows: options.sliceRows ?? 1000,
      sliceBytes: options.sliceBytes ?? 256 * 1024,
      header: options.header ?? (() => EMPTY),
      ...(hasRowRules(options.rules) ? { routes: options.rules.routes.length } : {}),
    },
    lent,
    startRow,
  );
  let lost: WorkerLost | undefined;
  try {
    lanes.start({
      byteLength: file.byteLength,
      rowGroups: groups.map((g) => g.index),
      parts: groups.map((g) => g.parts),
      pages: lent.length > 1 ? sharedPageBuffers(sharedGroupBytes(metadata, groups)) : [],
      aheadBytes: pool.aheadBytes,
      options: told.options,
      obfuscation: told.obfuscation,
    });
    signal?.throwIfAborted();
    yield* lanes.merge(units);
    await lanes.finish();
  } catch (e) {
    if (!(e instanceof WorkerLost) || signal?.aborted) throw e;
    lost = e;
  } finally {
    await lanes.close();
  }
  if (lost) {
    // The rows handed out stay handed out; the rest are decoded here, as one thread would.
    logEvent("decode_worker_lost", { error: lost.message, object: name, row: lanes.handedTo });
    yield* here(cache, lanes.handedTo);
  }
}

/**
 * The row groups `readEventLines` would read from `startRow` on, and their parts (the units of
 * work), with their first and end rows. Parts before `startRow` keep their claim slots but are not
 * waited for.
 */
function planUnits(
  metadata: FileMetaData,
  startRow: number,
  options: ReadEventLinesOptions,
): { groups: { index: number; parts: number }[]; units: Unit[]; unitCount: number } {
  const groups: { index: number; parts: number }[] = [];
  const units: Unit[] = [];
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
  return { groups, units, unitCount };
}

/**
 * What the workers are told of the options and the rules, which must survive structured cloning
 * (no functions); undefined when they cannot be.
 */
function workerOptions(
  plain: Omit<ReadEventLinesParallelOptions, "pool" | "obfuscator">,
  obfuscator: Obfuscator | undefined,
): Pick<StartMessage, "options" | "obfuscation"> | undefined {
  const { signal: _s, header: _h, rowGroups: _r, takePart: _t, ...cloned } = plain;
  // With obfuscation the workers add `append` after the rules ran (obfuscated_lines.ts).
  const { append, ...withoutAppend } = cloned;
  const options = obfuscator ? withoutAppend : cloned;
  const obfuscation = obfuscator ? { rules: obfuscator.rules, members: append ?? "" } : undefined;
  try {
    structuredClone([options, obfuscation]);
  } catch {
    return undefined;
  }
  return { options, obfuscation };
}

/** The byte spans of the row groups read in one request, and how many workers read each. */
function groupSpans(
  metadata: FileMetaData,
  groups: readonly { index: number; parts: number }[],
  groupReadBytes = 16 * 1024 * 1024,
  workers: number,
): { start: number; end: number; readers: number }[] {
  const spans: { start: number; end: number; readers: number }[] = [];
  for (const g of groups) {
    const range = groupByteRange(metadata.row_groups[g.index]!);
    if (range && range[1] > range[0] && range[1] - range[0] <= groupReadBytes) {
      spans.push({ start: range[0], end: range[1], readers: g.parts > 1 ? workers : 1 });
    }
  }
  return spans;
}

/**
 * The most bytes the pages of one row group read in parts inflate to, as declared (0 when none
 * is read in parts, NaN when one lacks metadata): what each buffer of shared pages must hold.
 */
function sharedGroupBytes(
  metadata: FileMetaData,
  groups: readonly { index: number; parts: number }[],
): number {
  let most = 0;
  for (const g of groups) {
    if (g.parts > 1) {
      most = Math.max(most, declaredBytes(metadata.row_groups[g.index]!).uncompressed);
    }
  }
  return most;
}
