/**
 * What `seclake run` and `seclake backfill` set up alike for reading objects: the decode workers
 * and, per input, the options every object of it is processed with, whichever path reads it (the
 * queue, `historical_poll_datetime`, `seclake backfill`). One place, so the paths cannot drift.
 * @module
 */
import type { Config, GlobalsConfig, InputConfig } from "../config/types.ts";
import { DecodePool, limitsFor } from "../parquet/decode.ts";
import type { BudgetKnobs } from "../pipeline/memory_budget.ts";
import type { InputObjectOptions } from "../pipeline/object_processor.ts";
import type { Obfuscator } from "../transform/obfuscate.ts";
import { tagChooser } from "../source/partition.ts";
import { LineFormatter } from "../transform/line.ts";

/**
 * The decode workers of `globals.decode_threads` (at most one per CPU), started in the
 * background, as many and holding as much as the memory plan `knobs` allows; undefined for 0
 * (decoding on the main thread).
 */
export function startDecodePool(
  globals: GlobalsConfig,
  knobs?: BudgetKnobs,
): DecodePool | undefined {
  const threads = Math.min(
    knobs?.decodeThreads ?? globals.decode_threads,
    navigator.hardwareConcurrency || 1,
  );
  if (threads < 1) return undefined;
  const pool = new DecodePool({
    threads,
    aheadBytes: knobs?.aheadBytes,
    readAheadBytes: knobs?.readAheadBytes,
    readAheadStrict: knobs?.limitBytes !== undefined,
  });
  void pool.prestart();
  return pool;
}

/**
 * The options every object of `input` is processed with: its obfuscation and size limits, and
 * the reads and row groups the memory plan `knobs` allows.
 */
export function inputObjectOptions(
  input: InputConfig,
  obfuscator: Obfuscator | undefined,
  decodePool: DecodePool | undefined,
  knobs?: BudgetKnobs,
): InputObjectOptions {
  return {
    obfuscator,
    ...(knobs?.rowGroupBytes === undefined ? {} : {
      parquetLimits: {
        ...limitsFor(input.max_object_bytes),
        maxRowGroupMemoryBytes: knobs.rowGroupBytes,
      },
    }),
    ...(knobs === undefined ? {} : { groupReadBytes: knobs.groupReadBytes }),
    // The garbage of a row group that is a sizeable share of the budget is freed at once.
    ...(knobs?.rowGroupBytes === undefined
      ? {}
      : { freeBuffersFrom: Math.floor(knobs.rowGroupBytes / 4) }),
    maxObjectBytes: input.max_object_bytes,
    maxEventBytes: input.max_event_bytes,
    oversizedEvents: input.oversized_events,
    decodePool,
    rules: { drop: input.services.events.drop_events, routes: input.services.events.tag_routes },
    sourceFields: input.services.events.source_fields,
    input: input.name,
  };
}

/** This machine's host name, for the syslog header when no output sets `hostname`. */
export function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}

/**
 * The line formatter of one pull of `input` (its start time names the pull), as every path
 * formats lines: the first output's `hostname` or this machine's, the input's tag and tag map.
 */
export function formatterFactory(
  config: Config,
  input: InputConfig,
): (pullStartMs: number) => LineFormatter {
  const host = config.outputs.find((o) => o.hostname)?.hostname ?? hostname();
  const events = input.services.events;
  const tagFor = tagChooser(events.tag, events.devo_tag_map);
  return (pullStart) =>
    new LineFormatter({
      hostname: host,
      tag: events.tag,
      tagFor,
      pullingId: events.add_pulling_id ? String(pullStart) : undefined,
    });
}
