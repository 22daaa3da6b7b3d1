/**
 * Custom sources against moto and the mTLS receiver: the queue given by its ARN; a custom
 * source's Parquet object named `...-3a8d80f4.gz` under lower-case `accountid=` and `eventday=`
 * partitions with an account that is no AWS account, delivered from the live queue; beside it a
 * `.json` side file, a file that is not Parquet and an archived (GLACIER) object, each skipped
 * and counted by reason (log, statistics line, `/metrics`); then `seclake backfill` finds a
 * second such object that no message announced, and the preview-era `eventHour=` layout.
 */
import assert from "node:assert/strict";
import { metric, until } from "./helpers/polling.ts";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import { freePort } from "./helpers/_util.ts";
import { makeCerts } from "./helpers/certs.ts";
import { REPO, runCollectorProcess } from "./helpers/collector.ts";
import { parseDevoLine } from "./helpers/devo_line.ts";
import { createTestLake, eventBridgeBody, TEST_CREDENTIALS } from "./helpers/lake.ts";
import type { TestLake } from "./helpers/lake.ts";
import { MOTO_CA_FILE, startMoto } from "./helpers/moto.ts";
import { startTlsReceiver } from "./helpers/tls_receiver.ts";
import { dayOf } from "../src/source/backfill.ts";

const ENV = {
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  AWS_CA_BUNDLE: MOTO_CA_FILE,
};
/** Yesterday (UTC), `YYYYMMDD`: inside the backfill window. */
const DAY = dayOf(new Date(Date.now() - 24 * 60 * 60 * 1000));
const dashed = (day: string) => `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}`;
/** moto's account: the queue's ARN names it. */
const MOTO_ACCOUNT = "123456789012";
const PART = `ext/ACME_WAF/1.0/region=us-east-1/accountid=external_acme/eventday=${DAY}`;
const firehose = (n: number) =>
  `${PART}/dev-sl-ocsf-processing-${n}-${dashed(DAY)}-10-00-00-3a8d80f4-0c5e-4b7a-9f1e-${n}.gz`;
const KEYS = {
  announced: firehose(1),
  unannounced: firehose(2),
  sideFile: `${PART}/dev-sl-ocsf-processing.metadata.json`,
  notParquet: `${PART}/export-3a8d80f5.gz`,
  archived: firehose(3),
  preview: `aws/CLOUD_TRAIL/region=us-east-1/accountId=111122223333/eventHour=${DAY}07/` +
    "0123456789abcdef.gz.parquet",
};

/** How long each wait of this file may take. */
const WAIT_MS = 60_000;

/** Writes an OCSF Parquet object under `key`; returns its events' uids. */
async function putParquet(
  lake: TestLake,
  dir: string,
  key: string,
  seed: number,
  storageClass?: "GLACIER",
): Promise<string[]> {
  const r = await writeOcsfParquet(join(dir, `${seed}.parquet`), {
    classUid: 4003,
    rows: 40,
    seed,
  });
  const bytes = await Deno.readFile(r.path);
  await lake.s3.send(
    new PutObjectCommand({
      Bucket: lake.bucket,
      Key: key,
      Body: bytes,
      ...(storageClass ? { StorageClass: storageClass } : {}),
    }),
  );
  return r.expected!.map((e) => (e.metadata as { uid: string }).uid);
}

function uidsOf(lines: string[]): string[] {
  return lines.map((l) => (parseDevoLine(l).event.metadata as { uid: string }).uid);
}

