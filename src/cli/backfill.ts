/**
 * Backfill from the lake bucket, two ways:
 * - `seclake backfill --config FILE --from DATE [--to DATE] [--sources A,B] [--dry-run]
 *   [--shard i/n] [--input NAME]`: one backfill, then exit. `--dry-run` prints, per day and
 *   source, the objects and bytes it would read. On a terminal a progress bar shows objects and
 *   bytes done of those listed, events per second and the time left; otherwise a progress line
 *   is logged every 30 seconds.
 * - the PrePull step of `seclake run` when an input sets `historical_poll_datetime`: the same
 *   backfill, from that day to today, beside the live queue ({@link runPrePullBackfill}).
 * Both keep a cursor in the input's state folder and use the input's state store, so a restart
 * goes on where it stopped and an object already delivered is not sent again.
 * @module
 */
import { sleep } from "../async.ts";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createClients } from "../aws/clients.ts";
import type { AwsClients } from "../aws/clients.ts";
import { S3ObjectReader } from "../aws/s3.ts";
import { S3Lister } from "../aws/s3_list.ts";
import { loadConfig } from "../config/load.ts";
import type { Config, InputConfig } from "../config/types.ts";
import { CollectorError, errorMessage } from "../errors.ts";
import { runBackfill } from "../pipeline/backfill_runner.ts";
import type {
  BackfillProgressHooks,
  BackfillRunOptions,
  BackfillSummary,
  ObjectLocks,
} from "../pipeline/backfill_runner.ts";
import type { ObjectOutcome } from "../pipeline/object_processor.ts";
import type { EventOutput } from "../pipeline/ports.ts";
import {
  checkWindow,
  dayOf,
  enumerateBackfill,
  fnv1a32,
  formatDay,
  parseBackfillDay,
  parseShard,
} from "../source/backfill.ts";
import type {
  BackfillFilter,
  BackfillObject,
  BackfillPlan,
  DayBatch,
  Shard,
} from "../source/backfill.ts";
import { BackfillCursor } from "../state/backfill_cursor.ts";
import { StateStore } from "../state/store.ts";
import { Telemetry } from "../telemetry/events.ts";
import { logger, setupLogging } from "../telemetry/log.ts";
import type { LogLevel } from "../telemetry/log.ts";
import { humanBytes } from "../telemetry/stats.ts";
import { tagChooser } from "../source/partition.ts";
import { LineFormatter } from "../transform/line.ts";
import { createOutput } from "./outputs.ts";
import type { DecodePool } from "../parquet/parallel_lines.ts";
import { inputObjectOptions, startDecodePool } from "./object_options.ts";
import { compileObfuscation } from "../transform/obfuscate.ts";

/** Usage of `seclake backfill`, for help texts. */
export const BACKFILL_USAGE =
  "seclake backfill --config FILE --from DATE [--to DATE] [--sources A,B] [--dry-run] [--shard i/n] [--input NAME] [--log-level LEVEL]";

// ---- progress -----------------------------------------------------------------------------------

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
export class BackfillProgress implements BackfillProgressHooks {
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

  /** Starts counting now. */
  constructor(options: ProgressOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#start = this.#now();
  }

  /** Records the plan found by discovery. */
  onPlan(plan: BackfillPlan): void {
    this.totalDays = plan.days.length;
  }

  /** Records a listed day. */
  onDayListed(batch: DayBatch): void {
    this.daysListed++;
    for (const p of batch.partitions) {
      this.listedObjects += p.objects.length;
      for (const o of p.objects) this.listedBytes += o.size;
    }
  }

  /** Records an object that ended. */
  onObjectDone(object: BackfillObject, outcome: ObjectOutcome): void {
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
    if (this.doneBytes === 0 || total === 0) return undefined;
    const rate = this.doneBytes / this.elapsedSeconds;
    return Math.max(0, (total - this.doneBytes) / rate);
  }

