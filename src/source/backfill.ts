/**
 * What a backfill reads: the lake's partitions from one day to another, found by listing
 * prefixes, never the whole bucket. Sources (`aws/<SOURCE>/`, `ext/<name>/`), their versions
 * (`1.0`, `2.0`, or none in the preview-era and some custom layouts), regions and accounts are
 * discovered with `Delimiter` listings, then the `eventDay=` (or preview-era `eventHour=`)
 * prefixes of each account, then each day's objects, oldest day first. Partition names match in
 * any letter case (`accountid=`, `eventday=`); their values are any string. Filters (sources,
 * accounts, regions), the side-file rule of live notifications (`skipReason`) and sharding
 * (`--shard i/n`, FNV-1a of the key) apply here. Also the day
 * arithmetic and the parsing of `--from`, `--to` and `--shard`.
 * @module
 */
import { NATIVE_SOURCES as NATIVE_SOURCE_NAMES } from "../config/schema.ts";
import type { ListedObject, ListOptions } from "../aws/s3_list.ts";
import { CollectorError } from "../errors.ts";
import { skipReason } from "./notification.ts";
import type { SkipReason } from "./notification.ts";
import { fnv1a32 } from "../fnv.ts";
import type { JobFilter } from "../state/backfill_job.ts";

/** Lists a bucket (an `S3Lister`, or a stand-in in tests). */
export interface Lister {
  /** Common prefixes directly under `prefix`, in key order. */
  prefixes(prefix: string, options?: ListOptions): AsyncIterable<string>;
  /** Objects under `prefix`, in key order. */
  objects(prefix: string, options?: ListOptions): AsyncIterable<ListedObject>;
}

/** Which partitions are read; an absent list means all (as a backfill job records it). */
export type BackfillFilter = JobFilter;

/** One of `count` instances sharing a backfill: this one takes the keys of shard `index`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** A source's partitions of one region and account (everything above the day). */
export interface PartitionRoot {
  /** `aws` for native sources, `ext` for custom sources. */
  readonly kind: "aws" | "ext";
  readonly source: string;
  /** Source version segment (`2.0`), absent in layouts without it. */
  readonly version?: string;
  readonly region: string;
  readonly account: string;
  /** E.g. `aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/`. */
  readonly prefix: string;
}

/** One day's partition of a root. */
export interface DayPartition {
  readonly root: PartitionRoot;
  /** `YYYYMMDD`. */
  readonly day: string;
  /** The root's prefix plus `eventDay=YYYYMMDD/` (or `eventHour=YYYYMMDDHH/`, any case). */
  readonly prefix: string;
}

/** An object to read. */
export interface BackfillObject {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
}

/** What one day's partition holds for this backfill. */
export interface PartitionBatch {
  readonly partition: DayPartition;
  /** The objects to read, in key order: after the cursor, filtered, of this shard. */
  readonly objects: readonly BackfillObject[];
  /** Keys not read because they are not Parquet data (`metadata/`, other files). */
  readonly skipped: readonly { readonly key: string; readonly reason: SkipReason }[];
  /** The cursor says the partition is done: it was not listed again. */
  readonly alreadyDone: boolean;
}

/** Every partition of one day. */
export interface DayBatch {
  /** `YYYYMMDD`. */
  readonly day: string;
  readonly partitions: readonly PartitionBatch[];
}

/** What discovery found, before any day is listed. */
export interface BackfillPlan {
  /** Partition roots selected. */
  readonly roots: readonly PartitionRoot[];
  /** Days (`YYYYMMDD`, ascending) that hold at least one selected partition. */
  readonly days: readonly string[];
}

/** Options for {@link enumerateBackfill}. */
export interface EnumerateOptions {
  /** The bucket, copied into each object. */
  bucket: string;
  /** First day read (`YYYYMMDD`), included. */
  fromDay: string;
  /** Last day read (`YYYYMMDD`), included. */
  toDay: string;
  /** Default: everything. */
  filter?: BackfillFilter;
  /** Default: all keys. */
  shard?: Shard;
  /** Where the backfill stands: done partitions are not listed, others resume after `last`. */
  cursor?: { get(prefix: string): { readonly last?: string; readonly done?: boolean } };
  /** Called once the partitions are discovered, before the first day is listed. */
  onPlan?: (plan: BackfillPlan) => void;
  signal?: AbortSignal;
}

const DAY_MS = 24 * 60 * 60 * 1000;

// ---- days ---------------------------------------------------------------------------------------

/** The UTC day of `date` as `YYYYMMDD`. */
export function dayOf(date: Date): string {
  return date.toISOString().slice(0, 10).replaceAll("-", "");
}

/** `YYYYMMDD` as `YYYY-MM-DD`. */
export function formatDay(day: string): string {
  return `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`;
}

