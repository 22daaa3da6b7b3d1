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
import { CollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import type { ObfuscationRule } from "../config/types.ts";
import { logger } from "../telemetry/log.ts";
import type { Obfuscator } from "../transform/obfuscate.ts";
import { groupByteRange, readEventLines, rowsPerPart } from "./json_reader.ts";
import type { LineSlice, Oversized, ReadEventLinesOptions } from "./json_reader.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { readObfuscatedLines } from "./obfuscated_lines.ts";
import { readMetadata } from "./reader.ts";

/** Bytes of lines a worker may decode ahead of what the consumer has taken, by default. */
export const DEFAULT_AHEAD_BYTES = 16 * 1024 * 1024;
/** Bytes of row groups read ahead of the workers, by default. */
export const DEFAULT_READ_AHEAD_BYTES = 8 * 1024 * 1024;

// ---- Wire protocol (main ↔ lines_worker.ts) ----------------------------------------------------

/**
 * Main → worker: decode row groups of an object of `byteLength` bytes. A row group is read in
 * `parts[i]` parts (1 unless it is large: see `partRows` in `json_reader.ts`); the parts of all
 * row groups, in order, are the units of work. The workers of an object share `claims`: slot
 * `u` holds `lane + 1` of the worker that took unit `u` (0: nobody yet); the slot after the
 * units' for `lane` is set to ask worker `lane` to take no more.
 */
export interface StartMessage {
  readonly type: "start";
  readonly session: number;
  readonly lane: number;
  readonly byteLength: number;
  /** The row groups to read, in order (indices in the footer). */
  readonly rowGroups: readonly number[];
  /** Parts of each of `rowGroups`. */
  readonly parts: readonly number[];
  readonly claims: SharedArrayBuffer;
  /** Length of the header placeholder written before each line. */
  readonly headerBytes: number;
  /** Bytes of slices sent and not yet credited at which the worker waits. */
  readonly aheadBytes: number;
  readonly options: Omit<ReadEventLinesOptions, "signal" | "header" | "rowGroups" | "takePart">;
  /**
   * Obfuscate every event with these rules, then add `members` (`obfuscated_lines.ts`); the
   * options' `append` is then absent, so that no rule sees those members.
   */
  readonly obfuscation?: { readonly rules: readonly ObfuscationRule[]; readonly members: string };
}

/** Main → worker messages. */
export type ToWorker =
  | StartMessage
  | { readonly type: "data"; readonly session: number; readonly id: number; buffer: ArrayBuffer }
  | { readonly type: "fail"; readonly session: number; readonly id: number; error: WireError }
  | { readonly type: "credit"; readonly session: number; readonly n: number };

/** Worker → main messages. */
export type FromWorker =
  | { readonly type: "ready" }
  | {
    readonly type: "read";
    readonly session: number;
    readonly id: number;
    readonly start: number;
    readonly end: number;
  }
  | {
    readonly type: "slice";
    readonly session: number;
    readonly rowStart: number;
    readonly rows: number;
    /** The slice's bytes (transferred), a header placeholder before each line. */
    readonly bytes: ArrayBuffer;
    /** Uint32 offsets of the lines (transferred). */
    readonly starts: ArrayBuffer;
    /**
     * With obfuscation: Uint32 counts of the values the rules changed in each line (transferred),
     * added to the consumer's counts as the lines are handed out.
     */
    readonly fields?: ArrayBuffer;
    /** Events cut off while built (see `LineSlice.oversized`). */
    readonly oversized?: readonly Oversized[];
  }
  | { readonly type: "error"; readonly session: number; readonly error: WireError }
  | { readonly type: "done"; readonly session: number };

/** An error as it crosses between threads: `CollectorError` fields, name, message, cause. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly collector?: {
    readonly code: ErrorCode;
    readonly detail: string;
    readonly retryable: boolean;
    readonly context: Record<string, unknown>;
    readonly related: readonly WireError[];
  };
  readonly cause?: WireError;
  /** The error was a failed read served by the main thread: the id of that read. */
  readonly read?: number;
}

/** Marks an error thrown by a worker's read with the id of the failed request. */
export const READ_ID: unique symbol = Symbol("seclake.readId");