  /** The progress bar: `[#####.....] 42% 120/480 objects 1.20MiB/4.80MiB 3200 events/s ETA 2m10s`. */
  bar(width = 24): string {
    if (this.totalDays === undefined) {
      return `[${".".repeat(width)}] listing the lake's partitions (${
        this.elapsedSeconds.toFixed(0)
      }s)`;
    }
    const total = this.estimatedBytes;
    const fraction = total > 0 ? Math.min(1, this.doneBytes / total) : this.listingDone ? 1 : 0;
    const filled = Math.round(fraction * width);
    const more = this.listingDone ? "" : "+";
    return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${
      (fraction * 100).toFixed(0).padStart(3)
    }% ${this.doneObjects}/${this.listedObjects}${more} objects ${humanBytes(this.doneBytes)}/${
      humanBytes(this.listedBytes)
    }${more} ${this.eventsPerSecond.toFixed(0)} events/s ETA ${formatDuration(this.etaSeconds)}`;
  }

  /** The progress log line. */
  line(): string {
    const days = this.totalDays === undefined ? "?" : String(this.totalDays);
    return `Backfill progress: ${this.doneObjects} of ${this.listedObjects} objects listed so far ` +
      `(${humanBytes(this.doneBytes)} of ${humanBytes(this.listedBytes)}), ` +
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
interface ProgressDisplay {
  write(line: string): void;
  stop(): void;
}

const encoder = new TextEncoder();

/**
 * Shows `progress`: on a terminal, a bar on standard error redrawn every `barMs`, with log lines
 * written above it; otherwise a progress line logged every `lineMs`.
 */
function startProgressDisplay(
  progress: BackfillProgress,
  options: { terminal: boolean; barMs?: number; lineMs?: number },
): ProgressDisplay {
  const err = (s: string) => Deno.stderr.writeSync(encoder.encode(s));
  if (!options.terminal) {
    const timer = setInterval(
      () => logger("backfill").info(progress.line()),
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

// ---- one backfill of one input ------------------------------------------------------------------

/** What identifies a backfill job, for its cursor. */
function jobOf(
  input: InputConfig,
  kind: "run" | "command",
  extra: Record<string, unknown>,
  filter: BackfillFilter,
): Record<string, unknown> {
  return {
    kind,
    bucket: input.bucket,
    reset_persistence_auth: input.reset_persistence_auth ?? "",
    include_sources: filter.includeSources ?? null,
    exclude_sources: filter.excludeSources ?? null,
    accounts: filter.accounts ?? null,
    regions: filter.regions ?? null,
    ...extra,
  };
}

function filterOf(input: InputConfig, sources?: readonly string[]): BackfillFilter {
  const events = input.services.events;
  return {
    includeSources: sources ?? events.include_sources,
    excludeSources: events.exclude_sources,
    accounts: input.accounts,
    regions: input.regions,
  };
}

/** The state folder of `input` (as `seclake run` uses it). */
function stateDirOf(config: Config, input: InputConfig): string {
  return join(config.globals.persistence.directory_name, input.name);
}

function needBucket(input: InputConfig, why: string): string {
  if (input.bucket === undefined) {
    throw new CollectorError(
      "CONFIG_REQUIRES",
      `inputs.${input.name}: ${why} needs bucket, the lake bucket to list (aws-security-data-lake-<region>-<id>)`,
      { context: { input: input.name } },
    );
  }
  return input.bucket;
}

// ---- PrePull (seclake run) ----------------------------------------------------------------------

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
}

/**
 * Throws `SetupError 42` when `input` sets historical_poll_datetime without bucket; returns
 * whether the input backfills at start.
 */
export function prePullWanted(input: InputConfig): boolean {
  if (input.historical_poll_datetime === undefined || input.type !== "security_lake") return false;
  needBucket(input, "historical_poll_datetime");
  return true;
}

/**
 * Whether the backfill at start of input `name` already began with its current settings (its
 * cursor is in the input's state folder): {@link loadConfig}'s `backfillStarted`, so that a
 * `historical_poll_datetime` that aged past one year after its backfill began still loads.
 */
export function prePullStarted(config: Config, name: string): boolean {
  const input = config.inputs.find((i) => i.name === name);
  if (input?.historical_poll_datetime === undefined || input.type !== "security_lake") {
    return false;
  }
  return BackfillCursor.hasJob(stateDirOf(config, input), prePullJob(input));
}

/** The job of `input`'s backfill at start, as its cursor records it. */
function prePullJob(input: InputConfig): Record<string, unknown> {
  const from = input.historical_poll_datetime;
  return jobOf(input, "run", { historical_poll_datetime: from }, filterOf(input));
}

/**
 * The PrePull step: backfills the input from `historical_poll_datetime`'s day to today beside
 * the live queue, `backfill_concurrency` objects at a time. A failed pass (throttled listing,
 * objects that failed) is tried again later from the cursor; never throws.
 */
export async function runPrePullBackfill(o: PrePullOptions): Promise<{ ok: boolean }> {
  const log = logger("backfill");
  const { input } = o;
  const bucket = input.bucket!;
  const from = input.historical_poll_datetime!;
  const fromDay = dayOf(new Date(from));
  let clients: AwsClients | undefined;
  let cursor: BackfillCursor | undefined;
  try {
    clients = createClients(input);
    const filter = filterOf(input);
    const opened = await BackfillCursor.open(stateDirOf(o.config, input), {
      job: prePullJob(input),
    });
    cursor = opened.cursor;
    if (opened.report.corrupt) log.error("{error}", { error: opened.report.corrupt.message });
    log.info(
      "Backfill of input {input} from {from} (s3://{bucket}): {how}, {concurrency} objects at a time",
      {
        input: input.name,
        from: formatDay(fromDay),
        bucket,
        how: opened.report.restarted
          ? "historical_poll_datetime, reset_persistence_auth or filters changed: starting again"
          : cursor.doneThrough || cursor.size > 0
          ? `resuming (done through ${cursor.doneThrough ? formatDay(cursor.doneThrough) : "-"})`
          : "starting",
        concurrency: input.backfill_concurrency,
      },
    );
    const lister = new S3Lister(clients.s3, bucket, {
      onRetry: (e) => o.telemetry.emit("retry", { error: e.message, error_id: e.id, stage: "s3" }),
    });
    const reader = new S3ObjectReader(clients.s3);
    const maxPasses = o.once ? 3 : 10;
    let delay = o.retryDelayMs ?? 30_000;
    for (let pass = 1;; pass++) {
      const toDay = dayOf((o.now ?? (() => new Date()))());
      const progress = new BackfillProgress();
      const timer = setInterval(() => log.info(progress.line()), o.progressLineMs ?? 30_000);
      let summary: BackfillSummary;
      try {
        summary = await runBackfill({
          batches: enumerateBackfill(lister, {
            bucket,
            fromDay,
            toDay,
            filter,
            cursor,
            signal: o.signal,
            onPlan: (plan) => progress.onPlan(plan),
          }),
          reader,
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
      logSummary(input.name, summary);
      if (summary.ok) return { ok: true };
      if (summary.stopped || o.signal?.aborted) return { ok: true };
      if (summary.error && !summary.error.retryable) return { ok: false };
      if (!summary.error && summary.transientFailures === 0) {
        // Only failures another try cannot fix (bad Parquet, missing objects): reported above.
        return { ok: false };
      }
      if (pass >= maxPasses) {
        log.error(
          "Backfill of input {input} incomplete after {passes} passes; it goes on from its cursor at the next start",
          { input: input.name, passes: pass },
        );
        return { ok: false };
      }
      log.warn("Backfill of input {input}: trying again in {seconds} seconds", {
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
    clients?.destroy();
  }
}

function logSummary(input: string, s: BackfillSummary): void {
  const log = logger("backfill");
  const fields = {
    input,
    days: s.days,
    delivered: s.delivered,
    duplicates: s.duplicates,
    failed: s.failed,
    events: s.events,
    bytes: humanBytes(s.bytes),
  };
  const text =
    "{days} days, {delivered} objects delivered ({events} events, {bytes}), {duplicates} already complete, {failed} failed";
  if (s.error) {
    log.error(`Backfill of input {input} stopped: {error}; ${text}`, {
      ...fields,
      error: s.error.message,
    });
  } else if (s.stopped) log.info(`Backfill of input {input} stopped by shutdown: ${text}`, fields);
  else if (s.failed > 0) log.warn(`Backfill of input {input} ended with failures: ${text}`, fields);
  else log.info(`Backfill of input {input} finished: ${text}`, fields);
  for (const f of s.failures) log.warn("{key}: {error}", { key: f.key, error: f.error.message });
}

// ---- seclake backfill ---------------------------------------------------------------------------

/** Options for {@link backfillCommand}. */
export interface BackfillCommandOptions {
  /** Stops the backfill (as SIGINT/SIGTERM do). */
  signal?: AbortSignal;
  /** Clock for the date window. Default now. */
  now?: () => Date;
  /** Where the dry run's table goes. Default `console.log`. */
  print?: (line: string) => void;
}

/** Runs `seclake backfill ARGS`; returns the exit code (0 ok, 1 some objects failed). */
export async function backfillCommand(
  args: string[],
  options: BackfillCommandOptions = {},
): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: "string", short: "c" },
        from: { type: "string" },
        to: { type: "string" },
        sources: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        shard: { type: "string" },
        input: { type: "string" },
        "log-level": { type: "string" },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (e) {
    throw new CollectorError("USAGE", `${errorMessage(e)}; usage: ${BACKFILL_USAGE}`);
  }
  if (typeof values.config !== "string") {
    throw new CollectorError("USAGE", `backfill needs --config FILE; usage: ${BACKFILL_USAGE}`);
  }
  if (typeof values.from !== "string") {
    throw new CollectorError("USAGE", `backfill needs --from DATE; usage: ${BACKFILL_USAGE}`);
  }
  const level = values["log-level"] as string | undefined;
  if (level !== undefined && !["debug", "info", "warning", "error"].includes(level)) {
    throw new CollectorError(
      "USAGE",
      `--log-level must be one of debug, info, warning, error: got ${JSON.stringify(level)}`,
    );
  }
  const now = (options.now ?? (() => new Date()))();
  const fromDay = parseBackfillDay(values.from, "--from");
  const toDay = typeof values.to === "string" ? parseBackfillDay(values.to, "--to") : dayOf(now);
  checkWindow(fromDay, toDay, { now });
  const shard = typeof values.shard === "string" ? parseShard(values.shard) : undefined;
  const sources = typeof values.sources === "string"
    ? values.sources.split(",").map((s) => s.trim()).filter((s) => s !== "")
    : undefined;
  if (sources !== undefined && sources.length === 0) {
    throw new CollectorError("USAGE", "--sources needs at least one source name, e.g. VPC_FLOW");
  }
  const config = await loadConfig(values.config, { backfillStarted: prePullStarted });
  const wanted = typeof values.input === "string" ? values.input : undefined;
  const inputs = config.inputs.filter((i) =>
    wanted !== undefined ? i.name === wanted : i.type === "security_lake"
  );
  if (wanted !== undefined && inputs.length === 0) {
    throw new CollectorError(
      "USAGE",
      `--input ${wanted}: no enabled input of that name (inputs: ${
        config.inputs.map((i) => i.name).join(", ")
      })`,
    );
  }
  if (inputs.length === 0) {
    throw new CollectorError("USAGE", "backfill needs an enabled input of type security_lake");
  }
  for (const input of inputs) needBucket(input, "seclake backfill");

  const dryRun = values["dry-run"] === true;
  const terminal = !dryRun && Deno.stderr.isTerminal();
  const progress = new BackfillProgress();
  let display: ProgressDisplay | undefined;
  await setupLogging({
    level: (level as LogLevel | undefined) ?? config.globals.log_level,
    format: config.globals.log_format,
    write: (line) => display ? display.write(line) : Deno.stderr.writeSync(encoder.encode(line)),
  });
  const controller = new AbortController();
  const stop = () => controller.abort();
  options.signal?.addEventListener("abort", stop, { once: true });
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  const outputs: EventOutput[] = [];
  let decodePool: DecodePool | undefined;
  const telemetry = new Telemetry();
  const log = logger("backfill");
  try {
    if (dryRun) {
      for (const input of inputs) {
        await dryRunInput(config, input, {
          fromDay,
          toDay,
          toGiven: typeof values.to === "string",
          shard,
          sources,
          signal: controller.signal,
          print: options.print ?? ((l) => console.log(l)),
        });
      }
      return 0;
    }
    for (const o of config.outputs) outputs.push(await createOutput(o));
    decodePool = startDecodePool(config.globals); // as `seclake run` has them
    display = startProgressDisplay(progress, { terminal });
    let ok = true;
    for (const input of inputs) {
      if (controller.signal.aborted) break;
      const summary = await commandInput(config, input, {
        fromDay,
        toDay,
        toGiven: typeof values.to === "string",
        shard,
        sources,
        outputs,
        telemetry,
        progress,
        signal: controller.signal,
        decodePool,
      });
      logSummary(input.name, summary);
      if (summary.error) throw summary.error;
      if (!summary.ok) ok = false;
    }
    display.stop();
    display = undefined;
    log.info(progress.line());
    return ok && !controller.signal.aborted ? 0 : 1;
  } finally {
    const shown = display;
    display = undefined;
    shown?.stop();
    for (const s of signals) Deno.removeSignalListener(s, stop);
    options.signal?.removeEventListener("abort", stop);
    decodePool?.close();
    await Promise.allSettled(outputs.map((o) => o.close()));
    for (const o of outputs) {
      log.info("Output {output}: {events} events ({bytes} bytes) confirmed", {
        output: o.name,
        events: o.stats.eventsSent,
        bytes: o.stats.bytesSent,
      });
    }
  }
}

interface CommandInputOptions {
  fromDay: string;
  toDay: string;
  toGiven: boolean;
  shard?: Shard;
  sources?: readonly string[];
  outputs: readonly EventOutput[];
  telemetry: Telemetry;
  progress: BackfillProgress;
  signal: AbortSignal;
  decodePool?: DecodePool;
}

/** The cursor file of a `seclake backfill` job: one per job, so shards can share a folder. */
function commandCursor(
  input: InputConfig,
  o: {
    fromDay: string;
    toDay: string;
    toGiven: boolean;
    shard?: Shard;
    sources?: readonly string[];
  },
): { job: Record<string, unknown>; file: string } {
  const job = jobOf(input, "command", {
    from: o.fromDay,
    to: o.toGiven ? o.toDay : null,
    shard: o.shard ? `${o.shard.index}/${o.shard.count}` : null,
  }, filterOf(input, o.sources));
  return {
    job,
    file: `backfill-${fnv1a32(JSON.stringify(job)).toString(16).padStart(8, "0")}.json`,
  };
}

async function commandInput(
  config: Config,
  input: InputConfig,
  o: CommandInputOptions,
): Promise<BackfillSummary> {
  const log = logger("backfill");
  const bucket = input.bucket!;
  const clients = createClients(input);
  let state: StateStore | undefined;
  let cursor: BackfillCursor | undefined;
  try {
    const dir = stateDirOf(config, input);
    const opened = await StateStore.open(dir, { resetAuth: input.reset_persistence_auth });
    state = opened.store;
    if (opened.report.reset) {
      log.warn("reset_persistence_auth changed: the state of input {input} was cleared", {
        input: input.name,
      });
    }
    for (const e of opened.report.corrupt) log.error("{error}", { error: e.message });
    const { job, file } = commandCursor(input, o);
    const c = await BackfillCursor.open(dir, { job, file });
    cursor = c.cursor;
    if (c.report.corrupt) log.error("{error}", { error: c.report.corrupt.message });
    log.info(
      "Backfill of input {input}: s3://{bucket} from {from} to {to}{shard}, {concurrency} objects at a time{resume}",
      {
        input: input.name,
        bucket,
        from: formatDay(o.fromDay),
        to: formatDay(o.toDay),
        shard: o.shard ? `, shard ${o.shard.index}/${o.shard.count}` : "",
        concurrency: input.backfill_concurrency,
        resume: cursor.doneThrough || cursor.size > 0 ? " (resuming from its cursor)" : "",
      },
    );
    const host = config.outputs.find((x) => x.hostname)?.hostname ?? hostname();
    const events = input.services.events;
    return await runBackfill({
      batches: enumerateBackfill(
        new S3Lister(clients.s3, bucket, {
          onRetry: (e) =>
            o.telemetry.emit("retry", { error: e.message, error_id: e.id, stage: "s3" }),
        }),
        {
          bucket,
          fromDay: o.fromDay,
          toDay: o.toDay,
          filter: filterOf(input, o.sources),
          shard: o.shard,
          cursor,
          signal: o.signal,
          onPlan: (plan) => o.progress.onPlan(plan),
        },
      ),
      reader: new S3ObjectReader(clients.s3),
      outputs: o.outputs,
      formatterFor: (start) =>
        new LineFormatter({
          hostname: host,
          tag: events.tag,
          tagFor: tagChooser(events.tag, events.devo_tag_map),
          pullingId: events.add_pulling_id ? String(start) : undefined,
        }),
      state,
      cursor,
      concurrency: input.backfill_concurrency,
      signal: o.signal,
      shutdownTimeoutMs: config.globals.shutdown_timeout_seconds * 1000,
      telemetry: o.telemetry,
      progress: o.progress,
      objectOptions: inputObjectOptions(
        input,
        compileObfuscation(events.obfuscation),
        o.decodePool,
      ),
    });
  } finally {
    await cursor?.close().catch(() => {});
    await state?.close().catch(() => {});
    clients.destroy();
  }
}

interface DryRunOptions {
  fromDay: string;
  toDay: string;
  toGiven: boolean;
  shard?: Shard;
  sources?: readonly string[];
  signal: AbortSignal;
  print: (line: string) => void;
}

/** Lists what a backfill of `input` would read and prints it per day and source. */
async function dryRunInput(config: Config, input: InputConfig, o: DryRunOptions): Promise<void> {
  const bucket = input.bucket!;
  const clients = createClients(input);
  try {
    const { job, file } = commandCursor(input, o);
    const { cursor } = await BackfillCursor.open(stateDirOf(config, input), {
      job,
      file,
      readOnly: true,
    });
    o.print(
      `Dry run of input ${input.name}: s3://${bucket} from ${formatDay(o.fromDay)} to ${
        formatDay(o.toDay)
      }${o.shard ? `, shard ${o.shard.index}/${o.shard.count}` : ""}`,
    );
    o.print(
      `${"Day".padEnd(10)}  ${"Source".padEnd(24)}  ${"Objects".padStart(8)}  ${
        "Bytes".padStart(14)
      }  Size`,
    );
    let objects = 0;
    let bytes = 0;
    let skipped = 0;
    const lister = new S3Lister(clients.s3, bucket);
    for await (
      const batch of enumerateBackfill(lister, {
        bucket,
        fromDay: o.fromDay,
        toDay: o.toDay,
        filter: filterOf(input, o.sources),
        shard: o.shard,
        cursor,
        signal: o.signal,
      })
    ) {
      const bySource = new Map<string, { objects: number; bytes: number }>();
      for (const p of batch.partitions) {
        skipped += p.skipped.length;
        const name = p.partition.root.source;
        const t = bySource.get(name) ?? { objects: 0, bytes: 0 };
        t.objects += p.objects.length;
        for (const x of p.objects) t.bytes += x.size;
        bySource.set(name, t);
      }
      for (const [name, t] of [...bySource].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (t.objects === 0) continue;
        objects += t.objects;
        bytes += t.bytes;
        o.print(row(formatDay(batch.day), name, t.objects, t.bytes));
      }
    }
    o.print(row("Total", "", objects, bytes));
    o.print(
      `${skipped} objects not read (not Parquet, or metadata/)` +
        (cursor.doneThrough || cursor.size > 0
          ? "; partitions this job already finished are left out"
          : "") +
        "; objects already delivered are counted, and skipped when the backfill runs",
    );
  } finally {
    clients.destroy();
  }
}

function row(day: string, source: string, objects: number, bytes: number): string {
  return `${day.padEnd(10)}  ${source.padEnd(24)}  ${String(objects).padStart(8)}  ${
    String(bytes).padStart(14)
  }  ${humanBytes(bytes)}`;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}