/** The day after `day` (`YYYYMMDD`). */
export function nextDay(day: string): string {
  return dayOf(new Date(Date.parse(formatDay(day) + "T00:00:00Z") + DAY_MS));
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Parses a backfill date given as `--from` or `--to` (named by `option` in errors): a day
 * `YYYY-MM-DD`, or an RFC 3339 date-time (its UTC day counts). Returns `YYYYMMDD`; throws
 * `SetupError 60` for anything else.
 */
export function parseBackfillDay(text: string, option: string): string {
  const bad = (why: string): never => {
    throw new CollectorError("BACKFILL_DATE", `${option} ${JSON.stringify(text)} ${why}`, {
      context: { option, value: text },
    });
  };
  const t = text.trim();
  const m = DATE_ONLY.exec(t) ?? DATE_TIME.exec(t);
  if (!m) bad("is not a date: write YYYY-MM-DD (UTC) or an RFC 3339 date-time");
  const [y, mo, d] = [Number(m![1]), Number(m![2]), Number(m![3])];
  const probe = new Date(Date.UTC(y, mo - 1, d));
  if (probe.getUTCFullYear() !== y || probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d) {
    bad("names a day that does not exist");
  }
  if (m!.length > 4) {
    const [hh, mm, ss] = [Number(m![4]), Number(m![5]), Number(m![6])];
    if (hh > 23 || mm > 59 || ss > 60) bad("has a time that does not exist");
  }
  const ms = m!.length > 4 ? Date.parse(t.replace(" ", "T")) : probe.getTime();
  if (Number.isNaN(ms)) bad("is not a date: write YYYY-MM-DD (UTC) or an RFC 3339 date-time");
  return dayOf(new Date(ms));
}

/** Options for {@link checkWindow}. */
export interface WindowOptions {
  /** The current time. Default now. */
  now?: Date;
  /** Oldest start, in days back from today. Default 365 (as historical_poll_datetime). */
  maxAgeDays?: number;
}

/**
 * Checks that `fromDay`..`toDay` lies in the allowed window: not older than `maxAgeDays`, not in
 * the future, and in order; throws `SetupError 60` naming the option at fault.
 */
export function checkWindow(fromDay: string, toDay: string, options: WindowOptions = {}): void {
  const now = options.now ?? new Date();
  const maxAgeDays = options.maxAgeDays ?? 365;
  const today = dayOf(now);
  const oldest = dayOf(new Date(now.getTime() - maxAgeDays * DAY_MS));
  const fail = (option: string, day: string, why: string): never => {
    throw new CollectorError("BACKFILL_DATE", `${option} ${formatDay(day)} ${why}`, {
      context: { option, value: formatDay(day) },
    });
  };
  if (fromDay < oldest) {
    fail(
      "--from",
      fromDay,
      `is more than ${maxAgeDays} days back: the oldest allowed is ${formatDay(oldest)}`,
    );
  }
  if (fromDay > today) {
    fail("--from", fromDay, `is in the future: today is ${formatDay(today)} (UTC)`);
  }
  if (toDay > today) fail("--to", toDay, `is in the future: today is ${formatDay(today)} (UTC)`);
  if (toDay < fromDay) fail("--to", toDay, `comes before --from ${formatDay(fromDay)}`);
}

// ---- shards -------------------------------------------------------------------------------------

/** Whether `key` belongs to `shard` (always, without one). */
export function inShard(key: string, shard?: Shard): boolean {
  return shard === undefined || shard.count <= 1 || fnv1a32(key) % shard.count === shard.index;
}

/** Parses `--shard i/n` (0 <= i < n <= 1024); throws `SetupError 61`. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d{1,4})\s*\/\s*(\d{1,4})\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || count > 1024 || index >= count) {
    throw new CollectorError(
      "BACKFILL_SHARD",
      `--shard ${JSON.stringify(text)} is not i/n with 0 <= i < n <= 1024, e.g. 0/4`,
      { context: { value: text } },
    );
  }
  return { index, count };
}

// ---- filters ------------------------------------------------------------------------------------

/** Whether `source` passes the include and exclude lists. */
export function sourceSelected(filter: BackfillFilter, source: string): boolean {
  if (filter.includeSources && !filter.includeSources.includes(source)) return false;
  return !filter.excludeSources?.includes(source);
}

// ---- discovery ----------------------------------------------------------------------------------

/**
 * Native source names (`aws/<SOURCE>/`), including the preview-era `CLOUD_TRAIL`; any other
 * name is a custom source (`ext/<name>/`).
 */
export const NATIVE_SOURCES: ReadonlySet<string> = new Set([...NATIVE_SOURCE_NAMES, "CLOUD_TRAIL"]);

async function* asAsync<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield await Promise.resolve(item);
}

