/**
 * The backfill `seclake run` does beside the live queue when an input sets
 * `historical_poll_datetime` (the PrePull step), and its policy: passes over the lake from the
 * input's cursor, each tried again after a pause that doubles from 30 s to 10 minutes while it
 * failed for reasons another pass can fix; 10 passes at most (3 with `--once`), after which the
 * next start goes on from the cursor.
 * @module
 */
import { sleep } from "../async.ts";
import type { Config, InputConfig } from "../config/types.ts";
import { CollectorError, errorMessage } from "../errors.ts";
import { dayOf, enumerateBackfill, formatDay } from "../source/backfill.ts";
import type { Lister } from "../source/backfill.ts";
import { BackfillCursor } from "../state/backfill_cursor.ts";
import { filterOf, prePullJob, stateDirOf } from "../state/backfill_job.ts";
import type { JobFilter } from "../state/backfill_job.ts";
import type { StateStore } from "../state/store.ts";
import { BackfillProgress } from "../telemetry/backfill_progress.ts";
import type { Telemetry } from "../telemetry/events.ts";
import { humanBytes } from "../telemetry/stats.ts";
import type { LineFormatter } from "../transform/line.ts";
import { runBackfill } from "./backfill_runner.ts";
import type { BackfillRunOptions, BackfillSummary, ObjectLocks } from "./backfill_runner.ts";
import type { EventOutput, ObjectReader } from "./ports.ts";

/** Options for {@link runPrePullBackfill}. */
export interface PrePullOptions {
  config: Config;
  input: InputConfig;
  /** The input's state store, shared with the live path. */
  state: StateStore;
  /** Shared with the live path's reader (`guardLivePath`). */
  locks: ObjectLocks;
  outputs: readonly EventOutput[];
  formatterFor: (startMs: number) => LineFormatter;
  telemetry: Telemetry;
  /** Stops the backfill; work in progress gets `shutdownTimeoutMs`. */
  signal?: AbortSignal;
  /** `seclake run --once`: give up after a few passes instead of retrying on. */
  once?: boolean;
  /** Default 25,000 ms. */
  shutdownTimeoutMs?: number;
  /** Clock for "today". Default now. */
  now?: () => Date;
  /** First delay before another pass after a failure, doubled each time (max 10 min). Default 30 s. */
  retryDelayMs?: number;
  /** Interval of the progress log line. Default 30 s. */
  progressLineMs?: number;
  /** The input's obfuscation, size limits and decode workers: the live path's. */
  objectOptions?: BackfillRunOptions["objectOptions"];
  /** Opens the bucket's lister and object reader (the CLI builds them from AWS clients). */
  open: (telemetry: Telemetry) => LakeSource;
}

/** Where a backfill reads from (the lake bucket); `close()` when done. */
export interface LakeSource {
  readonly lister: Lister;
  readonly reader: ObjectReader;
  close(): void;
}

/**
 * The PrePull step: backfills the input from `historical_poll_datetime`'s day to today beside
 * the live queue, `backfill_concurrency` objects at a time. A failed pass (throttled listing,
 * objects that failed) is tried again later from the cursor; never throws.
 */
export async function runPrePullBackfill(o: PrePullOptions): Promise<{ ok: boolean }> {
  const { input } = o;
  const fromDay = dayOf(new Date(input.historical_poll_datetime!));
  let source: LakeSource | undefined;
  let cursor: BackfillCursor | undefined;
  try {
    source = o.open(o.telemetry);
    const filter = filterOf(input);
    cursor = await openCursor(o, fromDay);
    const maxPasses = o.once ? 3 : 10;
    let delay = o.retryDelayMs ?? 30_000;
    for (let pass = 1;; pass++) {
      const summary = await runPass(o, source, { fromDay, filter, cursor });
      logSummary(o.telemetry, input.name, summary);
      const verdict = passVerdict(summary, o.signal);
      if (verdict) return verdict;
      if (pass >= maxPasses) {
        o.telemetry.emit("backfill_incomplete", { input: input.name, passes: pass });
        return { ok: false };
      }
      o.telemetry.emit("backfill_retry_wait", {
        input: input.name,
        seconds: Math.round(delay / 1000),
      });
      await sleep(delay, o.signal);
      if (o.signal?.aborted) return { ok: true };
      delay = Math.min(delay * 2, 600_000);
    }
  } catch (e) {
    o.telemetry.emit("error", {
      error: errorMessage(e),
      error_id: e instanceof CollectorError ? e.id : undefined,
    });
    return { ok: false };
  } finally {
    await cursor?.close().catch(() => {});
    source?.close();
  }
}

