/**
 * One `seclake backfill` of one input: the input's state store (the one `seclake run` uses, so
 * an object completed either way is sent once) and its job's cursor are opened, the days of the
 * window are listed and read through {@link runBackfill}, and both are closed again. The CLI
 * gives it the bucket's lister and reader.
 * @module
 */
import type { Config, InputConfig } from "../config/types.ts";
import { enumerateBackfill, formatDay } from "../source/backfill.ts";
import { BackfillCursor } from "../state/backfill_cursor.ts";
import { commandCursor, commandListing, stateDirOf } from "../state/backfill_job.ts";
import type { CommandJob } from "../state/backfill_job.ts";
import type { StateStore } from "../state/store.ts";
import type { BackfillProgress } from "../telemetry/backfill_progress.ts";
import type { Telemetry } from "../telemetry/events.ts";
import type { LineFormatter } from "../transform/line.ts";
import { runBackfill } from "./backfill_runner.ts";
import { openInputState } from "./input_state.ts";
import type { BackfillSummary } from "./backfill_runner.ts";
import type { InputObjectOptions } from "./object_processor.ts";
import type { EventOutput } from "./ports.ts";
import type { LakeSource } from "./prepull.ts";

/** Options for {@link runBackfillCommand}: the job's window, and what it reads and writes with. */
export interface BackfillCommandRun extends CommandJob {
  config: Config;
  input: InputConfig;
  outputs: readonly EventOutput[];
  formatterFor: (startMs: number) => LineFormatter;
  /** The input's obfuscation, size limits and decode workers, as `seclake run` has them. */
  objectOptions: InputObjectOptions;
  telemetry: Telemetry;
  progress: BackfillProgress;
  signal: AbortSignal;
  /** Opens the bucket's lister and object reader (the CLI builds them from AWS clients). */
  open: (telemetry: Telemetry) => LakeSource;
  /** Most objects read at once, as the memory budget allows. Default: no limit. */
  maxConcurrentObjects?: number;
}

/** Backfills `o.input` over the job's window; the summary of the pass. */
export async function runBackfillCommand(o: BackfillCommandRun): Promise<BackfillSummary> {
  const { config, input } = o;
  const bucket = input.bucket!;
  const source = o.open(o.telemetry);
  let state: StateStore | undefined;
  let cursor: BackfillCursor | undefined;
  try {
    state = await openInputState(config, input, o.telemetry);
    const { job, file } = commandCursor(input, o);
    const c = await BackfillCursor.open(stateDirOf(config, input), { job, file });
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
    return await runBackfill({
      batches: enumerateBackfill(source.lister, {
        ...commandListing(input, o),
        cursor,
        signal: o.signal,
        onPlan: (plan) => o.progress.onPlan(plan),
      }),
      reader: source.reader,
      outputs: o.outputs,
      formatterFor: o.formatterFor,
      state,
      cursor,
      concurrency: Math.min(input.backfill_concurrency, o.maxConcurrentObjects ?? Infinity),
      signal: o.signal,
      shutdownTimeoutMs: config.globals.shutdown_timeout_seconds * 1000,
      telemetry: o.telemetry,
      progress: o.progress,
      objectOptions: o.objectOptions,
    });
  } finally {
    await cursor?.close().catch(() => {});
    await state?.close().catch(() => {});
    source.close();
  }
}