/** The structured-clone-safe form of any thrown value (a cause chain at most 8 deep). */
export function encodeError(e: unknown, depth = 0): WireError {
  const read = typeof e === "object" && e !== null
    ? (e as { [READ_ID]?: number })[READ_ID]
    : undefined;
  const cause = depth < 8 && e instanceof Error && e.cause !== undefined
    ? encodeError(e.cause, depth + 1)
    : undefined;
  if (e instanceof CollectorError) {
    return {
      name: e.name,
      message: e.message,
      stack: e.stack,
      collector: {
        code: e.code,
        detail: e.detail,
        retryable: e.retryable,
        context: cloneable(e.context),
        related: e.related.map((r) => encodeError(r, depth + 1)),
      },
      cause,
      read,
    };
  }
  if (e instanceof Error || e instanceof DOMException) {
    return { name: e.name, message: e.message, stack: e.stack, cause, read };
  }
  return { name: "Error", message: String(e), read };
}

/**
 * Rebuilds an error from {@link encodeError}: a `CollectorError` with the same code, message,
 * retryable flag and context; a `DOMException` keeps its name. A node that stands for a failed
 * read found in `reads` becomes that original error object.
 */
export function decodeError(w: WireError, reads?: ReadonlyMap<number, unknown>): unknown {
  if (w.read !== undefined && reads?.has(w.read)) return reads.get(w.read);
  const cause = w.cause === undefined ? undefined : decodeError(w.cause, reads);
  let e: Error;
  if (w.collector) {
    const c = w.collector;
    e = new CollectorError(c.code, c.detail, {
      retryable: c.retryable,
      context: c.context,
      related: c.related.map((r) => decodeError(r, reads) as CollectorError),
      cause,
    });
  } else if (w.name === "AbortError" || w.name === "TimeoutError") {
    e = new DOMException(w.message, w.name);
  } else {
    e = new Error(w.message, cause === undefined ? undefined : { cause });
    e.name = w.name;
  }
  if (w.stack !== undefined) {
    try {
      Object.defineProperty(e, "stack", { value: w.stack, configurable: true, writable: true });
    } catch {
      // keep the local stack
    }
  }
  return e;
}

function cloneable(context: Record<string, unknown>): Record<string, unknown> {
  try {
    return structuredClone(context);
  } catch {
    return JSON.parse(
      JSON.stringify(context, (_, v) => typeof v === "bigint" ? v.toString() : v),
    );
  }
}

// ---- The pool ------------------------------------------------------------------------------------

/** Options for {@link DecodePool}. */
export interface DecodePoolOptions {
  /** Most workers alive at once (≥ 1). */
  threads: number;
  /** The worker module. Default `lines_worker.ts` beside this module. */
  workerUrl?: string | URL;
  /**
   * Bytes of lines a worker may have decoded ahead of what the consumer took (at least one
   * slice). Default {@link DEFAULT_AHEAD_BYTES}.
   */
  aheadBytes?: number;
  /**
   * Bytes of row groups read ahead of the workers (at least the next row group).
   * Default {@link DEFAULT_READ_AHEAD_BYTES}.
   */
  readAheadBytes?: number;
  /** Milliseconds a new worker gets to load before the pool gives up on workers. Default 30,000. */
  startTimeoutMs?: number;
}

/** One worker of a pool. */
export class PoolWorker {
  /** The Web Worker. */
  readonly worker: Worker;
  /** Called when the pool terminates this worker while it is leased. */
  onLost?: (reason: unknown) => void;
  /** Slices this worker decoded. */
  slices = 0;

  /** Wraps a started worker. */
  constructor(worker: Worker) {
    this.worker = worker;
  }
}

let warnedUnavailable = false;

/**
 * A worker was lost in the middle of an object (it crashed, or the pool was closed): not a fault
 * of the object, whose remaining rows are then decoded on the calling thread.
 */
export class WorkerLost extends Error {
  override name = "WorkerLost";
}

/**
 * A bounded set of decode workers shared by every object of a run: {@link acquire} lends up to
 * the number asked (at least one, waiting in turn when all are lent), starting workers lazily;
 * {@link release} takes a worker back after a clean session; {@link discard} terminates one.
 * {@link close} terminates them all.
 */
export class DecodePool {
  /** Most workers alive at once. */
  readonly threads: number;
  /** Bytes of lines a worker may decode ahead of the consumer. */
  readonly aheadBytes: number;
  /** Bytes of row groups read ahead of the workers. */
  readonly readAheadBytes: number;
  readonly #url: string;
  readonly #startTimeoutMs: number;
  readonly #idle: PoolWorker[] = [];
  readonly #leased = new Set<PoolWorker>();
  readonly #waiters: (() => void)[] = [];
  #alive = 0;
  #closed = false;
  #unavailable?: string;
  /** Workers started so far. */
  started = 0;
  /** Slices and bytes of lines received from the workers so far. */
  readonly received = { slices: 0, bytes: 0 };