/** Opens the input's PrePull cursor and logs how the backfill starts from it. */
async function openCursor(o: PrePullOptions, fromDay: string): Promise<BackfillCursor> {
  const { input } = o;
  const opened = await BackfillCursor.open(stateDirOf(o.config, input), {
    job: prePullJob(input),
  });
  const cursor = opened.cursor;
  o.telemetry.corruptState(opened.report.corrupt ? [opened.report.corrupt] : []);
  o.telemetry.emit(
    "backfill_started",
    {
      input: input.name,
      from: formatDay(fromDay),
      bucket: input.bucket!,
      how: opened.report.restarted
        ? "historical_poll_datetime, reset_persistence_auth or filters changed: starting again"
        : cursor.doneThrough || cursor.size > 0
        ? `resuming (done through ${cursor.doneThrough ? formatDay(cursor.doneThrough) : "-"})`
        : "starting",
      concurrency: input.backfill_concurrency,
    },
  );
  return cursor;
}

/** One pass over the lake, from the cursor to today, with its progress line logged. */
async function runPass(
  o: PrePullOptions,
  source: LakeSource,
  pass: { fromDay: string; filter: JobFilter; cursor: BackfillCursor },
): Promise<BackfillSummary> {
  const { input } = o;
  const { fromDay, filter, cursor } = pass;
  const toDay = dayOf((o.now ?? (() => new Date()))());
  const progress = new BackfillProgress();
  const timer = setInterval(
    () => o.telemetry.emit("backfill_progress", { line: progress.line() }),
    o.progressLineMs ?? 30_000,
  );
  try {
    return await runBackfill({
      batches: enumerateBackfill(source.lister, {
        bucket: input.bucket!,
        fromDay,
        toDay,
        filter,
        cursor,
        signal: o.signal,
        onPlan: (plan) => progress.onPlan(plan),
      }),
      reader: source.reader,
      outputs: o.outputs,
      formatterFor: o.formatterFor,
      state: o.state,
      locks: o.locks,
      cursor,
      concurrency: input.backfill_concurrency,
      signal: o.signal,
      shutdownTimeoutMs: o.shutdownTimeoutMs,
      telemetry: o.telemetry,
      progress,
      objectOptions: o.objectOptions,
    });
  } finally {
    clearInterval(timer);
  }
}

/**
 * How the PrePull ends after a pass: undefined when another pass may fix what failed (a listing
 * error or objects that failed for reasons a later try can fix).
 */
function passVerdict(
  summary: BackfillSummary,
  signal: AbortSignal | undefined,
): { ok: boolean } | undefined {
  if (summary.ok) return { ok: true };
  if (summary.stopped || signal?.aborted) return { ok: true };
  if (summary.error && !summary.error.retryable) return { ok: false };
  if (!summary.error && summary.transientFailures === 0) {
    // Only failures another try cannot fix (bad Parquet, missing objects): reported above.
    return { ok: false };
  }
  return undefined;
}

/** Logs how a backfill pass ended, and each object that failed in it. */
export function logSummary(telemetry: Telemetry, input: string, s: BackfillSummary): void {
  const fields = {
    input,
    days: s.days,
    delivered: s.delivered,
    duplicates: s.duplicates,
    skipped: s.skipped,
    archived: s.archived,
    failed: s.failed,
    events: s.events,
    filtered: s.filtered,
    bytes: humanBytes(s.bytes),
  };
  if (s.error) {
    telemetry.emit("backfill_stopped_by_error", {
      ...fields,
      error: s.error.message,
      error_id: s.error.id,
    });
  } else if (s.stopped) telemetry.emit("backfill_stopped", fields);
  else if (s.failed > 0) telemetry.emit("backfill_ended_with_failures", fields);
  else telemetry.emit("backfill_finished", fields);
  for (const f of s.failures) {
    telemetry.emit("backfill_object_failed", { key: f.key, error: f.error.message });
  }
}
