/**
 * Backfill from the lake bucket, two ways:
 * - `seclake backfill --config FILE --from DATE [--to DATE] [--sources A,B] [--dry-run]
 *   [--shard i/n] [--input NAME]`: one backfill, then exit. `--dry-run` prints, per day and
 *   source, the objects and bytes it would read. On a terminal a progress bar shows objects and
 *   bytes done of those listed, events per second and the time left; otherwise a progress line
 *   is logged every 30 seconds.
 * - the PrePull step of `seclake run` when an input sets `historical_poll_datetime`: the same
 *   backfill, from that day to today, beside the live queue (`pipeline/prepull.ts`).
 * This module parses the command and gives both the bucket's lister and reader; the passes are
 * the pipeline's (`pipeline/backfill_command.ts`, `pipeline/prepull.ts`). Both keep a cursor in
 * the input's state folder and use the input's state store, so a restart goes on where it
 * stopped and an object already delivered is not sent again.
 * @module
 */
import { createClients } from "../aws/clients.ts";
import { S3ObjectReader } from "../aws/s3.ts";
import { S3Lister } from "../aws/s3_list.ts";
import { loadConfig } from "../config/load.ts";
import type { Config, InputConfig } from "../config/types.ts";
import { CollectorError } from "../errors.ts";
import type { EventOutput, ObjectReader } from "../pipeline/ports.ts";
import { viewOf } from "../pipeline/ports.ts";
import { logSummary } from "../pipeline/prepull.ts";
import type { LakeSource } from "../pipeline/prepull.ts";
import { runBackfillCommand } from "../pipeline/backfill_command.ts";
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
import {
  commandCursor,
  commandListing,
  prePullStarted,
  stateDirOf,
} from "../state/backfill_job.ts";
import { BackfillProgress, startProgressDisplay } from "../telemetry/backfill_progress.ts";
import type { ProgressDisplay } from "../telemetry/backfill_progress.ts";
import { logEvent, Telemetry } from "../telemetry/events.ts";
import { setupLogging } from "../telemetry/log.ts";
import type { LogLevel } from "../telemetry/log.ts";
import { humanBytes } from "../telemetry/stats.ts";
import { createOutput } from "./outputs.ts";
import { budgetedOutput, logMemoryPlan, memoryPlan, startMemoryGuard } from "./memory.ts";
import type { MemoryGuard } from "../pipeline/memory_guard.ts";
import { EXIT } from "./exit_codes.ts";
import { parseCommand, usageError } from "./usage.ts";
import type { DecodePool } from "../parquet/decode.ts";
import { formatterFactory, inputObjectOptions, startDecodePool } from "./object_options.ts";
import { compileObfuscation } from "../transform/obfuscate.ts";

const encoder = new TextEncoder();

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

/** The lister and reader of `input`'s bucket, for `seclake backfill` and the PrePull step. */
export function lakeSource(input: InputConfig): (telemetry: Telemetry) => LakeSource {
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
  const request = parseBackfillArgs(args, (options.now ?? (() => new Date()))());
  if (request === undefined) return EXIT.ok;
  const config = await loadConfig(request.config, { backfillStarted: prePullStarted });
  const inputs = selectInputs(config, request.input);
  const progress = new BackfillProgress();
  const shown: { display?: ProgressDisplay } = {};
  await setupLogging({
    level: request.level ?? config.globals.log_level,
    format: config.globals.log_format,
    write: (line) =>
      shown.display ? shown.display.write(line) : Deno.stderr.writeSync(encoder.encode(line)),
  });
  const stop = stopSignal(options.signal, config.globals.shutdown_timeout_seconds);
  try {
    if (request.dryRun) {
      for (const input of inputs) {
        await dryRunInput(config, input, {
          ...request.window,
          signal: stop.signal,
          print: options.print ?? ((l) => console.log(l)),
        });
      }
      return 0;
    }
    return await backfillInputs(config, inputs, request.window, stop.signal, progress, shown);
  } finally {
    stop.dispose();
  }
}

/** What the window of a backfill is, from the command line. */
interface BackfillWindow {
  fromDay: string;
  toDay: string;
  /** `--to` was given (else the window ends today). */
  toGiven: boolean;
  shard?: Shard;
  sources?: readonly string[];
}

/** The arguments of `seclake backfill`, checked. */
interface BackfillRequest {
  config: string;
  level?: LogLevel;
  input?: string;
  dryRun: boolean;
  window: BackfillWindow;
}

/**
 * Parses and checks the arguments of `seclake backfill` (`USAGE` errors), as of `now`;
 * undefined when help was asked (and printed).
 */
function parseBackfillArgs(args: string[], now: Date): BackfillRequest | undefined {
  const parsed = parseCommand("backfill", args, {
    config: { type: "string", short: "c" },
    from: { type: "string" },
    to: { type: "string" },
    sources: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    shard: { type: "string" },
    input: { type: "string" },
    "log-level": { type: "string" },
  });
  if (parsed === undefined) return undefined;
  const values: Record<string, string | boolean | undefined> = parsed.values;
  if (typeof values.config !== "string") {
    throw usageError("backfill", "backfill needs --config FILE");
  }
  if (typeof values.from !== "string") throw usageError("backfill", "backfill needs --from DATE");
  const level = values["log-level"] as string | undefined;
  if (level !== undefined && !["debug", "info", "warning", "error"].includes(level)) {
    throw usageError(
      "backfill",
      `--log-level must be one of debug, info, warning, error: got ${JSON.stringify(level)}`,
    );
  }
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
  return {
    config: values.config,
    level: level as LogLevel | undefined,
    input: typeof values.input === "string" ? values.input : undefined,
    dryRun: values["dry-run"] === true,
    window: { fromDay, toDay, toGiven: typeof values.to === "string", shard, sources },
  };
}