  /** A pool of at most `options.threads` workers; none is started until needed. */
  constructor(options: DecodePoolOptions) {
    if (!(Number.isInteger(options.threads) && options.threads >= 1)) {
      throw new RangeError(`threads must be a positive integer: got ${options.threads}`);
    }
    const ahead = options.aheadBytes ?? DEFAULT_AHEAD_BYTES;
    if (!(Number.isInteger(ahead) && ahead >= 1)) {
      throw new RangeError(`aheadBytes must be a positive integer: got ${ahead}`);
    }
    this.threads = options.threads;
    this.aheadBytes = ahead;
    this.readAheadBytes = options.readAheadBytes ?? DEFAULT_READ_AHEAD_BYTES;
    this.#url = String(options.workerUrl ?? new URL("./lines_worker.ts", import.meta.url).href);
    this.#startTimeoutMs = options.startTimeoutMs ?? 30_000;
  }

  /** Whether workers can be lent (not closed, and the worker module could start). */
  get available(): boolean {
    return !this.#closed && this.#unavailable === undefined;
  }

  /** Workers alive (idle or lent). */
  get alive(): number {
    return this.#alive;
  }

  /** Objects waiting for a worker. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Lends up to `want` workers, at least one: idle ones first, then new ones while fewer than
   * `threads` are alive; when every worker is lent, waits in turn for one. Returns none when the
   * pool is closed or workers cannot start (decode on the calling thread then).
   */
  async acquire(want: number, signal?: AbortSignal): Promise<PoolWorker[]> {
    want = Math.max(1, Math.min(want, this.threads));
    if (this.#waiters.length > 0) await this.#wait(signal);
    for (;;) {
      signal?.throwIfAborted();
      if (!this.available) {
        this.#wake();
        return [];
      }
      const take = this.#idle.splice(0, want);
      const spawn = Math.min(want - take.length, this.threads - this.#alive);
      if (take.length + spawn > 0) {
        for (const w of take) this.#leased.add(w);
        this.#alive += spawn;
        const started: PoolWorker[] = [];
        const start = (n: number) =>
          this.#start(n, (w) => {
            this.#leased.add(w);
            started.push(w);
          });
        // The very first worker starts alone: a module that cannot load fails once, not N times.
        const first = this.started === 0 && spawn > 1 ? 1 : spawn;
        await start(first);
        if (spawn > first) {
          if (this.available) await start(spawn - first);
          else this.#alive -= spawn - first;
        }
        const lent = [...take, ...started].filter((w) => this.#leased.has(w));
        if (signal?.aborted) {
          for (const w of lent) this.release(w);
          signal.throwIfAborted();
        }
        if (lent.length > 0 || !this.available) {
          if (this.#waiters.length > 0 && this.#idle.length > 0) this.#wake();
          return lent;
        }
        continue;
      }
      await this.#wait(signal);
    }
  }

  /**
   * Starts the workers not alive yet now, rather than when objects first need them, so that the
   * first object does not wait for workers to load. Never rejects: a worker that cannot start
   * makes the pool unavailable (objects then decode on their own thread), as in {@link acquire}.
   */
  async prestart(): Promise<void> {
    const n = this.threads - this.#alive;
    if (n <= 0 || !this.available) return;
    this.#alive += n;
    await this.#start(n, (w) => {
      this.#idle.push(w);
      this.#wake();
    });
  }

