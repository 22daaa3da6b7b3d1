/**
 * The identity of a backfill job, as its cursor records it: which input, bucket, filters and
 * window it covers. A cursor whose job differs is started again; `seclake backfill` keeps one
 * cursor file per job so that shards can share an input's state folder.
 * @module
 */
import { join } from "node:path";
import type { Config, InputConfig } from "../config/types.ts";
import { BackfillCursor } from "./backfill_cursor.ts";
import { fnv1a32 } from "../fnv.ts";

/** Which partitions a backfill reads; an absent list means all. */
export interface JobFilter {
  /** Only these sources (the name after `aws/` or `ext/`). */
  readonly includeSources?: readonly string[];
  /** Not these sources. */
  readonly excludeSources?: readonly string[];
  /** Only these `accountId=` values. */
  readonly accounts?: readonly string[];
  /** Only these `region=` values. */
  readonly regions?: readonly string[];
}

/** A `seclake backfill` job's window and shard. */
export interface CommandJob {
  fromDay: string;
  toDay: string;
  toGiven: boolean;
  shard?: { readonly index: number; readonly count: number };
  sources?: readonly string[];
}

/**
 * What a command job lists for `input`: its window, sources and shard as the options of
 * `enumerateBackfill`; the same for the backfill and its dry run.
 */
export function commandListing(
  input: InputConfig,
  o: CommandJob,
): {
  bucket: string;
  fromDay: string;
  toDay: string;
  filter: ReturnType<typeof filterOf>;
  shard?: CommandJob["shard"];
} {
  return {
    bucket: input.bucket!,
    fromDay: o.fromDay,
    toDay: o.toDay,
    filter: filterOf(input, o.sources),
    shard: o.shard,
  };
}

/** What identifies a backfill job, for its cursor. */
export function jobOf(
  input: InputConfig,
  kind: "run" | "command",
  extra: Record<string, unknown>,
  filter: JobFilter,
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

export function filterOf(input: InputConfig, sources?: readonly string[]): JobFilter {
  const events = input.services.events;
  return {
    includeSources: sources ?? events.include_sources,
    excludeSources: events.exclude_sources,
    accounts: input.accounts,
    regions: input.regions,
  };
}

/** The state folder of `input` (as `seclake run` uses it). */
export function stateDirOf(config: Config, input: InputConfig): string {
  return join(config.globals.persistence.directory_name, input.name);
}

/** The cursor file of a `seclake backfill` job: one per job, so shards can share a folder. */
export function commandCursor(
  input: InputConfig,
  o: CommandJob,
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
export function prePullJob(input: InputConfig): Record<string, unknown> {
  const from = input.historical_poll_datetime;
  return jobOf(input, "run", { historical_poll_datetime: from }, filterOf(input));
}