/** The inputs to backfill: the one named `wanted`, or every security_lake input. */
function selectInputs(config: Config, wanted: string | undefined): InputConfig[] {
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
  return inputs;
}

/**
 * A signal that SIGINT, SIGTERM or `outer` abort (a signal logs the stopping line, with the
 * `seconds` work in progress gets); `dispose` removes the listeners.
 */
function stopSignal(
  outer: AbortSignal | undefined,
  seconds: number,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  outer?.addEventListener("abort", stop, { once: true });
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const onSignal = new Map(signals.map((s) => [s, () => {
    if (!controller.signal.aborted) logEvent("stop_signal", { signal: s, seconds });
    stop();
  }]));
  for (const [s, f] of onSignal) Deno.addSignalListener(s, f);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [s, f] of onSignal) Deno.removeSignalListener(s, f);
      outer?.removeEventListener("abort", stop);
    },
  };
}

/**
 * Backfills `inputs` one after the other into the configured outputs, with the progress shown
 * in `shown`; the exit code.
 */
async function backfillInputs(
  config: Config,
  inputs: readonly InputConfig[],
  window: BackfillWindow,
  signal: AbortSignal,
  progress: BackfillProgress,
  shown: { display?: ProgressDisplay },
): Promise<number> {
  const terminal = Deno.stderr.isTerminal();
  const outputs: EventOutput[] = [];
  let decodePool: DecodePool | undefined;
  let memoryGuard: MemoryGuard | undefined;
  const telemetry = new Telemetry();
  try {
    // As `seclake run` has them: within the memory budget.
    const memory = memoryPlan(config);
    logMemoryPlan(memory, telemetry);
    memoryGuard = startMemoryGuard(memory);
    for (const o of config.outputs) {
      outputs.push(await createOutput(budgetedOutput(o, memory.knobs)));
    }
    decodePool = startDecodePool(config.globals, memory.knobs);
    shown.display = startProgressDisplay(progress, {
      terminal,
      log: (line) => telemetry.emit("backfill_progress", { line }),
    });
    let ok = true;
    for (const input of inputs) {
      if (signal.aborted) break;
      const summary = await runBackfillCommand({
        ...window,
        config,
        input,
        outputs,
        formatterFor: formatterFactory(config, input),
        objectOptions: inputObjectOptions(
          input,
          compileObfuscation(input.services.events.obfuscation),
          decodePool,
          memory.knobs,
        ),
        maxConcurrentObjects: memory.knobs.maxConcurrentObjects,
        telemetry,
        progress,
        signal,
        open: (t) => {
          const source = lakeSource(input)(t);
          return { ...source, reader: countingReader(source.reader, progress) };
        },
      });
      logSummary(telemetry, input.name, summary);
      if (summary.error) throw summary.error;
      if (!summary.ok) ok = false;
    }
    shown.display.stop();
    shown.display = undefined;
    telemetry.emit("backfill_progress", { line: progress.line() });
    return ok && !signal.aborted ? 0 : 1;
  } finally {
    const display = shown.display;
    shown.display = undefined;
    display?.stop();
    decodePool?.close();
    memoryGuard?.stop();
    await closeOutputs(outputs, telemetry);
  }
}

/** `reader`, telling `progress` the bytes read of each object while it is read. */
function countingReader(reader: ObjectReader, progress: BackfillProgress): ObjectReader {
  return {
    get requests() {
      return reader.requests;
    },
    async open(ref, signal, options) {
      const opened = await reader.open(ref, signal, options);
      const { buffer } = opened;
      const count = (b: ArrayBuffer) => {
        progress.onBytesRead(ref.key, b.byteLength, opened.size);
        return b;
      };
      return viewOf(opened, {
        buffer: {
          byteLength: buffer.byteLength,
          slice: (start: number, end?: number) => {
            const b = buffer.slice(start, end);
            return b instanceof Promise ? b.then(count) : count(b);
          },
        },
      });
    },
  };
}

/** Closes `outputs` and logs what each one had confirmed. */
async function closeOutputs(outputs: readonly EventOutput[], telemetry: Telemetry): Promise<void> {
  await Promise.allSettled(outputs.map((o) => o.close()));
  for (const o of outputs) {
    telemetry.emit("output_confirmed_total", {
      output: o.name,
      events: o.stats.eventsSent,
      bytes: o.stats.bytesSent,
    });
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
async function dryRunInput(
  config: Config,
  input: InputConfig,
  given: DryRunOptions,
): Promise<void> {
  const bucket = input.bucket!;
  const clients = createClients(input);
  // The table is printed whole once listed, so that no log line (credentials, retries) lands
  // inside it.
  const table: string[] = [];
  const o = { ...given, print: (line: string) => table.push(line) };
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
        ...commandListing(input, o),
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
      `${skipped} object${
        skipped === 1 ? "" : "s"
      } not read (side files such as .json, or metadata/; other objects that are not Parquet are counted as the backfill reads them)` +
        (cursor.doneThrough || cursor.size > 0
          ? "; partitions this job already finished are left out"
          : "") +
        "; objects already delivered are counted, and skipped when the backfill runs",
    );
  } finally {
    clients.destroy();
    for (const line of table) given.print(line);
  }
}

function row(day: string, source: string, objects: number, bytes: number): string {
  return `${day.padEnd(10)}  ${source.padEnd(24)}  ${String(objects).padStart(8)}  ${
    String(bytes).padStart(14)
  }  ${humanBytes(bytes)}`;
}
