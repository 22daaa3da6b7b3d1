/**
 * A syslog stream output that confirms what it delivered. A syslog stream has no
 * acknowledgements, and TLS 1.3 can accept writes that the peer later throws away, so a batch
 * counts as delivered only when the peer proves it read it: after the batch is written we close
 * our sending side and wait for the peer's end-of-stream; then a new connection starts the next
 * batch. A batch that is not confirmed is sent again on a new connection.
 *
 * A receiver that keeps cutting connections before confirming (a relay or load balancer with a
 * per-connection limit) would fail a large batch forever, so after a cut the batch is resent in
 * pieces of half the size that was cut, on one connection each, and later batches stay that
 * small until a run of clean sends lets them grow back.
 *
 * A TLS receiver that ends its confirmed connections with a close_notify alert proves it read
 * everything only with one: an end without it means it cut the connection, dropping what it had
 * not read yet, and the batch is sent again. Whether a receiver sends close_notify at all
 * (rsyslog does not) is learned from an empty probe connection the first time it matters.
 *
 * Every connection gives the peer some time to reject our certificate before it is confirmed (see
 * `watched_conn.ts`). While batches follow each other because they are full, the connection of
 * the next batch is opened as the current one starts (a spare), so that time passes while the
 * current batch is written rather than after the next one: the output is no longer bound to two
 * batches per settle time. The spare carries nothing until its batch starts; one found ended by
 * then, or older than `spareMaxAgeMs`, is closed and replaced, and an idle output (a flush) or an
 * aborted one closes it.
 *
 * The holders of a batch's receipts can ask the output to wait, once the batch is confirmed, for
 * what they do with the confirmation (checkpoints) before the next batch starts: a crash then
 * repeats at most the one batch in flight. With `batchesInFlight: 2` the next batch is written,
 * on its own connection, while the one before is confirmed, so the writer does not wait for each
 * confirmation; a crash then repeats at most those two batches.
 *
 * Duplicates: a line can arrive once per connection that carried it, since a connection the
 * receiver read and then lost before confirming cannot be told from one it never read. An outage
 * (the receiver stops, and refuses connections until it is back) cuts the connections of the
 * batches in flight, each line on at most one of them; once one of those batches failed for good,
 * the batch written after it is not sent again for a writer that refuses more writes (`admit`):
 * that writer sends its rows again from its checkpoint. So an outage repeats at most the batches
 * in flight (1 or 2, with either setting no line more than twice), while a receiver that reads
 * and then cuts connection after connection adds a copy for each such connection, whatever the
 * batches in flight.
 * @module
 */
import { CollectorError } from "../errors.ts";
import { classifyConnError } from "./connectors.ts";
import type { Connector } from "./connectors.ts";
import { WatchedConn } from "./watched_conn.ts";
import type { Confirmation } from "./watched_conn.ts";
import { logEvent } from "../telemetry/events.ts";
import { emptyOutputStats } from "./output_stats.ts";
import type { OutputStats, Receipt, WriteOptions } from "./output_stats.ts";

export { emptyOutputStats } from "./output_stats.ts";
export type { OutputStats, Receipt, WriteOptions } from "./output_stats.ts";

/** Options for {@link ConfirmedStreamOutput}. */
export interface ConfirmedStreamOptions {
  /** Output name, for logs. */
  name: string;
  /** Bytes per batch before it is confirmed. Default 8 MiB. */
  maxBatchBytes?: number;
  /** Longest time a batch stays open. Default 2000 ms. */
  commitIntervalMs?: number;
  /** Confirm once no write came for this long. Default 100 ms. */
  lingerMs?: number;
  /**
   * Time allowed for the peer's end-of-stream, and for any single write to make progress.
   * Default 30 s.
   */
  confirmTimeoutMs?: number;
  /** Attempts in a row that may fail before a batch's events are failed. Default 5. */
  retries?: number;
  /** First retry delay; doubles each attempt, with jitter, up to 30 s. Default 500 ms. */
  retryBaseMs?: number;
  /**
   * Batches sent before the oldest is confirmed: 1 (each batch confirmed before the next
   * starts) or 2 (the next batch is written on its own connection while the previous one is
   * confirmed). A crash, or an outage of the receiver, can then repeat up to this many batches
   * (each line at most once more); a receiver that reads and then cuts several connections in a
   * row can repeat a line once per such connection either way. Default 1.
   */
  batchesInFlight?: 1 | 2;
  /**
   * Oldest a connection opened ahead for the next batch may be when the batch starts; an older
   * one is closed and a new one opened, so a receiver that drops idle connections rarely drops
   * one just as it is written to (that would count as a cut). Default 1000 ms.
   */
  spareMaxAgeMs?: number;
}

