/**
 * Runs a backfill: the objects of each listed day go through {@link processObject} with the same
 * outputs and state as live notifications (so an object completed either way is sent once),
 * `concurrency` objects at a time, oldest day first. As objects complete, the cursor moves:
 * per partition, the last key completed with every key before it; per day, once all of its
 * partitions are done. A failed object holds its partition's cursor where it is, so it is read
 * again at the next start; nothing half-read is ever recorded as completed.
 *
 * {@link ObjectLocks} keeps the live path and the backfill from reading the same object at the
 * same time: each path takes the object's lock before reading it, and the second one waits, then
 * finds it completed. {@link guardLivePath} puts the locks into the live path's reader.
 * @module
 */
import { CollectorError, errorMessage } from "../errors.ts";
import type { BackfillObject, DayBatch } from "../source/backfill.ts";
import { Telemetry } from "../telemetry/events.ts";
import type { LineFormatter } from "../transform/line.ts";
import { processObject } from "./object_processor.ts";
import { objectHooks, reportOutcome } from "./outcome.ts";
import type { InputObjectOptions, ObjectOutcome } from "./object_processor.ts";
import type {
  EventOutput,
  ObjectReader,
  ObjectRef,
  ObjectState,
  OpenedObject,
  OpenOptions,
} from "./ports.ts";
import { viewOf } from "./ports.ts";

/** In-process locks on objects, shared by the live path and the backfill. */
export class ObjectLocks {
  #held = new Map<string, Promise<void>>();

  /** Objects locked now. */
  get size(): number {
    return this.#held.size;
  }

  /** Whether `ref` is locked now. */
  has(ref: { bucket: string; key: string }): boolean {
    return this.#held.has(`${ref.bucket}/${ref.key}`);
  }

  /**
   * Takes the lock of `ref`, waiting while another holder has it; resolves with the function
   * that releases it (idempotent). Rejects with the signal's reason when `signal` aborts first.
   */
  async acquire(
    ref: { bucket: string; key: string },
    signal?: AbortSignal,
  ): Promise<() => void> {
    const id = `${ref.bucket}/${ref.key}`;
    for (let held = this.#held.get(id); held; held = this.#held.get(id)) {
      signal?.throwIfAborted();
      await untilAborted(held, signal);
    }
    signal?.throwIfAborted();
    let resolve!: () => void;
    this.#held.set(id, new Promise<void>((r) => resolve = r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held.delete(id);
      resolve();
    };
  }
}

/**
 * The live path's reader and state, guarded: opening an object takes its lock (released when
 * the object is closed), and an object found completed by then reports all its rows as
 * confirmed, so the processor sends nothing of it again.
 */
export function guardLivePath(
  o: { reader: ObjectReader; state?: ObjectState; locks: ObjectLocks },
): { reader: ObjectReader; state?: ObjectState } {
  const { reader, state, locks } = o;
  const guardedReader: ObjectReader = {
    get requests() {
      return reader.requests;
    },
    async open(ref: ObjectRef, signal?: AbortSignal, options?: OpenOptions): Promise<OpenedObject> {
      const release = await locks.acquire(ref, signal);
      try {
        return viewOf(await reader.open(ref, signal, options), { onClose: release });
      } catch (e) {
        release();
        throw e;
      }
    },
  };
  const guardedState: ObjectState | undefined = state && {
    completed: (ref) => state.completed(ref),
    markCompleted: (ref, events) => state.markCompleted(ref, events),
    // Rows confirmed: all of them once the object completed (the other path finished it).
    checkpoint: (ref) => state.completed(ref)?.events ?? state.checkpoint(ref),
    saveCheckpoint: (ref, rows) => state.saveCheckpoint(ref, rows),
  };
  return { reader: guardedReader, state: guardedState };
}

/** What the runner needs of a cursor (see `state/backfill_cursor.ts`). */
export interface BackfillCursorPort {
  advance(prefix: string, last: string | undefined, done?: boolean): Promise<void>;
  doneThroughDay(day: string): Promise<void>;
  flush(): Promise<void>;
}

/** Hooks for progress displays. */
export interface BackfillProgressHooks {
  /** A day was listed: its objects are about to be read. */
  onDayListed?(batch: DayBatch): void;
  /** An object ended (delivered, already complete, or failed). */
  onObjectDone?(object: BackfillObject, outcome: ObjectOutcome): void;
  /** Events were decoded. */
  onEvents?(count: number): void;
}