Deno.test("custom sources: queue_arn, any key name and partition case, skips counted by reason, backfill of every layout", async () => {
  await using moto = await startMoto();
  const certs = await makeCerts();
  const dir = await Deno.makeTempDir({ prefix: "seclake-custom-" });
  await using receiver = await startTlsReceiver(certs);
  const lake = await createTestLake(moto.endpoint);
  const metricsPort = freePort();
  let child: Deno.ChildProcess | undefined;
  try {
    const announced = await putParquet(lake, dir, KEYS.announced, 11);
    await lake.put(KEYS.sideFile, new TextEncoder().encode('{"format-version":2}'));
    await lake.put(KEYS.notParquet, new TextEncoder().encode("time,action\n1,ALLOW\n".repeat(50)));
    await putParquet(lake, dir, KEYS.archived, 13, "GLACIER");
    for (const key of [KEYS.announced, KEYS.sideFile, KEYS.notParquet, KEYS.archived]) {
      await lake.send(eventBridgeBody(lake.bucket, key));
    }
    const queueArn = `arn:aws:sqs:us-east-1:${MOTO_ACCOUNT}:${lake.queueName}`;
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(
      config,
      `globals:
  persistence: { directory_name: ${join(dir, "state")} }
  metrics: { listen: "127.0.0.1:${metricsPort}" }
outputs:
  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${receiver.port}, chain: ${certs.caCertPath}, cert: ${certs.clientCertPath}, key: ${certs.clientKeyPath}, hostname: custom-host }
inputs:
  security_lake:
    credentials: { aws_access_key_id: "\${AWS_ACCESS_KEY_ID}", aws_secret_access_key: "\${AWS_SECRET_ACCESS_KEY}" }
    region: us-east-1
    queue_arn: ${queueArn}
    endpoint_url: ${moto.endpoint}
    bucket: ${lake.bucket}
    accounts: [external_acme, "111122223333"]
    regions: [us-east-1]
    services:
      events: { wait_time_seconds: 1, visibility_timeout_seconds: 30 }
`,
    );

    // The live path: the queue is reached through its ARN.
    child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=seclake", "--quiet", "main.ts", "run", "--config", config],
      cwd: REPO,
      env: { NO_COLOR: "1", ...ENV },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let log = "";
    const drained = (async () => {
      for await (const s of child.stderr.pipeThrough(new TextDecoderStream())) log += s;
    })();
    const get = async (path: string) =>
      (await fetch(`http://127.0.0.1:${metricsPort}${path}`))
        .text();
    await receiver.waitForLines(announced.length, 60_000);
    let text = "";
    await until("every message deleted", async () => {
      text = await get("/metrics");
      return metric(text, "seclake_messages_deleted_total") === 4;
    }, WAIT_MS);
    assert.deepEqual(uidsOf(receiver.lines).sort(), [...announced].sort());
    assert.equal(parseDevoLine(receiver.lines[0]!).host, "custom-host");
    assert.equal(metric(text, 'seclake_objects_total{result="delivered"}'), 1);
    assert.equal(metric(text, 'seclake_objects_total{result="skipped"}'), 3);
    for (const reason of ["non_data_file", "not_parquet", "archived"]) {
      assert.equal(metric(text, `seclake_objects_skipped_total{reason="${reason}"}`), 1, reason);
    }
    assert.equal(metric(text, 'seclake_objects_total{result="failed"}'), 0);
    assert.equal(metric(text, "seclake_messages_left_total"), 0);
    assert.deepEqual(await lake.depth(), { visible: 0, inFlight: 0 });
    child.kill("SIGTERM");
    await child.status;
    child = undefined;
    await drained;
    assert.match(log, /Skipping .*dev-sl-ocsf-processing\.metadata\.json: non_data_file/);
    assert.match(log, /Skipping .*export-3a8d80f5\.gz: not_parquet \(DataError 612: Object s3:/);
    assert.match(
      log,
      /Skipping .*3a8d80f4-0c5e-4b7a-9f1e-3\.gz: archived \(ApiError 411: S3 GetObject failed: InvalidObjectState/,
    );
    const stats = log.split("\n").filter((l) => l.includes("Statistics for this pull cycle"));
    const skippedInPulls = stats.reduce(
      (n, l) => n + Number(/Number of objects skipped: (\d+)/.exec(l)?.[1] ?? 0),
      0,
    );
    assert.equal(skippedInPulls, 3, stats.join("\n"));

    // The backfill: an object no message announced, and the preview-era layout.
    const unannounced = await putParquet(lake, dir, KEYS.unannounced, 12);
    const preview = await putParquet(lake, dir, KEYS.preview, 14);
    const before = receiver.lines.length;
    const backfill = await runCollectorProcess(
      ["backfill", "--config", config, "--from", dashed(DAY), "--to", dashed(DAY)],
      { env: ENV },
    );
    assert.equal(backfill.code, 0, backfill.stderr);
    assert.deepEqual(
      uidsOf(receiver.lines.slice(before)).sort(),
      [...unannounced, ...preview].sort(),
    );
    assert.match(
      backfill.stderr,
      /Backfill of input security_lake finished: 1 day, 2 objects delivered \(80 events, [^)]*\), 1 already complete, 3 skipped \(1 archived\), 0 failed/,
    );
    assert.match(backfill.stderr, /Skipping .*export-3a8d80f5\.gz: not_parquet/);
  } finally {
    if (child) {
      child.kill("SIGTERM");
      await child.status;
    }
    lake.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});