/** Smallest piece a cut batch is split into (a longer single line is sent whole). */
const MIN_PIECE_BYTES = 4 * 1024;
/** Clean sends after which a per-connection limit learned from cuts doubles. */
const GROW_AFTER = 16;

interface Batch {
  chunks: Uint8Array[];
  bytes: number;
  events: number;
  conn?: WatchedConn;
  broken: boolean;
  openedAt: number;
  /** Promises the next batch waits for once this one is confirmed. */
  holds: Promise<unknown>[];
  /** The `admit` of each write in the batch, asked again before the batch is sent again. */
  admits: (() => boolean)[];
  resolve: () => void;
  reject: (e: unknown) => void;
  confirmed: Promise<void>;
}

/** A confirmed-delivery output over a {@link Connector} (Devo mutual TLS or a TCP relay). */
export class ConfirmedStreamOutput {
  readonly name: string;
  readonly stats: OutputStats = emptyOutputStats();
  #connector: Connector;
  #maxBatchBytes: number;
  #intervalMs: number;
  #lingerMs: number;
  #confirmTimeoutMs: number;
  #retries: number;
  #retryBaseMs: number;
  #batch: Batch = newBatch();
  /** The batch being confirmed, if any. */
  #committing?: Batch;
  /** With two batches in flight: the confirmation of the batch before the current one. */
  #inflight?: Promise<void>;
  #batchesInFlight: 1 | 2;
  #spareMaxAgeMs: number;
  /** Bytes sent per connection, lowered when the receiver cuts connections. */
  #limit = Infinity;
  #cleanSends = 0;
  /** Whether the TLS receiver ends confirmed connections with close_notify; unknown at first. */
  #closeNotify?: boolean;
  /** The empty connection asking the receiver how it ends, while one is open. */
  #probe?: WatchedConn;
  /** The connection opened ahead for the next batch, while batches are full (see above). */
  #spare?: Promise<WatchedConn | undefined>;
  /** The closing of the last spare dropped (it may still have been connecting). */
  #dropping?: Promise<void>;
  /** The last batch ended because it was full: the next batch gets a spare opened ahead. */
  #loaded = false;
  #queue: Promise<unknown> = Promise.resolve();
  #linger?: ReturnType<typeof setTimeout>;
  #interval?: ReturnType<typeof setTimeout>;
  #closed = false;
  #abort = new AbortController();

  /** Creates the output; nothing connects until the first write. */
  constructor(connector: Connector, options: ConfirmedStreamOptions) {
    this.name = options.name;
    this.#connector = connector;
    this.#maxBatchBytes = options.maxBatchBytes ?? 8 * 1024 * 1024;
    this.#intervalMs = options.commitIntervalMs ?? 2000;
    this.#lingerMs = options.lingerMs ?? 100;
    this.#confirmTimeoutMs = options.confirmTimeoutMs ?? 30_000;
    this.#retries = options.retries ?? 5;
    this.#retryBaseMs = options.retryBaseMs ?? 500;
    this.#batchesInFlight = options.batchesInFlight ?? 1;
    this.#spareMaxAgeMs = options.spareMaxAgeMs ?? 1000;
  }

