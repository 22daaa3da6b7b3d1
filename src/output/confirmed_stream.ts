/**
 * A syslog stream output that confirms what it delivered. A syslog stream has no
 * acknowledgements, and TLS 1.3 can accept writes that the peer later throws away, so a batch
 * counts as delivered only when the peer proves it read it: after the batch is written we close
 * our sending side and wait for the peer's end-of-stream; then a new connection starts the next
 * batch. A batch that is not confirmed is sent again, whole, on a new connection.
 * @module
 */
import { CollectorError } from "../errors.ts";
import { logger } from "../telemetry/log.ts";
import { classifyConnError } from "./connectors.ts";
import type { Connector } from "./connectors.ts";
import { WatchedConn } from "./watched_conn.ts";

/** Resolves when the events written are confirmed; rejects when delivery failed for good. */
export interface Receipt {
  readonly confirmed: Promise<void>;
}

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
  /** Time allowed for the peer's end-of-stream. Default 30 s. */
  confirmTimeoutMs?: number;
  /** Attempts per batch before its events are failed. Default 5. */
  retries?: number;
  /** First retry delay; doubles each attempt, with jitter, up to 30 s. Default 500 ms. */
  retryBaseMs?: number;
}

interface Batch {
  chunks: Uint8Array[];
  bytes: number;
  events: number;
  conn?: WatchedConn;
  broken: boolean;
  openedAt: number;
  resolve: () => void;
  reject: (e: unknown) => void;
  confirmed: Promise<void>;
}

/** Counters of one output. */
export interface OutputStats {
  eventsSent: number;
  bytesSent: number;
  batchesConfirmed: number;
  batchesFailed: number;
  retries: number;
  /** The last attempt to deliver failed (the receiver is down or refusing us). */
  failing: boolean;
  /** Bytes written and not yet confirmed. */
  pendingBytes: number;
}

/** A confirmed-delivery output over a {@link Connector} (Devo mutual TLS or a TCP relay). */
export class ConfirmedStreamOutput {
  readonly name: string;
  readonly stats: OutputStats = {
    eventsSent: 0,
    bytesSent: 0,
    batchesConfirmed: 0,
    batchesFailed: 0,
    retries: 0,
    failing: false,
    pendingBytes: 0,
  };
  #connector: Connector;
  #maxBatchBytes: number;
  #intervalMs: number;
  #lingerMs: number;
  #confirmTimeoutMs: number;
  #retries: number;
  #retryBaseMs: number;
  #batch: Batch = newBatch();
  #queue: Promise<unknown> = Promise.resolve();
  #linger?: ReturnType<typeof setTimeout>;
  #interval?: ReturnType<typeof setTimeout>;
  #closed = false;
  #abort = new AbortController();
  #log = logger("output");

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
  }

  /** Adds `chunk` (whole lines, `events` of them) to the current batch and sends it. */
  write(chunk: Uint8Array, events: number): Promise<Receipt> {
    if (this.#closed) {
      return Promise.reject(new CollectorError("OUTPUT_WRITE", `Output ${this.name} is closed`));
    }
    return this.#serial(async () => {
      if (this.#batch.bytes > 0 && this.#batch.bytes + chunk.length > this.#maxBatchBytes) {
        await this.#commit();
      }
      const b = this.#batch;
      if (b.bytes === 0) b.openedAt = Date.now();
      b.chunks.push(chunk);
      b.bytes += chunk.length;
      this.stats.pendingBytes += chunk.length;
      b.events += events;
      if (!b.broken) {
        try {
          b.conn ??= await this.#open();
          await b.conn.write(chunk);
        } catch (e) {
          // Sent again at commit time, on a new connection.
          this.#log.debug("Write to {target} failed; batch will be resent: {error}", {
            target: this.#connector.target,
            error: String(e),
          });
          b.conn?.close();
          b.conn = undefined;
          b.broken = true;
        }
      }
      this.#schedule();
      return { confirmed: b.confirmed };
    });
  }

  /** Confirms the current batch now. */
  flush(): Promise<void> {
    return this.#serial(() => this.#commit());
  }

  /** Confirms what is pending, then refuses further writes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.flush();
    clearTimeout(this.#linger);
    clearTimeout(this.#interval);
  }

  /** Stops retrying at once; pending events are failed (they are sent again on the next run). */
  abort(): void {
    this.#abort.abort(new CollectorError("OUTPUT_WRITE", `Output ${this.name} stopped`));
    clearTimeout(this.#linger);
    clearTimeout(this.#interval);
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

  async #commit(): Promise<void> {
    clearTimeout(this.#linger);
    clearTimeout(this.#interval);
    this.#interval = undefined;
    const b = this.#batch;
    if (b.bytes === 0) return;
    this.#batch = newBatch();
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.#retries; attempt++) {
      if (this.#abort.signal.aborted) break;
      try {
        if (b.broken || !b.conn) {
          b.conn?.close();
          b.conn = await this.#open();
          b.broken = false;
          for (const c of b.chunks) await b.conn.write(c);
        }
        await b.conn.confirm(this.#confirmTimeoutMs);
        b.conn.close();
        this.stats.eventsSent += b.events;
        this.stats.bytesSent += b.bytes;
        this.stats.batchesConfirmed++;
        this.stats.failing = false;
        this.stats.pendingBytes -= b.bytes;
        this.#log.debug("Confirmed {events} events ({bytes} bytes) on {target}", {
          events: b.events,
          bytes: b.bytes,
          target: this.#connector.target,
        });
        b.resolve();
        return;
      } catch (e) {
        lastError = classifyConnError(e, this.#connector.target, "confirm");
        b.conn?.close();
        b.conn = undefined;
        b.broken = true;
        this.stats.retries++;
        this.stats.failing = true;
        this.#log.warn("{error} (attempt {attempt} of {retries})", {
          error: (lastError as Error).message,
          attempt,
          retries: this.#retries,
          output: this.name,
        });
        if (attempt < this.#retries) await this.#sleep(backoff(this.#retryBaseMs, attempt));
      }
    }
    this.stats.batchesFailed++;
    this.stats.pendingBytes -= b.bytes;
    b.reject(lastError ?? new CollectorError("OUTPUT_WRITE", `Output ${this.name} stopped`));
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
