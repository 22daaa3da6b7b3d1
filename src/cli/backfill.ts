/**
 * Backfill from the lake bucket, two ways:
 * - `seclake backfill --config FILE --from DATE [--to DATE] [--sources A,B] [--dry-run]
 *   [--shard i/n] [--input NAME]`: one backfill, then exit. `--dry-run` prints, per day and
 *   source, the objects and bytes it would read. On a terminal a progress bar shows objects and
 *   bytes done of those listed, events per second and the time left; otherwise a progress line
 *   is logged every 30 seconds.
 * - the PrePull step of `seclake run` when an input sets `historical_poll_datetime`: the same
 *   backfill, from that day to today, beside the live queue (`pipeline/prepull.ts`; this module
 *   gives it the bucket's lister and reader).
 * Both keep a cursor in the input's state folder and use the input's state store, so a restart
 * goes on where it stopped and an object already delivered is not sent again.
 * @module
 */
import { parseArgs } from "node:util";
import { createClients } from "../aws/clients.ts";
import { S3ObjectReader } from "../aws/s3.ts";
import { S3Lister } from "../aws/s3_list.ts";
import { loadConfig } from "../config/load.ts";
import type { Config, InputConfig } from "../config/types.ts";
import { CollectorError, errorMessage } from "../errors.ts";
import { runBackfill } from "../pipeline/backfill_runner.ts";
import type { BackfillSummary } from "../pipeline/backfill_runner.ts";
import type { EventOutput } from "../pipeline/ports.ts";
import { logSummary } from "../pipeline/prepull.ts";
import type { PrePullSource } from "../pipeline/prepull.ts";
import {
  checkWindow,
  dayOf,
  enumerateBackfill,
  formatDay,
  parseBackfillDay,
  parseShard,
} from "../source/backfill.ts";
import type { Shard } from "../source/backfill.ts";
import { BackfillCursor } from "../state/backfill_cursor.ts";
import { commandCursor, filterOf, prePullStarted, stateDirOf } from "../state/backfill_job.ts";
import { StateStore } from "../state/store.ts";
import { BackfillProgress, startProgressDisplay } from "../telemetry/backfill_progress.ts";
import type { ProgressDisplay } from "../telemetry/backfill_progress.ts";
import { Telemetry } from "../telemetry/events.ts";
import { setupLogging } from "../telemetry/log.ts";
import type { LogLevel } from "../telemetry/log.ts";
import { humanBytes } from "../telemetry/stats.ts";
import { createOutput } from "./outputs.ts";
import { budgetedOutput, logMemoryPlan, memoryPlan } from "./memory.ts";
import type { BudgetKnobs } from "../pipeline/memory_budget.ts";
import type { DecodePool } from "../parquet/decode.ts";
import { formatterFactory, inputObjectOptions, startDecodePool } from "./object_options.ts";
import { compileObfuscation } from "../transform/obfuscate.ts";

const encoder = new TextEncoder();

/** Usage of `seclake backfill`, for help texts. */
export const BACKFILL_USAGE =
  "seclake backfill --config FILE --from DATE [--to DATE] [--sources A,B] [--dry-run] [--shard i/n] [--input NAME] [--log-level LEVEL]";

// ---- one backfill of one input ------------------------------------------------------------------

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

/**
 * Throws `SetupError 42` when `input` sets historical_poll_datetime without bucket; returns
 * whether the input backfills at start.
 */
export function prePullWanted(input: InputConfig): boolean {
  if (input.historical_poll_datetime === undefined || input.type !== "security_lake") return false;
  needBucket(input, "historical_poll_datetime");
  return true;
}

/** The lister and reader of `input`'s bucket, for the PrePull step of `seclake run`. */
export function prePullSource(input: InputConfig): (telemetry: Telemetry) => PrePullSource {
  return (telemetry) => {
    const clients = createClients(input);
    return {
      lister: new S3Lister(clients.s3, input.bucket!, {
        onRetry: (e) => telemetry.emit("retry", { error: e.message, error_id: e.id, stage: "s3" }),
      }),
      reader: new S3ObjectReader(clients.s3),
      close: () => clients.destroy(),
    };
  };
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
  let knobs: BudgetKnobs | undefined;
  const telemetry = new Telemetry();
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
    // As `seclake run` has them: within the memory budget.
    const memory = memoryPlan(config);
    logMemoryPlan(memory, telemetry);
    for (const o of config.outputs) {
      outputs.push(await createOutput(budgetedOutput(o, memory.knobs)));
    }
    decodePool = startDecodePool(config.globals, memory.knobs);
    knobs = memory.knobs;
    display = startProgressDisplay(progress, {
      terminal,
      log: (line) => telemetry.emit("backfill_progress", { line }),
    });
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
        knobs,
      });
      logSummary(telemetry, input.name, summary);
      if (summary.error) throw summary.error;
      if (!summary.ok) ok = false;
    }
    display.stop();
    display = undefined;
    telemetry.emit("backfill_progress", { line: progress.line() });
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
      telemetry.emit("output_confirmed_total", {
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
  /** The memory plan's knobs. */
  knobs?: BudgetKnobs;
}

async function commandInput(
  config: Config,
  input: InputConfig,
  o: CommandInputOptions,
): Promise<BackfillSummary> {
  const bucket = input.bucket!;
  const clients = createClients(input);
  let state: StateStore | undefined;
  let cursor: BackfillCursor | undefined;
  try {
    const dir = stateDirOf(config, input);
    const opened = await StateStore.open(dir, { resetAuth: input.reset_persistence_auth });
    state = opened.store;
    if (opened.report.reset) {
      o.telemetry.emit("state_reset", { input: input.name });
    }
    o.telemetry.corruptState(opened.report.corrupt);
    const { job, file } = commandCursor(input, o);
    const c = await BackfillCursor.open(dir, { job, file });
    cursor = c.cursor;
    o.telemetry.corruptState(c.report.corrupt ? [c.report.corrupt] : []);
    o.telemetry.emit(
      "backfill_command_started",
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
      formatterFor: formatterFactory(config, input),
      state,
      cursor,
      concurrency: Math.min(
        input.backfill_concurrency,
        o.knobs?.maxConcurrentObjects ?? Infinity,
      ),
      signal: o.signal,
      shutdownTimeoutMs: config.globals.shutdown_timeout_seconds * 1000,
      telemetry: o.telemetry,
      progress: o.progress,
      objectOptions: inputObjectOptions(
        input,
        compileObfuscation(events.obfuscation),
        o.decodePool,
        o.knobs,
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