/** Options for {@link runBackfill}. */
export interface BackfillRunOptions {
  /** The days to read, oldest first (`enumerateBackfill`). */
  batches: AsyncIterable<DayBatch>;
  reader: ObjectReader;
  outputs: readonly EventOutput[];
  /** A formatter for each day, given the time its reading starts (epoch ms). */
  formatterFor: (startMs: number) => LineFormatter;
  /** Completed objects and checkpoints: the same store as the live path's. */
  state?: ObjectState;
  /** Shared with the live path; without it nothing guards against reading an object twice. */
  locks?: ObjectLocks;
  /** Where the backfill stands; without it a restart lists everything again. */
  cursor?: BackfillCursorPort;
  /** Objects read at the same time. Default 1. */
  concurrency?: number;
  /** Stops taking objects; work in progress then gets `shutdownTimeoutMs` to finish. */
  signal?: AbortSignal;
  /** Default 25,000 ms. */
  shutdownTimeoutMs?: number;
  /** Where object events and metrics go. */
  telemetry?: Telemetry;
  /** Progress display hooks. */
  progress?: BackfillProgressHooks;
  /** Attempts per object for transient S3 failures. Default 3. */
  attempts?: number;
  /** First retry delay of an object, doubled each attempt. Default 1000 ms. */
  retryBaseMs?: number;
  /** The input's obfuscation, size limits and decode workers, as the live path has them. */
  objectOptions?: InputObjectOptions;
}

/** What a backfill run did. */
export interface BackfillSummary {
  /** Every object was delivered or already complete, the listing finished and nothing stopped it. */
  readonly ok: boolean;
  /** The signal stopped it before the end. */
  readonly stopped: boolean;
  /** Days listed. */
  readonly days: number;
  /** Objects delivered by this run. */
  readonly delivered: number;
  /** Objects found already completed (by an earlier run or the live path). */
  readonly duplicates: number;
  /**
   * Objects not read: side files and `metadata/` in the listing, objects that are not Parquet,
   * archived objects.
   */
  readonly skipped: number;
  /** Of the skipped objects, those S3 would not serve because they are archived. */
  readonly archived: number;
  /** Objects that failed (they are read again at the next start); not those stopped by a shutdown. */
  readonly failed: number;
  /** Of the failed objects, those whose error a later try can fix (throttling, an output down). */
  readonly transientFailures: number;
  /** Events delivered by this run. */
  readonly events: number;
  /** Events read and not sent because a `drop_events` condition matched them. */
  readonly filtered: number;
  /** Bytes of the objects delivered or found complete. */
  readonly bytes: number;
  /** The listing error that ended the run, if one did. */
  readonly error?: CollectorError;
  /** The first failures (at most 20), for reports. */
  readonly failures: readonly { readonly key: string; readonly error: CollectorError }[];
}

interface DayTrack {
  readonly day: string;
  open: number;
  failed: boolean;
}

interface PartitionTrack {
  readonly prefix: string;
  readonly objects: readonly BackfillObject[];
  readonly status: Int8Array;
  next: number;
  readonly day: DayTrack;
}

/** Reads every object of `batches`; never throws: the summary says what happened. */
export async function runBackfill(o: BackfillRunOptions): Promise<BackfillSummary> {
  const concurrency = o.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`Option concurrency must be a positive integer: got ${concurrency}`);
  }
  const run = new BackfillRun(o, concurrency);
  await run.readAll();
  return await run.finish();
}