  /** Adds `chunk` (whole lines, `events` of them) to the current batch and sends it. */
  write(chunk: Uint8Array, events: number, options: WriteOptions = {}): Promise<Receipt> {
    if (this.#closed) {
      return Promise.reject(new CollectorError("OUTPUT_WRITE", `Output ${this.name} is closed`));
    }
    return this.#serial(async () => {
      // A write in progress is not idleness: no linger flush while it waits for a confirmation.
      clearTimeout(this.#linger);
      const max = Math.min(this.#maxBatchBytes, this.#limit);
      if (this.#batch.bytes > 0 && this.#batch.bytes + chunk.length > max) {
        this.#loaded = true;
        if (this.#batchesInFlight === 1) await this.#commit();
        else await this.#rotate();
      }
      // Asked now: the batch just committed may have failed the writer's earlier rows.
      if (options.admit && !options.admit()) {
        throw new CollectorError("OUTPUT_WRITE", `Output ${this.name} refused a write`, {
          context: { output: this.name },
        });
      }
      const b = this.#batch;
      if (b.bytes === 0) b.openedAt = Date.now();
      b.chunks.push(chunk);
      b.bytes += chunk.length;
      this.stats.pendingBytes += chunk.length;
      b.events += events;
      if (options.settled) b.holds.push(options.settled);
      if (options.admit) b.admits.push(options.admit);
      if (!b.broken && b.bytes > this.#limit) {
        // Larger than the receiver takes on one connection: sent in pieces at commit time.
        b.conn?.close();
        b.conn = undefined;
        b.broken = true;
      }
      if (!b.broken) {
        let opened = b.conn !== undefined;
        try {
          if (b.conn === undefined) {
            b.conn = await this.#takeSpare() ?? await this.#open();
            // Ahead for the next batch, while batches are full and none is being cut.
            if (this.#loaded && this.#limit === Infinity) this.#openSpare();
          }
          opened = true;
          await b.conn.write(chunk, this.#confirmTimeoutMs);
        } catch (e) {
          // Sent again at commit time, on a new connection (in pieces, if this one was cut).
          const fields = { error: e instanceof Error ? e.message : String(e), output: this.name };
          logEvent(opened ? "batch_resend" : "batch_resend_before_connect", fields);
          b.conn?.close();
          b.conn = undefined;
          b.broken = true;
          if (opened && !this.#abort.signal.aborted) this.#cut(b.bytes);
        }
      }
      this.#schedule();
      return { confirmed: b.confirmed };
    });
  }

  /** Confirms the current batch (and the one before it, if still in flight) now. */
  flush(): Promise<void> {
    return this.#serial(async () => {
      this.#loaded = false;
      this.#dropSpare();
      await this.#inflight;
      await this.#commit();
    });
  }

  /** Confirms what is pending, then refuses further writes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.flush();
    clearTimeout(this.#linger);
    clearTimeout(this.#interval);
    // A spare still connecting when it was dropped is closed once connected: wait for that.
    await this.#dropping;
  }

  /**
   * Stops at once: open connections are closed, retries end, and events not confirmed yet are
   * failed (they are sent again on the next run).
   */
  abort(): void {
    this.#abort.abort(new CollectorError("OUTPUT_WRITE", `Output ${this.name} stopped`));
    clearTimeout(this.#linger);
    clearTimeout(this.#interval);
    this.#committing?.conn?.close();
    this.#batch.conn?.close();
    this.#probe?.close();
    this.#dropSpare();
  }

  #openSpare() {
    if (this.#spare || this.#closed || this.#abort.signal.aborted) return;
    // A spare that fails is dropped: the next batch opens its own connection, and reports.
    this.#spare = this.#open().catch(() => undefined);
  }

  /** The spare, unless there is none, its peer already ended it, or it waited too long. */
  async #takeSpare(): Promise<WatchedConn | undefined> {
    const spare = await this.#spare;
    this.#spare = undefined;
    if (spare && (spare.peerEnded || spare.ageMs > this.#spareMaxAgeMs)) {
      spare.close();
      return undefined;
    }
    return spare;
  }

  #dropSpare() {
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare) this.#dropping = spare.then((c) => c?.close());
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn);
    this.#queue = p.catch(() => {});
    return p;
  }

  #schedule() {
    clearTimeout(this.#linger);
    this.#linger = setTimeout(() => this.flush().catch(() => {}), this.#lingerMs);
    if (this.#interval === undefined) {
      const wait = Math.max(0, this.#batch.openedAt + this.#intervalMs - Date.now());
      this.#interval = setTimeout(() => {
        this.#interval = undefined;
        this.flush().catch(() => {});
      }, wait);
    }
  }

