/**
 * The decode workers one run shares between its inputs: started lazily, reused across objects,
 * lent to one object at a time per worker, and terminated when a lease ends early.
 * @module
 */

import { logEvent } from "../telemetry/events.ts";
import type { FromWorker } from "./worker_wire.ts";

/** Bytes of lines a worker may decode ahead of what the consumer has taken, by default. */
export const DEFAULT_AHEAD_BYTES = 16 * 1024 * 1024;
/** Bytes of row groups read ahead of the workers, by default. */
export const DEFAULT_READ_AHEAD_BYTES = 8 * 1024 * 1024;

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
  /**
   * Never more than `readAheadBytes` ahead: a row group larger than that is read when a worker
   * asks for it, not before (set under a memory budget). Default false.
   */
  readAheadStrict?: boolean;
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
  /** Whether {@link readAheadBytes} holds even for a row group larger than it. */
  readonly readAheadStrict: boolean;
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
  /** Bytes of footers kept in memory for the workers so far (see `footer_cache.ts`). */
  footerBytesKept = 0;
  #sessions = 0;

  /** A new id for one object's session with the workers. */
  nextSession(): number {
    return ++this.#sessions;
  }

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
    this.readAheadStrict = options.readAheadStrict ?? false;
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
    logEvent("decode_workers_unavailable", { error: this.#unavailable });
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