  /**
   * Spawns `n` workers already counted in `#alive` and hands each one that started to `use`; one
   * that failed makes the pool unavailable, and one that started after {@link close} is stopped.
   */
  async #start(n: number, use: (w: PoolWorker) => void): Promise<void> {
    const results = await Promise.allSettled(Array.from({ length: n }, () => this.#spawn()));
    for (const r of results) {
      if (r.status === "rejected") {
        this.#alive--;
        this.#markUnavailable(r.reason);
      } else if (this.#closed) {
        r.value.worker.terminate();
        this.#alive--;
      } else use(r.value);
    }
  }

  /** Takes back a worker whose session ended cleanly (it waits for the next one). */
  release(w: PoolWorker): void {
    if (!this.#leased.delete(w)) return;
    w.onLost = undefined;
    w.worker.onmessage = null;
    if (this.#closed) {
      w.worker.terminate();
      this.#alive--;
      return;
    }
    this.#idle.push(w);
    this.#wake();
  }

  /** Terminates a lent worker (its session was cut short); a new one starts when needed. */
  discard(w: PoolWorker): void {
    if (!this.#leased.delete(w)) return;
    w.onLost = undefined;
    w.worker.onmessage = null;
    w.worker.terminate();
    this.#alive--;
    this.#wake();
  }

  /** Terminates every worker; sessions in progress fail, later acquires get none. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#idle.splice(0)) {
      w.worker.terminate();
      this.#alive--;
    }
    for (const w of [...this.#leased]) {
      this.#leased.delete(w);
      w.worker.terminate();
      this.#alive--;
      w.onLost?.(new WorkerLost("The decode pool was closed"));
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #wait(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(wake);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(wake);
    });
  }

  #wake(): void {
    this.#waiters.shift()?.();
  }

  #markUnavailable(reason: unknown): void {
    if (this.#unavailable !== undefined) return;
    this.#unavailable = (reason instanceof Error ? reason.message : String(reason))
      .replace(/\.$/, "");
    // Objects waiting for a worker decode on their own thread instead.
    for (const wake of this.#waiters.splice(0)) wake();
    if (!warnedUnavailable) {
      warnedUnavailable = true;
      logger("parquet").warn(
        "Decode workers cannot start ({error}); Parquet objects are decoded on the main thread",
        { error: this.#unavailable },
      );
    }
  }

  #spawn(): Promise<PoolWorker> {
    return new Promise<PoolWorker>((resolve, reject) => {
      let worker: Worker;
      try {
        worker = new Worker(this.#url, { type: "module", name: "seclake-decode" });
      } catch (e) {
        reject(e);
        return;
      }
      const timer = setTimeout(() => {
        worker.terminate();
        reject(new Error(`the worker did not start within ${this.#startTimeoutMs} ms`));
      }, this.#startTimeoutMs);
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        if (e.data?.type !== "ready") return;
        clearTimeout(timer);
        worker.onmessage = null;
        this.started++;
        const pw = new PoolWorker(worker);
        // An error the session did not catch: the worker is of no further use.
        worker.onerror = (ev: ErrorEvent) => {
          ev.preventDefault();
          const lost = pw.onLost;
          const i = this.#idle.indexOf(pw);
          if (i >= 0) {
            this.#idle.splice(i, 1);
            worker.terminate();
            this.#alive--;
          } else if (this.#leased.has(pw)) {
            this.discard(pw);
            lost?.(new WorkerLost(`Decode worker failed: ${ev.message}`));
          }
        };
        resolve(pw);
      };
      worker.onerror = (ev: ErrorEvent) => {
        ev.preventDefault();
        clearTimeout(timer);
        worker.terminate();
        reject(new Error(ev.message || "the worker module failed to load"));
      };
    });
  }
}

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
let sessions = 0;

/**
 * The object's AsyncBuffer, remembering what the metadata read returned so that each worker's
 * own metadata read is served from memory instead of S3.
 */
/** Bytes {@link FooterCache} kept copies of, in this thread (tests). */
export const footerCacheKept = { bytes: 0 };

class FooterCache implements AsyncBuffer {
  readonly byteLength: number;
  readonly #file: AsyncBuffer;
  readonly #kept: { start: number; end: number; bytes: ArrayBuffer }[] = [];
  #recording = true;

  constructor(file: AsyncBuffer) {
    this.#file = file;
    this.byteLength = file.byteLength;
  }

  /** Stops remembering reads (after the metadata). */
  stopRecording(): void {
    this.#recording = false;
  }

  /** A read of `start..end`; the result is the caller's (it may be transferred). */
  async slice(start: number, end: number = this.byteLength): Promise<ArrayBuffer> {
    for (const k of this.#kept) {
      if (start >= k.start && end <= k.end) return k.bytes.slice(start - k.start, end - k.start);
    }
    const bytes = await this.#file.slice(start, end);
    if (this.#recording) {
      this.#kept.push({ start, end: start + bytes.byteLength, bytes: bytes.slice(0) });
      footerCacheKept.bytes += bytes.byteLength;
    }
    return bytes;
  }
}

/**
 * Reads ahead of the workers: when a worker asks for a row group's bytes, the row groups after
 * it are requested too, up to `aheadBytes` of them held (adjacent ones in one request), so a
 * worker's next row group is usually here when it gets to it, and small row groups cost fewer
 * requests.
 * A row group read in parts is asked for by each worker that walks it: it is kept for all of
 * them (a copy each, the last one takes it). A read that failed fails the worker that asks for
 * it, with the very error; one nobody asks for is dropped.
 */
class Prefetcher {
  readonly #file: AsyncBuffer;
  /** The row groups' byte ranges, in reading order, and how many workers read each. */
  readonly #spans: { start: number; end: number; readers: number }[];
  readonly #aheadBytes: number;
  readonly #held = new Map<number, { span: number; left: number; bytes: Promise<ArrayBuffer> }>();
  /** Reads made ahead, until they settle. */
  readonly pending = new Set<Promise<unknown>>();
  #heldBytes = 0;
  /** Spans before this one were requested (by a worker or ahead of one). */
  #next = 0;

  constructor(
    file: AsyncBuffer,
    spans: { start: number; end: number; readers: number }[],
    aheadBytes: number,
  ) {
    this.#file = file;
    this.#spans = spans;
    this.#aheadBytes = aheadBytes;
  }

  slice(start: number, end: number): Promise<ArrayBuffer> {
    const held = this.#held.get(start);
    let read: Promise<ArrayBuffer>;
    if (held && this.#spans[held.span]!.end === end) {
      if (--held.left === 0) {
        this.#held.delete(start);
        this.#heldBytes -= end - start;
        read = held.bytes;
      } else read = held.bytes.then((b) => b.slice(0));
      this.#ahead(held.span + 1);
      return read;
    }
    read = this.#read(start, end);
    const span = this.#spans.findIndex((s) => s.start === start && s.end === end);
    if (span >= 0) {
      const readers = this.#spans[span]!.readers;
      if (readers > 1 && span >= this.#next) {
        // The other workers walking this row group get it from here.
        this.#hold(span, readers - 1, read.then((b) => b.slice(0)));
      }
      this.#next = Math.max(this.#next, span + 1);
      this.#ahead(span + 1);
    }
    return read;
  }

  /**
   * Requests the spans from `from` on that fit in what may be held; adjacent ones in one
   * request, each then held as its own copy.
   */
  #ahead(from: number): void {
    // Refilled once three quarters are used, so that reads stay large (fewer requests: each
    // costs S3 a request and moto a copy of the whole object); a quarter is still held.
    if (this.#heldBytes > this.#aheadBytes / 4) return;
    let i = Math.max(from, this.#next);
    const first = i;
    let bytes = this.#heldBytes;
    while (i < this.#spans.length) {
      const s = this.#spans[i]!;
      if (bytes + (s.end - s.start) > this.#aheadBytes && bytes > 0) break;
      if (i > first && s.start !== this.#spans[i - 1]!.end) break;
      bytes += s.end - s.start;
      i++;
    }
    if (i === first) return;
    this.#next = i;
    const start = this.#spans[first]!.start;
    const block = this.#read(start, this.#spans[i - 1]!.end);
    if (i - first === 1) {
      this.#hold(first, this.#spans[first]!.readers, block);
      return;
    }
    // Each row group its own copy; the block is then freed at once (detached) rather than at
    // this thread's next full GC.
    const parts = block.then((b) => {
      const out = this.#spans.slice(first, i).map((s) => b.slice(s.start - start, s.end - start));
      try {
        if (!b.detached) b.transfer(0);
      } catch {
        // Not detachable (shared or wasm memory): left to the garbage collector.
      }
      return out;
    });
    for (let k = first; k < i; k++) {
      this.#hold(k, this.#spans[k]!.readers, parts.then((p) => p[k - first]!));
    }
  }

  #hold(span: number, left: number, bytes: Promise<ArrayBuffer>): void {
    const s = this.#spans[span]!;
    const settled = bytes.catch(() => {}); // surfaces when a worker asks for it
    this.pending.add(settled);
    settled.finally(() => this.pending.delete(settled));
    this.#held.set(s.start, { span, left, bytes });
    this.#heldBytes += s.end - s.start;
  }

  #read(start: number, end: number): Promise<ArrayBuffer> {
    return new Promise((resolve) => resolve(this.#file.slice(start, end)));
  }

  /** Drops what nobody asked for. */
  clear(): void {
    this.#held.clear();
    this.#heldBytes = 0;
  }
}

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
  const cache = new FooterCache(file);
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
  const session = ++sessions;
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
    logger("parquet").warn(
      "{error}; the rest of {object} is decoded on this thread, from row {row}",
      { error: lost.message, object: name, row: handedTo },
    );
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