  /**
   * Two batches in flight: waits until the batch before is confirmed (and its holders settled),
   * then starts confirming the current one without waiting, and opens the next.
   */
  async #rotate(): Promise<void> {
    await this.#inflight;
    const b = this.#take();
    if (!b) return;
    const p: Promise<void> = this.#confirm(b).finally(() => {
      if (this.#inflight === p) this.#inflight = undefined;
    });
    this.#inflight = p;
  }

  /** Confirms the current batch. */
  async #commit(): Promise<void> {
    const b = this.#take();
    if (b) await this.#confirm(b);
  }

  /** The current batch, replaced by a new one; undefined when it is empty. */
  #take(): Batch | undefined {
    clearTimeout(this.#linger);
    clearTimeout(this.#interval);
    this.#interval = undefined;
    const b = this.#batch;
    if (b.bytes === 0) return undefined;
    this.#batch = newBatch();
    return b;
  }

  /** Delivers `b` and settles its receipts; never throws. */
  async #confirm(b: Batch): Promise<void> {
    this.#committing = b;
    try {
      await this.#deliver(b);
    } catch (e) {
      this.stats.batchesFailed++;
      this.stats.pendingBytes -= b.bytes;
      b.reject(e);
      return;
    } finally {
      b.conn?.close();
      b.conn = undefined;
      this.#committing = undefined;
    }
    this.stats.eventsSent += b.events;
    this.stats.bytesSent += b.bytes;
    this.stats.batchesConfirmed++;
    this.stats.failing = false;
    this.stats.pendingBytes -= b.bytes;
    logEvent("connection_confirmed", {
      events: b.events,
      bytes: b.bytes,
      target: this.#connector.target,
    });
    b.resolve();
    if (b.holds.length > 0) await this.#settle(b.holds);
  }

  /** Delivers `b`, in pieces after cuts; throws the last error once `retries` attempts failed. */
  async #deliver(b: Batch): Promise<void> {
    let data: Uint8Array | undefined;
    let offset = 0; // bytes of the batch confirmed
    let failures = 0;
    let lastError: unknown;
    while (true) {
      if (this.#abort.signal.aborted) throw lastError ?? this.#abort.signal.reason;
      // Written as it came, on a connection that is still open: only its confirmation is left.
      const written = offset === 0 && !b.broken ? b.conn : undefined;
      if (!written && b.admits.some((admit) => !admit())) throw this.#refused(b, lastError);
      let size = 0; // bytes on the connection, once it opened
      try {
        if (written) {
          size = b.bytes;
          await this.#accept(await written.confirm(this.#confirmTimeoutMs));
          this.#sent();
          return;
        }
        b.conn?.close();
        b.conn = undefined;
        data ??= concat(b.chunks);
        const end = pieceEnd(data, offset, this.#limit);
        b.conn = await this.#open();
        size = end - offset;
        await b.conn.write(data.subarray(offset, end), this.#confirmTimeoutMs);
        await this.#accept(await b.conn.confirm(this.#confirmTimeoutMs));
        b.conn.close();
        b.conn = undefined;
        this.#sent();
        offset = end;
        failures = 0;
        if (offset >= data.length) return;
      } catch (e) {
        lastError = classifyConnError(e, this.#connector.target, size > 0 ? "confirm" : "connect");
        b.conn?.close();
        b.conn = undefined;
        b.broken = true;
        failures++;
        this.stats.retries++;
        this.stats.failing = true;
        if (size > 0 && !this.#abort.signal.aborted) this.#cut(size);
        // The last attempt is no retry: its error fails the batch and is reported with it.
        if (failures >= this.#retries) throw lastError;
        logEvent("output_retry", {
          error: (lastError as Error).message,
          attempt: failures,
          retries: this.#retries,
          output: this.name,
        });
        await this.#sleep(backoff(this.#retryBaseMs, failures));
      }
    }
  }

  /**
   * The error that fails `b` without sending it again, because one of its writers refuses more
   * writes: a batch of that writer before `b` failed (with two batches in flight `b` was written
   * while that batch was confirmed), and the writer sends its rows again from its checkpoint, so
   * sending `b` again would only add a copy.
   */
  #refused(b: Batch, lastError: unknown): CollectorError {
    const error = new CollectorError(
      "OUTPUT_WRITE",
      `Output ${this.name} did not send a batch of ${b.events} events again: an earlier batch of its writer failed`,
      { cause: lastError, context: { output: this.name, target: this.#connector.target } },
    );
    logEvent("batch_not_resent", { error: error.message, output: this.name });
    return error;
  }

  /**
   * Accepts a confirmation, or throws when its end proves nothing: a TLS end without close_notify
   * from a receiver that sends close_notify when it read everything.
   */
  async #accept(c: Confirmation): Promise<void> {
    if (c.closeNotify) {
      if (this.#connector.tls) this.#closeNotify = true;
      return;
    }
    if (this.#closeNotify === false) return;
    // Unknown, or the receiver changed: ask it with a connection that carries nothing.
    const probe = this.#probe = await this.#open();
    try {
      this.#closeNotify = (await probe.confirm(this.#confirmTimeoutMs)).closeNotify;
    } finally {
      probe.close();
      this.#probe = undefined;
    }
    logEvent("receiver_close_notify", {
      target: this.#connector.target,
      how: this.#closeNotify ? "with a TLS close_notify" : "without a TLS close_notify",
    });
    if (!this.#closeNotify) return;
    throw new CollectorError(
      "OUTPUT_WRITE",
      `${this.#connector.target} ended the connection without the TLS close_notify it sends when it read everything: it cut the connection`,
      { context: { target: this.#connector.target } },
    );
  }

  /** A connection was confirmed: after enough of them, a lowered limit doubles. */
  #sent() {
    if (this.#limit === Infinity) return;
    if (++this.#cleanSends < GROW_AFTER) return;
    this.#cleanSends = 0;
    this.#limit *= 2;
    if (this.#limit >= this.#maxBatchBytes) this.#limit = Infinity;
  }

  /** A connection carrying `size` bytes ended before it was confirmed: send less at once. */
  #cut(size: number) {
    this.#cleanSends = 0;
    const limit = Math.max(MIN_PIECE_BYTES, Math.floor(Math.min(this.#limit, size) / 2));
    if (limit >= this.#limit) return;
    this.#limit = limit;
    logEvent("batch_limit_lowered", {
      output: this.name,
      target: this.#connector.target,
      bytes: limit,
    });
  }

  /** Waits for a confirmed batch's holders, at most the confirmation timeout. */
  async #settle(holds: Promise<unknown>[]): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const signal = this.#abort.signal;
    let onAbort: (() => void) | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#confirmTimeoutMs);
      onAbort = resolve;
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([Promise.allSettled(holds), limit]);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort!);
    }
  }

  async #open(): Promise<WatchedConn> {
    const t0 = Date.now();
    const conn = await this.#connector.connect(this.#abort.signal);
    return new WatchedConn(conn, {
      target: this.#connector.target,
      tls: this.#connector.tls,
      setupMs: Date.now() - t0,
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const signal = this.#abort.signal;
      function done() {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** End of the next piece from `offset`: at most `limit` bytes, cut after a newline. */
function pieceEnd(data: Uint8Array, offset: number, limit: number): number {
  if (data.length - offset <= limit) return data.length;
  const last = data.lastIndexOf(0x0a, offset + limit - 1);
  if (last >= offset) return last + 1;
  const next = data.indexOf(0x0a, offset + limit);
  return next < 0 ? data.length : next + 1;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const confirmed = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  confirmed.catch(() => {}); // observed by whoever holds a receipt
  return {
    chunks: [],
    bytes: 0,
    events: 0,
    broken: false,
    openedAt: 0,
    holds: [],
    admits: [],
    resolve,
    reject,
    confirmed,
  };
}

/** Exponential backoff with full jitter, capped at 30 s. */
export function backoff(baseMs: number, attempt: number): number {
  const cap = Math.min(30_000, baseMs * 2 ** (attempt - 1));
  return cap / 2 + Math.random() * cap / 2;
}
