/**
 * Backfill: enumeration, filters, shards, dates, the listing adapter's retries, the
 * cursor and the object locks, then against moto and a line receiver: `seclake run` with
 * historical_poll_datetime beside SQS notifications for the same objects, `seclake backfill`
 * killed and restarted, two shards, a dry run, and the errors for bad input.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import type { OcsfClassUid } from "./lib/ocsf_fixtures.ts";
import { prePullStarted } from "../src/state/backfill_job.ts";
import { fnv1a32 } from "../src/fnv.ts";
import { loadConfig } from "../src/config/load.ts";
import { dayOf } from "../src/source/backfill.ts";
import { REPO, runCollectorProcess } from "./helpers/collector.ts";
import { V8_FLAGS_OPTION } from "../scripts/compile.ts";
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
    assert.match(run.stderr, /Skipping aws\/VPC_FLOW\/2\.0\/.*manifest\.json: non_data_file/);
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
    assert.match(run.stdout, /^1 object not read \(side files such as \.json, or metadata\/;/m);
    assert.equal(receiver.lines.length, 0);
    await assert.rejects(Deno.stat(stateDir), Deno.errors.NotFound);

    // Standard output and error on one pipe, as on a terminal: the log lines (debug level, so
    // that there are some) come before or after the table, never inside it.
    const both = await new Deno.Command("bash", {
      args: [
        "-c",
        `"$0" run -P=seclake ${V8_FLAGS_OPTION} --quiet main.ts backfill --config "$1" ` +
        `--from "$2" --dry-run --log-level debug 2>&1`,
        Deno.execPath(),
        config,
        dashed(daysAgo(2)),
      ],
      cwd: REPO,
      env: { ...ENV, NO_COLOR: "1" },
      stdout: "piped",
    }).output();
    const lines = new TextDecoder().decode(both.stdout).split("\n");
    const first = lines.findIndex((l) => l.startsWith("Dry run of input"));
    const last = lines.findIndex((l) => l.startsWith("Total"));
    assert.ok(first >= 0 && last > first, lines.join("\n"));
    assert.ok(lines.some((l) => / DEBUG | INFO /.test(l)), "some log lines were written");
    for (const line of lines.slice(first + 1, last)) {
      assert.match(line, /^(Day|\d{4}-\d\d-\d\d)\s/, `inside the table: ${line}`);
    }
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