/** The last segment of a prefix ending with `/`. */
function segment(prefix: string): string {
  const trimmed = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** The value of a `name=value` segment, the name matched in any letter case. */
function partitionValue(seg: string, name: string): string | undefined {
  const eq = name.length;
  return seg.length > eq && seg[eq] === "=" && seg.slice(0, eq).toLowerCase() === name
    ? seg.slice(eq + 1)
    : undefined;
}

/**
 * Finds every selected partition root (`<kind>/<source>/[<version>/]region=<r>/accountId=<a>/`)
 * with `Delimiter` listings. Version folders are any segment that is not `key=value` and not
 * `metadata` (Iceberg metadata is never data).
 */
export async function discoverRoots(
  lister: Lister,
  filter: BackfillFilter = {},
  signal?: AbortSignal,
): Promise<PartitionRoot[]> {
  const roots: PartitionRoot[] = [];
  const regionLevel = async (
    prefix: string,
    kind: "aws" | "ext",
    source: string,
    version: string | undefined,
  ) => {
    const region = partitionValue(segment(prefix), "region");
    if (region === undefined || (filter.regions && !filter.regions.includes(region))) return;
    for await (const a of lister.prefixes(prefix, { signal })) {
      const account = partitionValue(segment(a), "accountid");
      if (account === undefined || (filter.accounts && !filter.accounts.includes(account))) {
        continue;
      }
      roots.push({ kind, source, ...(version ? { version } : {}), region, account, prefix: a });
    }
  };
  for (const kind of ["aws", "ext"] as const) {
    // With include_sources, only those sources' prefixes are listed, so a policy that allows
    // listing `aws/<SOURCE>/*` alone is enough.
    const sourcePrefixes = filter.includeSources
      ? asAsync(
        filter.includeSources
          .filter((s) => NATIVE_SOURCES.has(s) === (kind === "aws"))
          .sort()
          .map((s) => `${kind}/${s}/`),
      )
      : lister.prefixes(`${kind}/`, { signal });
    for await (const sourcePrefix of sourcePrefixes) {
      const source = segment(sourcePrefix);
      if (!sourceSelected(filter, source)) continue;
      for await (const child of lister.prefixes(sourcePrefix, { signal })) {
        const seg = segment(child);
        if (partitionValue(seg, "region") !== undefined) {
          await regionLevel(child, kind, source, undefined);
        } else if (seg === "metadata" || seg.includes("=")) continue;
        else {
          for await (const g of lister.prefixes(child, { signal })) {
            await regionLevel(g, kind, source, seg);
          }
        }
      }
    }
  }
  return roots;
}

/** The day (`YYYYMMDD`) of an `eventDay=` or `eventHour=` prefix segment, if it is one. */
function dayOfSegment(seg: string): string | undefined {
  const v = partitionValue(seg, "eventday") ?? partitionValue(seg, "eventhour");
  return v !== undefined && /^\d{8}(\d{2})?$/.test(v) ? v.slice(0, 8) : undefined;
}

/**
 * Yields the backfill one day at a time, oldest first: for each day, every selected partition
 * with the objects to read (each day is listed only when the previous one was taken).
 */
export async function* enumerateBackfill(
  lister: Lister,
  options: EnumerateOptions,
): AsyncGenerator<DayBatch> {
  const { bucket, fromDay, toDay, filter = {}, shard, cursor, signal } = options;
  const roots = await discoverRoots(lister, filter, signal);
  const byDay = new Map<string, DayPartition[]>();
  for (const root of roots) {
    // Day prefixes sort by date; start just before the first day wanted. In byte order the
    // upper-case name comes before every other spelling of eventDay= and eventHour= with that
    // day, so none of them is passed over.
    const startAfter = `${root.prefix}EVENTDAY=${fromDay}`;
    for await (const p of lister.prefixes(root.prefix, { signal, startAfter })) {
      const day = dayOfSegment(segment(p));
      if (day === undefined || day < fromDay || day > toDay) continue;
      let list = byDay.get(day);
      if (!list) byDay.set(day, list = []);
      list.push({ root, day, prefix: p });
    }
  }
  const days = [...byDay.keys()].sort();
  options.onPlan?.({ roots, days });
  for (const day of days) {
    const partitions = byDay.get(day)!.sort((a, b) => (a.prefix < b.prefix ? -1 : 1));
    const batches: PartitionBatch[] = [];
    for (const partition of partitions) {
      const at = cursor?.get(partition.prefix) ?? {};
      if (at.done) {
        batches.push({ partition, objects: [], skipped: [], alreadyDone: true });
        continue;
      }
      const objects: BackfillObject[] = [];
      const skipped: { key: string; reason: SkipReason }[] = [];
      for await (const o of lister.objects(partition.prefix, { signal, startAfter: at.last })) {
        const reason = skipReason(o.key);
        if (reason) skipped.push({ key: o.key, reason });
        else if (inShard(o.key, shard)) {
          objects.push({ bucket, key: o.key, size: o.size, ...(o.etag ? { etag: o.etag } : {}) });
        }
      }
      batches.push({ partition, objects, skipped, alreadyDone: false });
    }
    yield { day, partitions: batches };
  }
}
