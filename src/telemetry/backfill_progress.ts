/**
 * How far a backfill got: what it listed and did, rendered as a progress bar on a terminal or as
 * a log line elsewhere. The backfill runner calls its hooks; nothing here decides anything.
 * @module
 */
import { humanBytes } from "./stats.ts";

/** A listed day, as the progress counts it: its partitions' objects and their sizes. */
export interface ListedDay {
  readonly partitions: readonly { readonly objects: readonly { readonly size: number }[] }[];
}

/** Options for {@link BackfillProgress}. */
export interface ProgressOptions {
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
}

/**
 * Counts what a backfill listed and did, and renders it as a progress bar or a log line.
 * Totals are those listed so far; while days remain unlisted, the total is estimated from the
 * days listed.
 */
export class BackfillProgress {
  /** Days with data in the backfill (known once discovery ended). */
  totalDays?: number;
  daysListed = 0;
  listedObjects = 0;
  listedBytes = 0;
  doneObjects = 0;
  doneBytes = 0;
  failedObjects = 0;
  events = 0;
  #now: () => number;
  #start: number;
  /** Bytes read so far of each object in progress, by key (capped at the object's size). */
  #reading = new Map<string, number>();

  /** Starts counting now. */
  constructor(options: ProgressOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#start = this.#now();
  }

  /** Records the plan found by discovery. */
  onPlan<P extends { readonly days: readonly unknown[] }>(plan: P): void {
    this.totalDays = plan.days.length;
  }

  /** Records a listed day. */
  onDayListed<D extends ListedDay>(batch: D): void {
    this.daysListed++;
    for (const p of batch.partitions) {
      this.listedObjects += p.objects.length;
      for (const o of p.objects) this.listedBytes += o.size;
    }
  }

  /**
   * Records `bytes` read of the object `key` (of `size` bytes) while it is in progress, so that
   * one large object moves the progress before it ends.
   */
  onBytesRead(key: string, bytes: number, size: number): void {
    this.#reading.set(key, Math.min(size, (this.#reading.get(key) ?? 0) + bytes));
  }

  /** Bytes of the objects delivered, plus those read so far of the objects in progress. */
  get progressBytes(): number {
    let n = this.doneBytes;
    for (const b of this.#reading.values()) n += b;
    return n;
  }

  /** Records an object that ended. */
  onObjectDone<
    O extends { readonly size: number; readonly key?: string },
    R extends { readonly ok: boolean },
  >(
    object: O,
    outcome: R,
  ): void {
    if (object.key !== undefined) this.#reading.delete(object.key);
    this.doneObjects++;
    if (outcome.ok) this.doneBytes += object.size;
    else this.failedObjects++;
  }

  /** Records decoded events. */
  onEvents(count: number): void {
    this.events += count;
  }

  /** Whether every day has been listed. */
  get listingDone(): boolean {
    return this.totalDays !== undefined && this.daysListed >= this.totalDays;
  }

  /** Estimated bytes of the whole backfill. */
  get estimatedBytes(): number {
    if (this.listingDone || !this.totalDays || this.daysListed === 0) return this.listedBytes;
    return Math.round(this.listedBytes * this.totalDays / this.daysListed);
  }

  /** Seconds since the start. */
  get elapsedSeconds(): number {
    return Math.max(0.001, (this.#now() - this.#start) / 1000);
  }

  /** Events per second since the start. */
  get eventsPerSecond(): number {
    return this.events / this.elapsedSeconds;
  }

  /** Estimated seconds left, when it can be told. */
  get etaSeconds(): number | undefined {
    const total = this.estimatedBytes;
    const done = this.progressBytes;
    if (done === 0 || total === 0) return undefined;
    const rate = done / this.elapsedSeconds;
    return Math.max(0, (total - done) / rate);
  }

  /** The progress bar: `[#####.....] 42% 120/480 objects 1.20MiB/4.80MiB 3200 events/s ETA 2m10s`. */
  bar(width = 24): string {
    if (this.totalDays === undefined) {
      return `[${".".repeat(width)}] listing the lake's partitions (${
        this.elapsedSeconds.toFixed(0)
      }s)`;
    }
    const total = this.estimatedBytes;
    const done = this.progressBytes;
    const fraction = total > 0 ? Math.min(1, done / total) : this.listingDone ? 1 : 0;
    const filled = Math.round(fraction * width);
    const more = this.listingDone ? "" : "+";
    return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${
      (fraction * 100).toFixed(0).padStart(3)
    }% ${this.doneObjects}/${this.listedObjects}${more} objects ${humanBytes(done)}/${
      humanBytes(this.listedBytes)
    }${more} ${this.eventsPerSecond.toFixed(0)} events/s ETA ${formatDuration(this.etaSeconds)}`;
  }

  /** The progress log line. */
  line(): string {
    const days = this.totalDays === undefined ? "?" : String(this.totalDays);
    return `Backfill progress: ${this.doneObjects} of ${this.listedObjects} objects listed so far ` +
      `(${humanBytes(this.progressBytes)} of ${humanBytes(this.listedBytes)} read), ` +
      `${this.daysListed} of ${days} days listed, ${this.failedObjects} failed, ` +
      `${this.events} events, ${this.eventsPerSecond.toFixed(1)} events/s, ` +
      `ETA ${formatDuration(this.etaSeconds)}`;
  }
}

/** `1h02m`, `2m10s`, `45s`, or `?`. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s >= 3600) {
    return `${Math.floor(s / 3600)}h${String(Math.floor(s % 3600 / 60)).padStart(2, "0")}m`;
  }
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${s}s`;
}

/** A running progress display; `write` puts a log line above the bar. */
export interface ProgressDisplay {
  write(line: string): void;
  stop(): void;
}

const encoder = new TextEncoder();

/**
 * Shows `progress`: on a terminal, a bar on standard error redrawn every `barMs`, with log lines
 * written above it; otherwise `log` is given a progress line every `lineMs`.
 */
export function startProgressDisplay(
  progress: BackfillProgress,
  options: { terminal: boolean; barMs?: number; lineMs?: number; log: (line: string) => void },
): ProgressDisplay {
  const err = (s: string) => Deno.stderr.writeSync(encoder.encode(s));
  if (!options.terminal) {
    const timer = setInterval(
      () => options.log(progress.line()),
      options.lineMs ?? 30_000,
    );
    return { write: err, stop: () => clearInterval(timer) };
  }
  const draw = () => err(`\r\x1b[2K${progress.bar()}`);
  const timer = setInterval(draw, options.barMs ?? 250);
  return {
    write(line) {
      err(`\r\x1b[2K${line}`);
      draw();
    },
    stop() {
      clearInterval(timer);
      draw();
      err("\n");
    },
  };
}
