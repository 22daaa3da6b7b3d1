/**
 * What a Security Lake key says about its object — source, region, account, day — and the
 * live path's object selection: `include_sources` / `exclude_sources`, `accounts`, `regions`
 * and the Devo tag chosen per source (`devo_tag_map`).
 * Keys look like `aws/<SOURCE>/<version>/region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/<file>`,
 * the preview-era `aws/<SOURCE>/region=<r>/accountId=<a>/eventHour=<YYYYMMDDHH>/<file>`, or
 * `ext/<name>/[<version>/]region=.../...`; positions are not assumed, `key=value` segments are
 * read wherever they are, and partition names match in any letter case (custom sources often
 * write `accountid=` and `eventday=`). Values are kept as written: an account may be any
 * string (`external`, an Azure subscription id), and so may a region.
 * @module
 */

/** The partition facts of one key. */
export interface Partition {
  /** `aws/<SOURCE>` or `ext/<name>` source name, when the key has that shape. */
  readonly source?: string;
  /** The source's version folder (`2.0` in `aws/<SOURCE>/2.0/...`), when there is one. */
  readonly version?: string;
  readonly region?: string;
  readonly account?: string;
  readonly day?: string;
}

/** Reads the partition facts of `key`. */
export function partitionOf(key: string): Partition {
  const parts = key.split("/");
  const out: {
    source?: string;
    version?: string;
    region?: string;
    account?: string;
    day?: string;
  } = {};
  if ((parts[0] === "aws" || parts[0] === "ext") && parts.length > 2) {
    out.source = parts[1];
    if (parts.length > 3 && !parts[2]!.includes("=")) out.version = parts[2];
  }
  for (const p of parts) {
    const eq = p.indexOf("=");
    if (eq <= 0) continue;
    const k = p.slice(0, eq).toLowerCase();
    const v = p.slice(eq + 1);
    if (k === "region") out.region = v;
    else if (k === "accountid") out.account = v;
    else if (k === "eventday" || k === "eventhour") out.day = v.slice(0, 8);
  }
  return out;
}

/**
 * The `"@source"` member (`services.events.source_fields`) of the events of object `key` in
 * `bucket`: what the key says of them, the facts it lacks left out.
 */
export function sourceMember(bucket: string | undefined, key: string): string {
  const p = partitionOf(key);
  const o: Record<string, string> = {};
  if (bucket !== undefined) o.bucket = bucket;
  o.key = key;
  if (p.source !== undefined) o.source = p.source;
  if (p.version !== undefined) o.source_version = p.version;
  if (p.account !== undefined) o.account = p.account;
  if (p.region !== undefined) o.region = p.region;
  if (p.day !== undefined) o.event_day = p.day;
  return `"@source":${JSON.stringify(o)}`;
}

/** Why the live path does not read an object the filters exclude. */
export type FilterReason = "source_excluded" | "account_excluded" | "region_excluded";

/** Settings of the selection. */
export interface SelectionOptions {
  readonly include_sources?: readonly string[];
  readonly exclude_sources?: readonly string[];
  readonly accounts?: readonly string[];
  readonly regions?: readonly string[];
}

/**
 * A selector for the live path: given a key, the reason it is filtered out, or undefined. A key
 * without the partition a filter needs (say, no `accountId=` while `accounts` is set) is kept:
 * filters never drop what they cannot judge.
 */
export function selector(o: SelectionOptions): (key: string) => FilterReason | undefined {
  const none = !o.include_sources && !o.exclude_sources && !o.accounts && !o.regions;
  if (none) return () => undefined;
  return (key) => {
    const p = partitionOf(key);
    if (p.source !== undefined) {
      if (o.include_sources && !o.include_sources.includes(p.source)) return "source_excluded";
      if (o.exclude_sources?.includes(p.source)) return "source_excluded";
    }
    if (p.account !== undefined && o.accounts && !o.accounts.includes(p.account)) {
      return "account_excluded";
    }
    if (p.region !== undefined && o.regions && !o.regions.includes(p.region)) {
      return "region_excluded";
    }
    return undefined;
  };
}

/** The Devo tag for an object of `key`: `devo_tag_map[source]`, its `default`, or `tag`. */
export function tagChooser(
  tag: string,
  map?: Readonly<Record<string, string>>,
): (key: string) => string {
  if (!map) return () => tag;
  return (key) => {
    const source = partitionOf(key).source;
    return (source !== undefined ? map[source] : undefined) ?? map.default ?? tag;
  };
}
