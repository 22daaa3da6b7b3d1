/**
 * Listing a lake for a backfill: every key layout, oldest day first, filters, the cursor, shards
 * and the date window.
 */
import assert from "node:assert/strict";
import type { ListedObject, ListOptions } from "../aws/s3_list.ts";
import { CollectorError } from "../errors.ts";
import { fnv1a32 } from "../fnv.ts";
import {
  checkWindow,
  discoverRoots,
  enumerateBackfill,
  inShard,
  nextDay,
  parseBackfillDay,
  parseShard,
} from "../source/backfill.ts";
import type { DayBatch, Lister } from "../source/backfill.ts";

// ---- a lister over a list of keys ----------------------------------------------------------------

class FakeLister implements Lister {
  readonly calls: string[] = [];
  readonly keys: string[];
  constructor(keys: string[]) {
    this.keys = [...keys].sort();
  }
  async *prefixes(prefix: string, options: ListOptions = {}): AsyncGenerator<string> {
    this.calls.push(`prefixes ${prefix}`);
    const seen = new Set<string>();
    for (const k of this.keys) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      const i = rest.indexOf("/");
      if (i < 0) continue;
      const p = prefix + rest.slice(0, i + 1);
      if (options.startAfter !== undefined && p <= options.startAfter) continue;
      if (!seen.has(p)) {
        seen.add(p);
        yield await Promise.resolve(p);
      }
    }
  }
  async *objects(prefix: string, options: ListOptions = {}): AsyncGenerator<ListedObject> {
    this.calls.push(`objects ${prefix}`);
    for (const k of this.keys) {
      if (!k.startsWith(prefix)) continue;
      if (options.startAfter !== undefined && k <= options.startAfter) continue;
      yield await Promise.resolve({ key: k, size: k.length, etag: "e" });
    }
  }
}

const D1 = "20240401";
const D2 = "20240402";
const D3 = "20240403";
const LAYOUT = [
  `aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=111122223333/eventDay=${D1}/a.gz.parquet`,
  `aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=111122223333/eventDay=${D2}/b.gz.parquet`,
  `aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=111122223333/eventDay=${D2}/notes.txt`,
  `aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=111122223333/eventDay=${D2}/manifest.json`,
  `aws/CLOUD_TRAIL_MGMT/2.0/region=eu-west-1/accountId=111122223333/eventDay=${D2}/c.gz.parquet`,
  `aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=999999999999/eventDay=${D2}/d.gz.parquet`,
  `aws/CLOUD_TRAIL_MGMT/2.0/metadata/00001-x.metadata.json`,
  `aws/CLOUD_TRAIL_MGMT/2.0/metadata/snap-1.parquet`,
  `aws/CLOUD_TRAIL_MGMT/1.0/region=us-east-1/accountId=111122223333/eventDay=${D3}/e.gz.parquet`,
  `aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=${D1}/f.gz.parquet`,
  `aws/LAMBDA_EXECUTION/2.0/region=us-east-1/accountId=111122223333/eventDay=${D1}/g.gz.parquet`,
  `ext/custom_app/region=us-east-1/accountId=external/eventDay=${D3}/h.parquet`,
  `ext/ACME_WAF/1.0/region=eu-central-1/accountid=external_acme/eventday=${D3}/w-3a8d80f4.gz`,
  `ext/ACME_WAF/1.0/region=eu-central-1/accountid=external_acme/eventday=${D3}/_SUCCESS`,
  `ext/versioned/1.0/region=us-east-1/accountId=111122223333/eventDay=${D2}/i.parquet`,
  `aws/CLOUD_TRAIL/region=us-east-1/accountId=111122223333/eventHour=${D2}07/j.gz.parquet`,
  `aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=111122223333/eventDay=20240301/old.parquet`,
  `unrelated/region=us-east-1/accountId=111122223333/eventDay=${D2}/k.parquet`,
];

