/**
 * Backfill (issue 8): enumeration, filters, shards, dates, the listing adapter's retries, the
 * cursor and the object locks, then against moto and a line receiver: `seclake run` with
 * historical_poll_datetime beside SQS notifications for the same objects, `seclake backfill`
 * killed and restarted, two shards, a dry run, and the errors for bad input.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeOcsfParquet } from "../scripts/ocsf_fixtures.ts";
import type { OcsfClassUid } from "../scripts/ocsf_fixtures.ts";
import { S3Lister } from "../src/aws/s3_list.ts";
import type { ListClient, ListedObject, ListOptions } from "../src/aws/s3_list.ts";
import { CollectorError } from "../src/errors.ts";
import { BackfillProgress, formatDuration } from "../src/telemetry/backfill_progress.ts";
import { prePullStarted } from "../src/state/backfill_job.ts";
import { fnv1a32 } from "../src/fnv.ts";
import { loadConfig } from "../src/config/load.ts";
import { guardLivePath, ObjectLocks, runBackfill } from "../src/pipeline/backfill_runner.ts";
import { processObject } from "../src/pipeline/object_processor.ts";
import type { ObjectReader } from "../src/pipeline/ports.ts";
import { ConsoleOutput } from "../src/output/console.ts";
import {
  checkWindow,
  dayOf,
  discoverRoots,
  enumerateBackfill,
  inShard,
  nextDay,
  parseBackfillDay,
  parseShard,
} from "../src/source/backfill.ts";
import type { DayBatch, Lister } from "../src/source/backfill.ts";
import { LocalObjectReader } from "../src/source/directory.ts";
import { BackfillCursor } from "../src/state/backfill_cursor.ts";
import { StateStore } from "../src/state/store.ts";
import { LineFormatter } from "../src/transform/line.ts";
import { REPO, runCollectorProcess } from "./helpers/collector.ts";
import { parseDevoLine } from "./helpers/devo_line.ts";
import { createTestLake, eventBridgeBody, TEST_CREDENTIALS } from "./helpers/lake.ts";
import type { TestLake } from "./helpers/lake.ts";
import { MOTO_CA_FILE, startMoto } from "./helpers/moto.ts";
import { startTcpReceiver } from "./helpers/tls_receiver.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
const ENV = {
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  AWS_CA_BUNDLE: MOTO_CA_FILE,
};

/** The UTC day `n` days before today, as `YYYYMMDD`. */
const daysAgo = (n: number) => dayOf(new Date(Date.now() - n * DAY_MS));
const dashed = (day: string) => `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}`;

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
  `aws/CLOUD_TRAIL_MGMT/2.0/region=eu-west-1/accountId=111122223333/eventDay=${D2}/c.gz.parquet`,
  `aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=999999999999/eventDay=${D2}/d.gz.parquet`,
  `aws/CLOUD_TRAIL_MGMT/2.0/metadata/00001-x.metadata.json`,
  `aws/CLOUD_TRAIL_MGMT/2.0/metadata/snap-1.parquet`,
  `aws/CLOUD_TRAIL_MGMT/1.0/region=us-east-1/accountId=111122223333/eventDay=${D3}/e.gz.parquet`,
  `aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=${D1}/f.gz.parquet`,
  `aws/LAMBDA_EXECUTION/2.0/region=us-east-1/accountId=111122223333/eventDay=${D1}/g.gz.parquet`,
  `ext/custom_app/region=us-east-1/accountId=external/eventDay=${D3}/h.parquet`,
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
    "d.gz.parquet",
    "i.parquet",
    "e.gz.parquet",
    "h.parquet",
  ]);
  const skipped = batches.flatMap((b) => b.partitions.flatMap((p) => p.skipped));
  assert.deepEqual(skipped.map((s) => s.reason), ["not_parquet"]);
  // Listings stay inside aws/ and ext/; objects are listed per day partition only; metadata/
  // is never entered.
  assert.ok(lister.calls.every((c) => / (aws|ext)\//.test(c)), lister.calls.join("\n"));
  for (const c of lister.calls.filter((c) => c.startsWith("objects "))) {
    assert.match(c, /\/event(Day|Hour)=\d+\/$/);
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
    ["f.gz.parquet", "i.parquet", "h.parquet"],
  );
  assert.deepEqual(
    await run({
      accounts: ["111122223333"],
      regions: ["us-east-1"],
      includeSources: ["CLOUD_TRAIL_MGMT"],
    }),
    ["a.gz.parquet", "b.gz.parquet", "e.gz.parquet"],
  );
  // Within a day, partitions go in key order.
  assert.deepEqual(await run({ includeSources: ["CLOUD_TRAIL_MGMT"] }, D2, D2), [
    "c.gz.parquet",
    "b.gz.parquet",
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

Deno.test("progress: bar, line and ETA", () => {
  let t = 0;
  const p = new BackfillProgress({ now: () => t });
  p.onPlan({ roots: [], days: ["1", "2"] });
  p.onDayListed({
    day: "1",
    partitions: [{
      partition: { root: {} as never, day: "1", prefix: "x/" },
      objects: [{ bucket: "b", key: "k1", size: 1000 }, { bucket: "b", key: "k2", size: 1000 }],
      skipped: [],
      alreadyDone: false,
    }],
  });
  t = 10_000;
  p.onEvents(500);
  p.onObjectDone({ bucket: "b", key: "k1", size: 1000 }, {
    ok: true,
    ref: { bucket: "b", key: "k1" },
    events: 500,
    requests: 1,
    seconds: 1,
  });
  // One day of two listed: 4000 bytes estimated, 1000 done in 10 s: 30 s left.
  assert.equal(p.estimatedBytes, 4000);
  assert.equal(p.etaSeconds, 30);
  assert.match(p.bar(8), /^\[##\.\.\.\.\.\.\] {2}25% 1\/2\+ objects .* 50 events\/s ETA 30s$/);
  assert.match(
    p.line(),
    /1 of 2 objects .* 1 of 2 days listed, 0 failed, 500 events, 50\.0 events\/s/,
  );
  assert.equal(formatDuration(3725), "1h02m");
  assert.equal(formatDuration(undefined), "?");
});

// ---- the listing adapter ------------------------------------------------------------------------

function sdkError(name: string, status: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}

Deno.test("S3 listing: throttling is retried on the same page; errors map to the catalogue", async () => {
  const inputs: Record<string, unknown>[] = [];
  let n = 0;
  const client: ListClient = {
    send(command) {
      inputs.push({ ...command.input });
      n++;
      if (n === 2 || n === 3) return Promise.reject(sdkError("SlowDown", 503));
      if (n === 1) {
        return Promise.resolve({
          $metadata: {},
          Contents: [{ Key: "p/1.parquet", Size: 5, ETag: '"x1"' }],
          IsTruncated: true,
          NextContinuationToken: "T1",
        });
      }
      return Promise.resolve({ $metadata: {}, Contents: [{ Key: "p/2.parquet", Size: 6 }] });
    },
  };
  const retries: number[] = [];
  const lister = new S3Lister(client, "b", { retryBaseMs: 1, onRetry: (e) => retries.push(e.id) });
  const got: ListedObject[] = [];
  for await (const o of lister.objects("p/", { startAfter: "p/0" })) got.push(o);
  assert.deepEqual(got, [{ key: "p/1.parquet", size: 5, etag: "x1" }, {
    key: "p/2.parquet",
    size: 6,
  }]);
  assert.deepEqual(retries, [422, 422]);
  assert.equal(lister.requests, 4);
  assert.equal(inputs[0]!.StartAfter, "p/0");
  assert.equal(inputs[3]!.ContinuationToken, "T1");
  assert.equal(inputs[3]!.StartAfter, undefined);

  const failing = (e: Error): ListClient => ({ send: () => Promise.reject(e) });
  const first = async (c: ListClient) => {
    try {
      for await (
        const _ of new S3Lister(c, "b", { retryBaseMs: 1, attempts: 3 }).prefixes("aws/")
      ) {
        // nothing
      }
    } catch (e) {
      return e as CollectorError;
    }
    throw new Error("no error");
  };
  const throttled = await first(failing(sdkError("SlowDown", 503)));
  assert.equal(throttled.id, 422);
  assert.equal(throttled.retryable, true);
  assert.match(
    throttled.message,
    /ApiError 422: S3 ListObjectsV2 of s3:\/\/b\/aws\/ was throttled/,
  );
  const missing = await first(failing(sdkError("NoSuchBucket", 404)));
  assert.equal(missing.id, 420);
  assert.equal(missing.retryable, false);
  const denied = await first(failing(sdkError("AccessDenied", 403)));
  assert.equal(denied.id, 421);
  const server = await first(failing(sdkError("InternalError", 500)));
  assert.equal(server.id, 401);
});

// ---- the cursor ---------------------------------------------------------------------------------

Deno.test("cursor: persisted, compacted by day, restarted when the job changes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-cursor-" });
  try {
    const job = { bucket: "b", from: "2024-04-01T00:00:00.000Z", reset: "" };
    const pa = `aws/X/region=r/accountId=1/eventDay=${D1}/`;
    const pb = `aws/X/region=r/accountId=1/eventDay=${D2}/`;
    {
      const { cursor, report } = await BackfillCursor.open(dir, { job });
      assert.equal(report.restarted, false);
      await cursor.advance(pa, `${pa}1.parquet`);
      await cursor.advance(pa, `${pa}0.parquet`); // never moves back
      await cursor.advance(pb, `${pb}9.parquet`, true);
      await cursor.close();
      const mode = (await Deno.stat(cursor.path)).mode! & 0o777;
      if (Deno.build.os !== "windows") assert.equal(mode, 0o600);
    }
    {
      const { cursor } = await BackfillCursor.open(dir, { job: { ...job } });
      assert.deepEqual(cursor.get(pa), { last: `${pa}1.parquet` });
      assert.deepEqual(cursor.get(pb), { last: `${pb}9.parquet`, done: true });
      await cursor.doneThroughDay(D1);
      await cursor.close();
      assert.equal(cursor.size, 1);
      assert.deepEqual(cursor.get(pa), { done: true });
    }
    {
      const { cursor, report } = await BackfillCursor.open(dir, {
        job: { ...job, from: "2024-03-01T00:00:00.000Z" },
      });
      assert.equal(report.restarted, true);
      assert.deepEqual(cursor.get(pa), {});
      await cursor.close();
    }
    await Deno.writeTextFile(join(dir, "backfill.json"), "{not json");
    const { report } = await BackfillCursor.open(dir, { job });
    assert.equal(report.corrupt?.id, 701);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cursor: hasJob tells whether a job began, and reads only a plain cursor file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-cursor-" });
  try {
    const job = { bucket: "b", historical_poll_datetime: "2024-04-01T00:00:00.000Z" };
    assert.equal(BackfillCursor.hasJob(dir, job), false, "no cursor");
    const { cursor } = await BackfillCursor.open(dir, { job });
    await cursor.advance(`aws/X/eventDay=${D1}/`, `aws/X/eventDay=${D1}/1.parquet`);
    await cursor.close();
    assert.equal(BackfillCursor.hasJob(dir, { ...job }), true);
    assert.equal(BackfillCursor.hasJob(dir, { ...job, bucket: "other" }), false, "another job");
    // Something else under the cursor's name (a FIFO would block a read): not read.
    if (Deno.build.os !== "windows") {
      const fifo = join(dir, "fifo");
      const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
      assert.ok(made.success);
      await Deno.remove(join(dir, "backfill.json"));
      await Deno.rename(fifo, join(dir, "backfill.json"));
      assert.equal(BackfillCursor.hasJob(dir, job), false, "a FIFO");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---- the runner, the locks and the live path ----------------------------------------------------

Deno.test("locks: the second holder waits for the first", async () => {
  const locks = new ObjectLocks();
  const ref = { bucket: "b", key: "k" };
  const order: string[] = [];
  const r1 = await locks.acquire(ref);
  const second = locks.acquire(ref).then((r) => {
    order.push("second");
    r();
  });
  await new Promise((r) => setTimeout(r, 20));
  order.push("first done");
  r1();
  await second;
  assert.deepEqual(order, ["first done", "second"]);
  assert.equal(locks.size, 0);
  const ac = new AbortController();
  const r3 = await locks.acquire(ref);
  const waiting = locks.acquire(ref, ac.signal);
  ac.abort();
  await assert.rejects(waiting);
  r3();
});

interface LocalLake {
  dir: string;
  keys: string[];
  uids: Map<string, string[]>;
}

async function localLake(objects: number, garbage: number[] = []): Promise<LocalLake> {
  const dir = await Deno.makeTempDir({ prefix: "seclake-bf-local-" });
  const keys: string[] = [];
  const uids = new Map<string, string[]>();
  for (let i = 0; i < objects; i++) {
    const key =
      `aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=${D1}/k${i}.parquet`;
    const path = join(dir, ...key.split("/"));
    await Deno.mkdir(join(path, ".."), { recursive: true });
    if (garbage.includes(i)) await Deno.writeTextFile(path, "not parquet");
    else {
      const r = await writeOcsfParquet(path, { classUid: 4001, rows: 12, seed: 500 + i });
      uids.set(key, r.expected!.map((e) => (e.metadata as { uid: string }).uid));
    }
    keys.push(key);
  }
  return { dir, keys, uids };
}

function slow(reader: ObjectReader, ms: number): ObjectReader {
  return {
    get requests() {
      return reader.requests;
    },
    async open(ref, signal) {
      await new Promise((r) => setTimeout(r, ms));
      return reader.open(ref, signal);
    },
  };
}

function memoryOutput() {
  let text = "";
  const out = new ConsoleOutput("memory", {
    write: (p) => {
      text += new TextDecoder().decode(p);
      return Promise.resolve(p.length);
    },
  });
  const uids = () =>
    text.split("\n").filter((l) => l).map((l) =>
      (parseDevoLine(l).event.metadata as { uid: string }).uid
    );
  return { out, uids };
}

const oneDay = (lake: LocalLake): DayBatch[] => [{
  day: D1,
  partitions: [{
    partition: {
      root: {
        kind: "aws",
        source: "VPC_FLOW",
        region: "us-east-1",
        account: "111122223333",
        prefix: "p/",
      },
      day: D1,
      prefix: lake.keys[0]!.slice(0, lake.keys[0]!.lastIndexOf("/") + 1),
    },
    objects: lake.keys.map((key) => ({ bucket: "b", key, size: 1 })),
    skipped: [],
    alreadyDone: false,
  }],
}];

async function* asAsync<T>(items: T[]): AsyncGenerator<T> {
  for (const i of items) yield await Promise.resolve(i);
}

async function raceLiveAndBackfill(guarded: boolean) {
  const lake = await localLake(6);
  const stateDir = await Deno.makeTempDir({ prefix: "seclake-bf-state-" });
  const { store } = await StateStore.open(stateDir);
  try {
    const reader = slow(new LocalObjectReader(lake.dir), 30);
    const { out, uids } = memoryOutput();
    const locks = new ObjectLocks();
    const live = guarded
      ? guardLivePath({ reader, state: store, locks })
      : { reader, state: store };
    const formatter = new LineFormatter({ hostname: "h", tag: "a.b.c" });
    const { cursor } = await BackfillCursor.open(stateDir, { job: {} });
    const [summary] = await Promise.all([
      runBackfill({
        batches: asAsync(oneDay(lake)),
        reader,
        outputs: [out],
        formatterFor: () => formatter,
        state: store,
        locks: guarded ? locks : undefined,
        cursor,
        concurrency: 3,
      }),
      ...lake.keys.map((key) =>
        processObject({ bucket: "b", key }, {
          reader: live.reader,
          outputs: [out],
          formatter,
          state: live.state,
        })
      ),
    ]);
    await cursor.close();
    return { summary, uids: uids(), lake, cursor };
  } finally {
    await store.close();
    await Deno.remove(stateDir, { recursive: true });
    await Deno.remove(lake.dir, { recursive: true });
  }
}

Deno.test("runner: the live path and the backfill on the same objects at once send each event once", async () => {
  const { summary, uids, lake, cursor } = await raceLiveAndBackfill(true);
  const expected = [...lake.uids.values()].flat().sort();
  assert.deepEqual([...uids].sort(), expected);
  assert.equal(summary.ok, true);
  assert.equal(summary.delivered + summary.duplicates, 6);
  assert.deepEqual(cursor.get(oneDay(lake)[0]!.partitions[0]!.partition.prefix), { done: true });
  assert.equal(cursor.doneThrough, D1);
  // Control: without the locks the same race does send objects twice.
  const unguarded = await raceLiveAndBackfill(false);
  assert.ok(unguarded.uids.length > expected.length, "the race did not happen");
});

Deno.test("runner: a failed object holds the cursor and is not marked complete", async () => {
  const lake = await localLake(5, [2]);
  const stateDir = await Deno.makeTempDir({ prefix: "seclake-bf-state-" });
  const { store } = await StateStore.open(stateDir);
  try {
    const { out, uids } = memoryOutput();
    const { cursor } = await BackfillCursor.open(stateDir, { job: {} });
    const summary = await runBackfill({
      batches: asAsync(oneDay(lake)),
      reader: new LocalObjectReader(lake.dir),
      outputs: [out],
      formatterFor: () => new LineFormatter({ hostname: "h", tag: "a.b.c" }),
      state: store,
      cursor,
      concurrency: 2,
      attempts: 1,
    });
    await cursor.close();
    assert.equal(summary.ok, false);
    assert.equal(summary.failed, 1);
    assert.equal(summary.delivered, 4);
    assert.equal(summary.failures[0]!.error.id, 601);
    assert.equal(uids().length, 48);
    const prefix = oneDay(lake)[0]!.partitions[0]!.partition.prefix;
    assert.deepEqual(cursor.get(prefix), { last: lake.keys[1] });
    assert.equal(cursor.doneThrough, undefined);
    assert.equal(store.completed({ bucket: "b", key: lake.keys[2]! }), undefined);
    assert.ok(store.completed({ bucket: "b", key: lake.keys[3]! }));
  } finally {
    await store.close();
    await Deno.remove(stateDir, { recursive: true });
    await Deno.remove(lake.dir, { recursive: true });
  }
});

// ---- against moto -------------------------------------------------------------------------------

const ACCOUNTS = ["111122223333", "444455556666"];
const SOURCES: { prefix: string; name: string; classUid: OcsfClassUid }[] = [
  { prefix: "aws/CLOUD_TRAIL_MGMT/2.0", name: "CLOUD_TRAIL_MGMT", classUid: 6003 },
  { prefix: "aws/VPC_FLOW/2.0", name: "VPC_FLOW", classUid: 4001 },
  { prefix: "ext/custom_app", name: "custom_app", classUid: 4003 },
];

interface LakeObject {
  key: string;
  etag: string;
  bytes: number;
  day: string;
  source: string;
  uids: string[];
}

interface Lake {
  /** Objects a backfill from two days ago must read. */
  wanted: LakeObject[];
  /** Objects it must not read (too old, before --from, filtered out). */
  unwanted: LakeObject[];
  /** Every expected uid -> its object key. */
  owner: Map<string, string>;
}

/** Three sources x three days x two accounts, plus objects a backfill must leave alone. */
async function fillLake(lake: TestLake, dir: string): Promise<Lake> {
  let seed = 1000;
  const owner = new Map<string, string>();
  const put = async (key: string, source: string, day: string, classUid: OcsfClassUid) => {
    const path = join(dir, `f${seed}.parquet`);
    const r = await writeOcsfParquet(path, { classUid, rows: 15, seed: seed++ });
    const bytes = await Deno.readFile(path);
    const etag = await lake.put(key, bytes);
    return {
      key,
      etag,
      bytes: bytes.length,
      day,
      source,
      uids: r.expected!.map((e) => (e.metadata as { uid: string }).uid),
    };
  };
  const wanted: LakeObject[] = [];
  for (const day of [daysAgo(2), daysAgo(1), daysAgo(0)]) {
    for (const s of SOURCES) {
      for (const account of ACCOUNTS) {
        const key = `${s.prefix}/region=us-east-1/accountId=${account}/eventDay=${day}/${
          fnv1a32(`${s.name}${account}${day}`).toString(16).padStart(8, "0")
        }0123456789abcdef01234567.gz.parquet`;
        wanted.push(await put(key, s.name, day, s.classUid));
      }
    }
  }
  const part = (prefix: string, account: string, day: string, region = "us-east-1") =>
    `${prefix}/region=${region}/accountId=${account}/eventDay=${day}`;
  const unwanted = [
    // Older than the one-year window.
    await put(
      `${part("aws/CLOUD_TRAIL_MGMT/2.0", ACCOUNTS[0]!, daysAgo(400))}/old.gz.parquet`,
      "CLOUD_TRAIL_MGMT",
      daysAgo(400),
      6003,
    ),
    // Before the start day.
    await put(
      `${part("aws/VPC_FLOW/2.0", ACCOUNTS[1]!, daysAgo(5))}/early.gz.parquet`,
      "VPC_FLOW",
      daysAgo(5),
      4001,
    ),
    // Filtered out: an excluded source, an account and a region not listed.
    await put(
      `${part("aws/LAMBDA_EXECUTION/2.0", ACCOUNTS[0]!, daysAgo(1))}/lambda.gz.parquet`,
      "LAMBDA_EXECUTION",
      daysAgo(1),
      6003,
    ),
    await put(
      `${part("aws/CLOUD_TRAIL_MGMT/2.0", "999999999999", daysAgo(1))}/acct.gz.parquet`,
      "CLOUD_TRAIL_MGMT",
      daysAgo(1),
      6003,
    ),
    await put(
      `${part("aws/CLOUD_TRAIL_MGMT/2.0", ACCOUNTS[0]!, daysAgo(1), "eu-west-1")}/eu.gz.parquet`,
      "CLOUD_TRAIL_MGMT",
      daysAgo(1),
      6003,
    ),
  ];
  // Not data: skipped.
  await lake.put(
    `${part("aws/VPC_FLOW/2.0", ACCOUNTS[0]!, daysAgo(1))}/manifest.json`,
    new TextEncoder().encode("{}"),
  );
  await lake.put(
    "aws/CLOUD_TRAIL_MGMT/2.0/metadata/00001-abc.metadata.json",
    new TextEncoder().encode("{}"),
  );
  for (const o of wanted) for (const u of o.uids) owner.set(u, o.key);
  return { wanted, unwanted, owner };
}

function configYaml(o: {
  lake: TestLake;
  endpoint: string;
  port: number;
  stateDir: string;
  bucket?: string | null;
  historical?: string;
  concurrency?: number;
  /** YAML flow list of the events' obfuscation rules. */
  obfuscation?: string;
  maxEventBytes?: number;
}): string {
  const bucket = o.bucket === null ? "" : `    bucket: ${o.bucket ?? o.lake.bucket}\n`;
  const historical = o.historical ? `    historical_poll_datetime: "${o.historical}"\n` : "";
  const maxEvent = o.maxEventBytes ? `    max_event_bytes: ${o.maxEventBytes}\n` : "";
  return `globals:
  id: bf
  name: seclake-backfill-test
  persistence: { type: filesystem, directory_name: ${o.stateDir} }
  log_level: info
outputs:
  relay_1:
    type: relay
    config: { address: 127.0.0.1, port: ${o.port}, hostname: bf-host, commit_interval_seconds: 1 }
inputs:
  security_lake:
    id: 1
    enabled: true
    credentials: { aws_access_key_id: "\${AWS_ACCESS_KEY_ID}", aws_secret_access_key: "\${AWS_SECRET_ACCESS_KEY}" }
    region: us-east-1
    queue_name: ${o.lake.queueName}
    endpoint_url: ${o.endpoint}
${bucket}${historical}${maxEvent}    accounts: ["${ACCOUNTS[0]}", "${ACCOUNTS[1]}"]
    regions: [us-east-1]
    backfill_concurrency: ${o.concurrency ?? 2}
    services:
      events: { wait_time_seconds: 1, visibility_timeout_seconds: 30, exclude_sources: [LAMBDA_EXECUTION]${
    o.obfuscation ? `, obfuscation: ${o.obfuscation}` : ""
  } }
`;
}

/** uid -> times received. */
function receivedUids(lines: string[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const line of lines) {
    const { host, event } = parseDevoLine(line);
    assert.equal(host, "bf-host");
    const uid = (event.metadata as { uid: string }).uid;
    seen.set(uid, (seen.get(uid) ?? 0) + 1);
  }
  return seen;
}

function assertExactlyOnce(seen: Map<string, number>, lake: Lake) {
  for (const o of lake.unwanted) {
    for (const u of o.uids) assert.ok(!seen.has(u), `${o.key} must not be read`);
  }
  for (const [uid, n] of seen) {
    assert.ok(lake.owner.has(uid), `unexpected event ${uid}`);
    assert.equal(n, 1, `event ${uid} of ${lake.owner.get(uid)} arrived ${n} times`);
  }
  assert.equal(seen.size, lake.owner.size, `${lake.owner.size - seen.size} events missing`);
}

interface Env {
  moto: { endpoint: string };
  lake: TestLake;
  dir: string;
  data: Lake;
}

async function withLake(fn: (env: Env) => Promise<void>): Promise<void> {
  await using moto = await startMoto();
  const dir = await Deno.makeTempDir({ prefix: "seclake-backfill-" });
  const lake = await createTestLake(moto.endpoint);
  try {
    const data = await fillLake(lake, dir);
    await fn({ moto, lake, dir, data });
  } finally {
    lake.destroy();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("run: historical_poll_datetime backfills beside SQS notifications for the same objects, each event once", async () => {
  await withLake(async ({ moto, lake, dir, data }) => {
    await using receiver = await startTcpReceiver();
    // Live notifications for some of the objects the backfill also lists.
    for (const [i, o] of data.wanted.entries()) {
      if (i % 3 === 0) {
        await lake.send(eventBridgeBody(lake.bucket, o.key, i % 2 ? { etag: o.etag } : {}));
      }
    }
    const config = join(dir, "config.yaml");
    const historical = new Date(Date.now() - 2 * DAY_MS).toISOString();
    const stateDir = join(dir, "state");
    await Deno.writeTextFile(
      config,
      configYaml({ lake, endpoint: moto.endpoint, port: receiver.port, stateDir, historical }),
    );
    const run = await runCollectorProcess(["run", "--config", config, "--once"], { env: ENV });
    assert.equal(run.code, 0, run.stderr);
    assertExactlyOnce(receivedUids(receiver.lines), data);
    assert.deepEqual(await lake.depth(), { visible: 0, inFlight: 0 });
    assert.match(run.stderr, /Backfill of input security_lake finished: 3 days/);
    assert.match(run.stderr, /Skipping aws\/VPC_FLOW\/2\.0\/.*manifest\.json: not_parquet/);
    const cursor = JSON.parse(
      await Deno.readTextFile(join(stateDir, "security_lake", "backfill.json")),
    );
    assert.equal(cursor.done_through, daysAgo(0));

    // A restart sends nothing again.
    const before = receiver.lines.length;
    const again = await runCollectorProcess(["run", "--config", config, "--once"], { env: ENV });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(receiver.lines.length, before);
    assert.match(again.stderr, /resuming/);

    // A new historical_poll_datetime starts the backfill again; completed objects are not re-sent.
    await Deno.writeTextFile(
      config,
      configYaml({
        lake,
        endpoint: moto.endpoint,
        port: receiver.port,
        stateDir,
        historical: new Date(Date.now() - 3 * DAY_MS).toISOString(),
      }),
    );
    const moved = await runCollectorProcess(["run", "--config", config, "--once"], { env: ENV });
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stderr, /starting again/);
    assert.match(moved.stderr, /0 objects delivered \(0 events, [^)]*\), 18 already complete/);
    assert.equal(receiver.lines.length, before);

    // A year on, historical_poll_datetime is more than 365 days back. The collector still
    // starts: its backfill began with these settings, and the limit is on where a backfill
    // starts. As if it began 400 days ago: the cursor's job says so, and it is done through today.
    const old = new Date(Date.now() - 400 * DAY_MS).toISOString();
    const cursorPath = join(stateDir, "security_lake", "backfill.json");
    const begun = JSON.parse(await Deno.readTextFile(cursorPath));
    begun.job.historical_poll_datetime = old;
    await Deno.writeTextFile(cursorPath, JSON.stringify(begun));
    const aged = configYaml({
      lake,
      endpoint: moto.endpoint,
      port: receiver.port,
      stateDir,
      historical: old,
    });
    await Deno.writeTextFile(config, aged);
    const resumed = await runCollectorProcess(["run", "--config", config, "--once"], { env: ENV });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming \(done through /);
    assert.equal(receiver.lines.length, before);
    // The same in-process, and what is still refused: no hook, or a backfill that would start
    // anew from that date (other filters: another job).
    const env = (n: string) => ENV[n as keyof typeof ENV];
    const loaded = await loadConfig(config, { env, backfillStarted: prePullStarted });
    assert.equal(loaded.inputs[0]!.historical_poll_datetime, old);
    await assert.rejects(loadConfig(config, { env }), /SetupError 16: .*historical_poll_datetime/);
    await Deno.writeTextFile(
      config,
      aged.replace("exclude_sources: [LAMBDA_EXECUTION]", "exclude_sources: [S3_DATA]"),
    );
    await assert.rejects(
      loadConfig(config, { env, backfillStarted: prePullStarted }),
      /SetupError 16: inputs\.security_lake\.historical_poll_datetime must be at most 365 days back \(not before [^)]*\) when its backfill starts/,
    );
    const refused = await runCollectorProcess(["run", "--config", config, "--once"], { env: ENV });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /SetupError 16/);
  });
});

/** Spawns the collector; resolves its stderr once it exited. */
function spawnCollector(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=seclake", "--quiet", "main.ts", ...args],
    cwd: REPO,
    env: { NO_COLOR: "1", ...ENV },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  return { child, stderr };
}

async function completedKeys(stateDir: string): Promise<Set<string>> {
  const keys = new Set<string>();
  const read = (p: string) => Deno.readTextFile(p).catch(() => "");
  const snap = await read(join(stateDir, "completed.json"));
  if (snap) { for (const [id] of JSON.parse(snap).objects ?? []) keys.add(id); }
  for (const line of (await read(join(stateDir, "completed.jsonl"))).split("\n")) {
    try {
      keys.add(JSON.parse(line).id);
    } catch {
      // torn or empty line
    }
  }
  return keys;
}

Deno.test("seclake backfill: killed in the middle, restarted, finishes without loss or re-sending", async () => {
  await withLake(async ({ moto, lake, dir, data }) => {
    await using receiver = await startTcpReceiver();
    const config = join(dir, "config.yaml");
    const stateDir = join(dir, "state");
    await Deno.writeTextFile(
      config,
      configYaml({ lake, endpoint: moto.endpoint, port: receiver.port, stateDir, concurrency: 1 }),
    );
    const args = ["backfill", "--config", config, "--from", dashed(daysAgo(2))];
    const first = spawnCollector(args);
    const inputState = join(stateDir, "security_lake");
    const deadline = Date.now() + 60_000;
    while ((await completedKeys(inputState)).size < 5) {
      assert.ok(Date.now() < deadline, "the first run did not complete 5 objects in time");
      await new Promise((r) => setTimeout(r, 25));
    }
    first.child.kill("SIGKILL");
    await first.child.status;
    const firstErr = await first.stderr;
    const doneBefore = await completedKeys(inputState);
    assert.ok(doneBefore.size < data.wanted.length, `killed too late:\n${firstErr}`);

    const second = await runCollectorProcess(args, { env: ENV });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /resuming from its cursor/);
    const seen = receivedUids(receiver.lines);
    for (const [uid, key] of data.owner) {
      assert.ok(seen.has(uid), `event ${uid} of ${key} lost`);
      if (doneBefore.has(`${lake.bucket}/${key}`)) {
        assert.equal(
          seen.get(uid),
          1,
          `event ${uid} of ${key}, completed before the kill, was re-sent`,
        );
      }
    }
    // Only the object in progress at the kill (one at a time) may repeat its unconfirmed rows.
    const repeated = [...seen].filter(([, n]) => n > 1).map(([u]) => data.owner.get(u));
    assert.ok(new Set(repeated).size <= 1, `repeated objects: ${[...new Set(repeated)]}`);
    for (const o of data.unwanted) for (const u of o.uids) assert.ok(!seen.has(u));

    // A third run finds everything done and sends nothing.
    const lines = receiver.lines.length;
    const third = await runCollectorProcess(args, { env: ENV });
    assert.equal(third.code, 0, third.stderr);
    assert.equal(receiver.lines.length, lines);
  });
});

Deno.test("seclake backfill: --shard 0/2 and 1/2 together read every object once", async () => {
  await withLake(async ({ moto, lake, dir, data }) => {
    await using receiver = await startTcpReceiver();
    const perShard: Map<string, number>[] = [];
    for (const shard of [0, 1]) {
      const config = join(dir, `config-${shard}.yaml`);
      // Separate state folders, as on separate machines: nothing but the shards keeps them apart.
      await Deno.writeTextFile(
        config,
        configYaml({
          lake,
          endpoint: moto.endpoint,
          port: receiver.port,
          stateDir: join(dir, `state-${shard}`),
          concurrency: 3,
        }),
      );
      const before = receiver.lines.length;
      const run = await runCollectorProcess(
        [
          "backfill",
          "--config",
          config,
          "--from",
          dashed(daysAgo(2)),
          "--to",
          dashed(daysAgo(0)),
          "--shard",
          `${shard}/2`,
        ],
        { env: ENV },
      );
      assert.equal(run.code, 0, run.stderr);
      perShard.push(receivedUids(receiver.lines.slice(before)));
    }
    assertExactlyOnce(receivedUids(receiver.lines), data);
    for (const [i, seen] of perShard.entries()) {
      assert.ok(seen.size > 0, `shard ${i} read nothing`);
      for (const uid of seen.keys()) {
        assert.equal(
          fnv1a32(data.owner.get(uid)!) % 2,
          i,
          `${data.owner.get(uid)} read by shard ${i}`,
        );
      }
    }
  });
});

Deno.test("seclake backfill --dry-run: objects and bytes per day and source, nothing read or written", async () => {
  await withLake(async ({ moto, lake, dir, data }) => {
    await using receiver = await startTcpReceiver();
    const config = join(dir, "config.yaml");
    const stateDir = join(dir, "state");
    await Deno.writeTextFile(
      config,
      configYaml({ lake, endpoint: moto.endpoint, port: receiver.port, stateDir }),
    );
    const run = await runCollectorProcess(
      [
        "backfill",
        "--config",
        config,
        "--from",
        dashed(daysAgo(2)),
        "--dry-run",
        "--sources",
        "VPC_FLOW,custom_app",
      ],
      { env: ENV },
    );
    assert.equal(run.code, 0, run.stderr);
    const rows = new Map<string, [number, number]>();
    for (const line of run.stdout.split("\n")) {
      const m = /^(\d{4}-\d\d-\d\d)\s+(\S+)\s+(\d+)\s+(\d+)\s/.exec(line);
      if (m) rows.set(`${m[1]} ${m[2]}`, [Number(m[3]), Number(m[4])]);
    }
    const want = new Map<string, [number, number]>();
    let total = 0;
    for (const o of data.wanted) {
      if (o.source === "CLOUD_TRAIL_MGMT") continue;
      const k = `${dashed(o.day)} ${o.source}`;
      const [n, b] = want.get(k) ?? [0, 0];
      want.set(k, [n + 1, b + o.bytes]);
      total += o.bytes;
    }
    assert.deepEqual(rows, want, run.stdout);
    assert.match(run.stdout, new RegExp(`^Total\\s+12\\s+${total}\\s`, "m"));
    assert.match(run.stdout, /^1 objects not read \(not Parquet, or metadata\/\)/m);
    assert.equal(receiver.lines.length, 0);
    await assert.rejects(Deno.stat(stateDir), Deno.errors.NotFound);
  });
});

Deno.test("seclake backfill: a missing bucket, dates outside the window and a bad shard are catalogue errors", async () => {
  await using moto = await startMoto();
  const dir = await Deno.makeTempDir({ prefix: "seclake-backfill-" });
  const lake = await createTestLake(moto.endpoint);
  try {
    const config = join(dir, "config.yaml");
    const write = (o: Partial<Parameters<typeof configYaml>[0]>) =>
      Deno.writeTextFile(
        config,
        configYaml({ lake, endpoint: moto.endpoint, port: 9, stateDir: join(dir, "state"), ...o }),
      );
    const backfill = (...extra: string[]) =>
      runCollectorProcess(["backfill", "--config", config, ...extra], { env: ENV });

    await write({ bucket: "aws-security-data-lake-us-east-1-nosuchbucket00000000000" });
    const missing = await backfill("--from", dashed(daysAgo(1)));
    assert.equal(missing.code, 69, missing.stderr);
    assert.match(
      missing.stderr,
      /ApiError 420: Bucket aws-security-data-lake-us-east-1-nosuchbucket0+ does not exist/,
    );

    await write({});
    const old = await backfill("--from", dashed(daysAgo(400)));
    assert.equal(old.code, 78, old.stderr);
    assert.match(old.stderr, /SetupError 60: --from \d{4}-\d\d-\d\d is more than 365 days back/);
    const future = await backfill("--from", dashed(daysAgo(1)), "--to", dashed(daysAgo(-2)));
    assert.equal(future.code, 78);
    assert.match(future.stderr, /SetupError 60: --to .* is in the future/);
    const shard = await backfill("--from", dashed(daysAgo(1)), "--shard", "2/2");
    assert.equal(shard.code, 78);
    assert.match(shard.stderr, /SetupError 61: --shard "2\/2" is not i\/n/);
    const noFrom = await backfill();
    assert.equal(noFrom.code, 2);

    await write({ bucket: null, historical: new Date(Date.now() - DAY_MS).toISOString() });
    const run = await runCollectorProcess(["run", "--config", config, "--once"], { env: ENV });
    assert.equal(run.code, 78, run.stderr);
    assert.match(
      run.stderr,
      /SetupError 42: inputs\.security_lake: historical_poll_datetime needs bucket/,
    );
  } finally {
    lake.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("backfills apply the input's obfuscation and max_event_bytes: seclake backfill and run's historical_poll_datetime", async () => {
  await withLake(async ({ moto, lake, dir, data }) => {
    const obfuscation = "[{ paths: [metadata.product.name], method: drop }]";
    const from = new Date(Date.now() - 2 * DAY_MS).toISOString();
    for (const command of ["backfill", "run"] as const) {
      await using receiver = await startTcpReceiver();
      const config = join(dir, `${command}.yaml`);
      await Deno.writeTextFile(
        config,
        configYaml({
          lake,
          endpoint: moto.endpoint,
          port: receiver.port,
          stateDir: join(dir, `state-${command}`),
          historical: command === "run" ? from : undefined,
          obfuscation,
          maxEventBytes: 1024,
        }),
      );
      const args = command === "backfill"
        ? ["backfill", "--config", config, "--from", dashed(daysAgo(2))]
        : ["run", "--config", config, "--once"];
      const run = await runCollectorProcess(args, { env: ENV });
      assert.equal(run.code, 0, run.stderr);
      assertExactlyOnce(receivedUids(receiver.lines), data);
      let truncated = 0;
      for (const line of receiver.lines) {
        const { event } = parseDevoLine(line);
        const product = event.metadata as { product?: { name?: string } };
        assert.equal(product.product?.name, undefined, `${command}: ${line.slice(0, 300)}`);
        const json = line.slice(line.indexOf("{"));
        assert.ok(
          new TextEncoder().encode(json).length <= 1024,
          `${command}: ${json.length} bytes`,
        );
        if (event["@seclake_truncated"] === true) truncated++;
      }
      // The CloudTrail-like events (~1.7 KB) were cut to the limit, the others not.
      assert.ok(truncated > 0 && truncated < receiver.lines.length, `${command}: ${truncated}`);
    }
  });
});