/** One run of {@link runBackfill}: the objects in flight, the days open and what was counted. */
class BackfillRun {
  readonly #o: BackfillRunOptions;
  readonly #concurrency: number;
  readonly #tele: Telemetry;
  readonly #work = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #days: DayTrack[] = [];
  readonly #failures: { key: string; error: CollectorError }[] = [];
  readonly #counts = {
    days: 0,
    delivered: 0,
    duplicates: 0,
    skipped: 0,
    archived: 0,
    failed: 0,
    transientFailures: 0,
    events: 0,
    filtered: 0,
    bytes: 0,
  };
  #stopped = false;
  #error: CollectorError | undefined;
  // Once stopped, work in progress gets the shutdown timeout: reading stops early enough to
  // confirm what was sent and save the checkpoints; then unconfirmed batches are abandoned.
  readonly #timers: ReturnType<typeof setTimeout>[] = [];
  readonly #stopping: Promise<void>;
  readonly #onStop = () => {
    if (this.#timers.length > 0) return;
    const timeoutMs = this.#o.shutdownTimeoutMs ?? 25_000;
    const work = this.#work;
    this.#timers.push(setTimeout(() => work.abort(), timeoutMs - Math.min(5_000, timeoutMs / 2)));
    this.#timers.push(setTimeout(() => {
      work.abort();
      for (const out of this.#o.outputs) out.abort();
    }, timeoutMs));
  };

  constructor(o: BackfillRunOptions, concurrency: number) {
    this.#o = o;
    this.#concurrency = concurrency;
    this.#tele = o.telemetry ?? new Telemetry();
    this.#stopping = new Promise<void>((resolve) => {
      if (o.signal?.aborted) resolve();
      o.signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    o.signal?.addEventListener("abort", this.#onStop, { once: true });
  }

  /** Reads the days listed, until the listing ends, fails, or the signal stops it. */
  async readAll(): Promise<void> {
    const o = this.#o;
    try {
      for await (const batch of o.batches) {
        if (!await this.#readDay(batch)) {
          this.#stopped = true;
          break;
        }
      }
    } catch (e) {
      if (o.signal?.aborted) this.#stopped = true;
      else {
        this.#error = e instanceof CollectorError
          ? e
          : new CollectorError("S3_CALL", `Backfill listing failed: ${errorMessage(e)}`, {
            cause: e,
          });
      }
    }
  }

  /** Waits for the objects in flight, saves the cursor and sums up. */
  async finish(): Promise<BackfillSummary> {
    const o = this.#o;
    if (o.signal?.aborted) this.#onStop();
    await Promise.all(this.#inFlight);
    for (const t of this.#timers) clearTimeout(t);
    o.signal?.removeEventListener("abort", this.#onStop);
    await this.#cursorWrite(o.cursor?.flush());
    const error = this.#error;
    return {
      ok: !this.#stopped && error === undefined && this.#counts.failed === 0,
      stopped: this.#stopped,
      ...this.#counts,
      ...(error ? { error } : {}),
      failures: this.#failures,
    };
  }

  /** Starts the objects of one day; false when the signal stopped it. */
  async #readDay(batch: DayBatch): Promise<boolean> {
    const o = this.#o;
    this.#counts.days++;
    o.progress?.onDayListed?.(batch);
    const day: DayTrack = { day: batch.day, open: batch.partitions.length, failed: false };
    this.#days.push(day);
    const formatter = o.formatterFor(Date.now());
    for (const p of batch.partitions) {
      if (!await this.#readPartition(p, day, formatter)) return false;
    }
    this.#closeDays();
    return !o.signal?.aborted;
  }

  /**
   * Starts the objects of one partition, at most `concurrency` in flight; false when the
   * signal stopped it.
   */
  async #readPartition(
    p: DayBatch["partitions"][number],
    day: DayTrack,
    formatter: LineFormatter,
  ): Promise<boolean> {
    const o = this.#o;
    for (const s of p.skipped) {
      this.#tele.emit("object_skipped", { key: s.key, reason: s.reason });
      this.#counts.skipped++;
    }
    if (p.alreadyDone || p.objects.length === 0) {
      if (!p.alreadyDone) {
        await this.#cursorWrite(o.cursor?.advance(p.partition.prefix, undefined, true));
      }
      day.open--;
      return true;
    }
    const track: PartitionTrack = {
      prefix: p.partition.prefix,
      objects: p.objects,
      status: new Int8Array(p.objects.length),
      next: 0,
      day,
    };
    const inFlight = this.#inFlight;
    for (let i = 0; i < p.objects.length; i++) {
      while (inFlight.size >= this.#concurrency && !o.signal?.aborted) {
        await Promise.race([...inFlight, this.#stopping]);
      }
      if (o.signal?.aborted) return false;
      const job: Promise<void> = this.#handle(track, i, formatter).finally(() =>
        inFlight.delete(job)
      );
      inFlight.add(job);
    }
    return true;
  }

  /** Reads object `i` of `track`, reports and counts its outcome, and moves the cursor. */
  async #handle(track: PartitionTrack, i: number, formatter: LineFormatter): Promise<void> {
    const object = track.objects[i]!;
    const outcome = await this.#process(object, formatter);
    reportOutcome(this.#tele, outcome);
    this.#count(object, outcome);
    this.#o.progress?.onObjectDone?.(object, outcome);
    await this.#advance(track, i, outcome.ok);
  }

  /** Reads `object` under its lock. */
  async #process(object: BackfillObject, formatter: LineFormatter): Promise<ObjectOutcome> {
    const o = this.#o;
    const tele = this.#tele;
    const where = { bucket: object.bucket, key: object.key };
    let release: (() => void) | undefined;
    try {
      release = await o.locks?.acquire(object, this.#work.signal);
      tele.emit("object_started", where);
      return await processObject(object, {
        ...o.objectOptions,
        reader: o.reader,
        outputs: o.outputs,
        formatter,
        state: o.state,
        signal: this.#work.signal,
        attempts: o.attempts,
        retryBaseMs: o.retryBaseMs,
        ...objectHooks(tele, (n) => o.progress?.onEvents?.(n), o.objectOptions?.input),
      });
    } catch (e) {
      // Only the lock wait can throw (shutdown while waiting).
      const err = new CollectorError(
        "OUTPUT_WRITE",
        `Backfill of ${object.key} stopped by shutdown`,
        {
          cause: e,
          retryable: true,
        },
      );
      tele.emit("object_started", where);
      return {
        ok: false,
        ref: object,
        events: 0,
        error: err,
        stopped: true,
        requests: 0,
        seconds: 0,
      };
    } finally {
      release?.();
    }
  }

  /** Adds an object's outcome to the summary's counts. */
  #count(object: BackfillObject, outcome: ObjectOutcome): void {
    const counts = this.#counts;
    if (outcome.ok && outcome.skipped) {
      counts.skipped++;
      if (outcome.skipped.reason === "archived") counts.archived++;
    } else if (outcome.ok && outcome.duplicate) {
      counts.duplicates++;
      counts.bytes += object.size;
    } else if (outcome.ok) {
      counts.delivered++;
      counts.events += outcome.events;
      counts.filtered += outcome.filtered ?? 0;
      counts.bytes += object.size;
    } else if (outcome.stopped) {
      // Stopped by the shutdown: checkpointed, read again from there at the next start.
      counts.events += outcome.events;
    } else {
      counts.failed++;
      if (outcome.error.retryable) counts.transientFailures++;
      counts.events += outcome.events;
      if (this.#failures.length < 20) {
        this.#failures.push({ key: object.key, error: outcome.error });
      }
    }
  }

  /**
   * Records object `i` of `track` as done or failed, and moves the partition's cursor past the
   * leading objects done (and the day's, once all of its partitions are).
   */
  async #advance(track: PartitionTrack, i: number, ok: boolean): Promise<void> {
    track.status[i] = ok ? 1 : -1;
    if (!ok) track.day.failed = true;
    const before = track.next;
    while (track.next < track.objects.length && track.status[track.next] === 1) track.next++;
    if (track.next > before) {
      const done = track.next === track.objects.length;
      const last = track.objects[track.next - 1]!.key;
      await this.#cursorWrite(this.#o.cursor?.advance(track.prefix, last, done));
      if (done) {
        track.day.open--;
        this.#closeDays();
      }
    }
  }

  /** Records the leading days whose partitions are all done. */
  #closeDays(): void {
    const days = this.#days;
    while (days.length > 0 && days[0]!.open === 0 && !days[0]!.failed) {
      const d = days.shift()!;
      this.#cursorWrite(this.#o.cursor?.doneThroughDay(d.day));
    }
  }

  /** A cursor write whose failure is logged, never thrown. */
  #cursorWrite(p: Promise<void> | undefined): Promise<void> | undefined {
    return p?.catch((e) => this.#tele.emit("error", { error: errorMessage(e), error_id: idOf(e) }));
  }
}

function idOf(e: unknown): number | undefined {
  return e instanceof CollectorError ? e.id : undefined;
}

/** Waits for `p` to settle, or for `signal` to abort; leaves no listener behind. */
function untilAborted(p: Promise<unknown>, signal?: AbortSignal): Promise<void> {
  if (!signal) return p.then(() => {}, () => {});
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
    p.then(done, done);
  });
}