async function collect(it: AsyncIterable<DayBatch>): Promise<DayBatch[]> {
  const out: DayBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

const keysOf = (batches: DayBatch[]) =>
  batches.flatMap((b) =>
    b.partitions.flatMap((p) => p.objects.map((o) => o.key.split("/").at(-1)))
  );

Deno.test("enumeration: every layout, oldest day first, never the whole bucket", async () => {
  const lister = new FakeLister(LAYOUT);
  const batches = await collect(enumerateBackfill(lister, { bucket: "b", fromDay: D1, toDay: D3 }));
  assert.deepEqual(batches.map((b) => b.day), [D1, D2, D3]);
  assert.deepEqual(keysOf(batches), [
    "a.gz.parquet",
    "g.gz.parquet",
    "f.gz.parquet",
    "j.gz.parquet",
    "c.gz.parquet",
    "b.gz.parquet",
    "notes.txt",
    "d.gz.parquet",
    "i.parquet",
    "e.gz.parquet",
    "w-3a8d80f4.gz",
    "h.parquet",
  ]);
  // Names decide only for side files; anything else is read and its content decides.
  const skipped = batches.flatMap((b) => b.partitions.flatMap((p) => p.skipped));
  assert.deepEqual(skipped.map((s) => [s.key.split("/").at(-1), s.reason]), [
    ["manifest.json", "non_data_file"],
    ["_SUCCESS", "non_data_file"],
  ]);
  // Listings stay inside aws/ and ext/; objects are listed per day partition only; metadata/
  // is never entered.
  assert.ok(lister.calls.every((c) => / (aws|ext)\//.test(c)), lister.calls.join("\n"));
  for (const c of lister.calls.filter((c) => c.startsWith("objects "))) {
    assert.match(c, /\/event(Day|Hour)=\d+\/$/i);
  }
  assert.ok(!lister.calls.some((c) => c.includes("metadata")));
  // The custom source without a version and with an external account is found.
  const roots = await discoverRoots(new FakeLister(LAYOUT));
  const custom = roots.find((r) => r.source === "custom_app")!;
  assert.deepEqual(custom, {
    kind: "ext",
    source: "custom_app",
    region: "us-east-1",
    account: "external",
    prefix: "ext/custom_app/region=us-east-1/accountId=external/",
  });
});

Deno.test("enumeration: sources, accounts, regions and the day range filter", async () => {
  const run = (filter: Parameters<typeof discoverRoots>[1], from = D1, to = D3) =>
    collect(
      enumerateBackfill(new FakeLister(LAYOUT), { bucket: "b", fromDay: from, toDay: to, filter }),
    ).then(keysOf);
  assert.deepEqual(await run({ includeSources: ["VPC_FLOW", "custom_app"] }), [
    "f.gz.parquet",
    "h.parquet",
  ]);
  assert.deepEqual(
    await run({ excludeSources: ["LAMBDA_EXECUTION", "CLOUD_TRAIL", "CLOUD_TRAIL_MGMT"] }),
    ["f.gz.parquet", "i.parquet", "w-3a8d80f4.gz", "h.parquet"],
  );
  // Lower-case partition names, and account values that are no AWS account.
  assert.deepEqual(await run({ accounts: ["external_acme"], regions: ["eu-central-1"] }), [
    "w-3a8d80f4.gz",
  ]);
  assert.deepEqual(
    await run({
      accounts: ["111122223333"],
      regions: ["us-east-1"],
      includeSources: ["CLOUD_TRAIL_MGMT"],
    }),
    ["a.gz.parquet", "b.gz.parquet", "notes.txt", "e.gz.parquet"],
  );
  // Within a day, partitions go in key order.
  assert.deepEqual(await run({ includeSources: ["CLOUD_TRAIL_MGMT"] }, D2, D2), [
    "c.gz.parquet",
    "b.gz.parquet",
    "notes.txt",
    "d.gz.parquet",
  ]);
  // With include_sources, only those sources' prefixes are listed (least-privilege policies).
  const only = new FakeLister(LAYOUT);
  await collect(
    enumerateBackfill(only, {
      bucket: "b",
      fromDay: D1,
      toDay: D3,
      filter: { includeSources: ["VPC_FLOW", "custom_app"] },
    }),
  );
  assert.ok(
    only.calls.every((c) => / (aws\/VPC_FLOW|ext\/custom_app)\//.test(c)),
    only.calls.join("\n"),
  );
  // Older partitions exist but lie before --from: never listed.
  const lister = new FakeLister(LAYOUT);
  await collect(enumerateBackfill(lister, { bucket: "b", fromDay: D1, toDay: D3 }));
  assert.ok(!lister.calls.some((c) => c.includes("eventDay=20240301")));
});

Deno.test("enumeration: the cursor skips done partitions and resumes after the last key", async () => {
  const keys = [1, 2, 3, 4].map((i) =>
    `aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=${D1}/${i}.parquet`
  );
  keys.push(`aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=${D2}/5.parquet`);
  const p1 = `aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=${D1}/`;
  const p2 = `aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=${D2}/`;
  const at: Record<string, { last?: string; done?: boolean }> = {
    [p1]: { last: keys[1] },
    [p2]: { done: true },
  };
  const lister = new FakeLister(keys);
  const batches = await collect(
    enumerateBackfill(lister, {
      bucket: "b",
      fromDay: D1,
      toDay: D2,
      cursor: { get: (p) => at[p] ?? {} },
    }),
  );
  assert.deepEqual(keysOf(batches), ["3.parquet", "4.parquet"]);
  assert.equal(batches[1]!.partitions[0]!.alreadyDone, true);
  assert.ok(!lister.calls.includes(`objects ${p2}`));
});

Deno.test("shards: FNV-1a, i/n parsing, and n shards cover every key once", () => {
  assert.equal(fnv1a32(""), 0x811c9dc5);
  assert.equal(fnv1a32("a"), 0xe40c292c);
  assert.equal(fnv1a32("foobar"), 0xbf9cf968);
  assert.deepEqual(parseShard("1/4"), { index: 1, count: 4 });
  for (const bad of ["4/4", "1", "-1/2", "a/b", "0/0", "1/2000"]) {
    assert.throws(() => parseShard(bad), (e) => e instanceof CollectorError && e.id === 61, bad);
  }
  const keys = Array.from({ length: 500 }, (_, i) => `aws/X/2.0/k-${i}.parquet`);
  for (const n of [1, 2, 3, 7]) {
    const counts = keys.map((k) =>
      Array.from({ length: n }, (_, i) => inShard(k, { index: i, count: n })).filter(Boolean).length
    );
    assert.ok(counts.every((c) => c === 1), `n=${n}`);
    for (let i = 0; i < n; i++) {
      assert.ok(keys.some((k) => inShard(k, { index: i, count: n })), `shard ${i}/${n} empty`);
    }
  }
});

Deno.test("dates: --from/--to forms and the one-year window", () => {
  assert.equal(parseBackfillDay("2024-04-10", "--from"), "20240410");
  assert.equal(parseBackfillDay("2024-04-10T23:30:00-02:00", "--from"), "20240411");
  assert.equal(parseBackfillDay("2024-04-10T01:00:00.5Z", "--to"), "20240410");
  assert.equal(nextDay("20241231"), "20250101");
  const setup60 = (e: unknown) => e instanceof CollectorError && e.id === 60;
  for (
    const bad of ["2024-02-30", "yesterday", "20240410", "2024-04-10T25:00:00Z", "2024-04-10T10:00"]
  ) {
    assert.throws(() => parseBackfillDay(bad, "--from"), setup60, bad);
  }
  const now = new Date("2025-06-15T12:00:00Z");
  checkWindow("20240616", "20250615", { now });
  assert.throws(() => checkWindow("20240614", "20250615", { now }), /more than 365 days back/);
  assert.throws(
    () => checkWindow("20250616", "20250616", { now }),
    /--from 2025-06-16 is in the future/,
  );
  assert.throws(
    () => checkWindow("20250601", "20250616", { now }),
    /--to 2025-06-16 is in the future/,
  );
  assert.throws(() => checkWindow("20250610", "20250601", { now }), setup60);
});
