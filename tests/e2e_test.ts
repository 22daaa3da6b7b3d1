/**
 * End to end: the collector process (main.ts under the binary's permission set) against moto
 * (S3 + SQS) and a syslog receiver that requires a client certificate. Every notification shape
 * is sent; the receiver must get exactly the expected events, once each, and the queue must end
 * empty.
 */
import assert from "node:assert/strict";
import { listParquet, SAMPLES_PARQUET } from "./helpers/samples.ts";
import { join, relative } from "node:path";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import type { OcsfClassUid } from "./lib/ocsf_fixtures.ts";
import { makeCerts } from "./helpers/certs.ts";
import type { TestCerts } from "./helpers/certs.ts";
import { runCollectorProcess } from "./helpers/collector.ts";
import {
  createTestLake,
  eventBridgeBody,
  s3RecordsBody,
  snsWrap,
  TEST_CREDENTIALS,
} from "./helpers/lake.ts";
import type { TestLake } from "./helpers/lake.ts";
import { MOTO_CA_FILE, startMoto } from "./helpers/moto.ts";
import { rsyslogAvailable, startRsyslogTls } from "./helpers/rsyslog.ts";
import { startTcpReceiver, startTlsReceiver } from "./helpers/tls_receiver.ts";
import { parseDevoLine } from "./helpers/devo_line.ts";
import { decodeFile } from "../src/cli/decode.ts";

const SAMPLES = SAMPLES_PARQUET;
const ENV = {
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  AWS_CA_BUNDLE: MOTO_CA_FILE,
};

interface Published {
  /** Expected events by metadata.uid (generated fixtures). */
  expected: Map<string, Record<string, unknown>>;
  /** Number of events of the public samples. */
  sampleEvents: number;
  /** Sample events as `seclake decode` prints them, one JSON text per event. */
  sampleJson: string[];
}

const DAY = "region=us-east-1/accountId=111122223333/eventDay=20240410";

/** Writes fixtures and samples to the lake and sends one notification of every shape. */
async function publish(lake: TestLake, dir: string): Promise<Published> {
  const expected = new Map<string, Record<string, unknown>>();
  const fixture = async (
    name: string,
    classUid: OcsfClassUid,
    rows: number,
    seed: number,
    codec: "GZIP" | "ZSTD" | "SNAPPY",
    layout: "avro" | "standard",
    rowGroupSize: number,
  ) => {
    const r = await writeOcsfParquet(join(dir, name), {
      classUid,
      rows,
      seed,
      codec,
      layout,
      rowGroupSize,
    });
    for (const e of r.expected!) {
      expected.set((e.metadata as { uid: string }).uid, e);
    }
    return Deno.readFile(r.path);
  };
  const bucket = lake.bucket;
  // EventBridge, Security Lake's documented shape (no detail-type): multi-row-group CloudTrail.
  const ct = `aws/CLOUD_TRAIL_MGMT/2.0/${DAY}/0123456789abcdef0123456789abcdef.gz.parquet`;
  await lake.put(ct, await fixture("ct.parquet", 6003, 2500, 11, "GZIP", "avro", 1000));
  await lake.send(eventBridgeBody(bucket, ct));
  // EventBridge full envelope: VPC flow, ZSTD.
  const vpc = `aws/VPC_FLOW/2.0/${DAY}/00112233445566778899aabbccddeeff.gz.parquet`;
  await lake.put(vpc, await fixture("vpc.parquet", 4001, 1200, 12, "ZSTD", "standard", 500));
  await lake.send(eventBridgeBody(bucket, vpc, { detailType: true }));
  // Native S3 Records with a key that needs URL decoding (space and =).
  const dns = `ext/my_source/1.0/${DAY}/file with space.parquet`;
  await lake.put(dns, await fixture("dns.parquet", 4003, 300, 13, "SNAPPY", "standard", 20000));
  await lake.send(s3RecordsBody(bucket, [dns]));
  // SNS-wrapped Records naming two objects in one message.
  const f1 = `ext/findings/1.0/${DAY}/a.parquet`;
  const f2 = `ext/findings/1.0/${DAY}/b.parquet`;
  await lake.put(f1, await fixture("f1.parquet", 2004, 40, 14, "ZSTD", "avro", 20000));
  await lake.put(f2, await fixture("f2.parquet", 2004, 30, 15, "GZIP", "standard", 20000));
  await lake.send(snsWrap(s3RecordsBody(bucket, [f1, f2])));
  // Messages that must send nothing and still be deleted.
  await lake.send('{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}');
  const meta = "aws/CLOUD_TRAIL_MGMT/2.0/metadata/00001-abc.metadata.json";
  await lake.put(meta, new TextEncoder().encode("{}"));
  await lake.send(eventBridgeBody(bucket, meta, { detailType: true }));
  // Read, and skipped for what it holds: not Parquet.
  const notes = `aws/ROUTE53/2.0/${DAY}/notes.txt`;
  await lake.put(notes, new TextEncoder().encode("notes about this partition\n"));
  await lake.send(eventBridgeBody(bucket, notes));

  // Public samples: one EventBridge message each, under Security Lake style keys.
  let sampleEvents = 0;
  const sampleJson: string[] = [];
  for (const path of await listParquet(SAMPLES)) {
    const key = `aws/SAMPLES/2.0/${DAY}/${relative(SAMPLES, path).replaceAll("/", "_")}`;
    await lake.put(key, await Deno.readFile(path));
    await lake.send(eventBridgeBody(bucket, key));
    let text = "";
    const out = {
      write: (p: Uint8Array) => {
        text += new TextDecoder().decode(p);
        return Promise.resolve(p.length);
      },
    };
    await decodeFile(path, { out, reference: true });
    const lines = text.split("\n").filter((l) => l);
    sampleEvents += lines.length;
    sampleJson.push(...lines);
  }
  return { expected, sampleEvents, sampleJson };
}

function configYaml(lake: TestLake, endpoint: string, output: string, stateDir: string): string {
  return `globals:
  id: e2e
  name: seclake-e2e
  persistence: { type: filesystem, directory_name: ${stateDir} }
  log_level: info
outputs:
${output}
inputs:
  security_lake:
    id: 1
    enabled: true
    credentials: { aws_access_key_id: "\${AWS_ACCESS_KEY_ID}", aws_secret_access_key: "\${AWS_SECRET_ACCESS_KEY}" }
    region: us-east-1
    queue_name: ${lake.queueName}
    endpoint_url: ${endpoint}
    services:
      events: { wait_time_seconds: 1, visibility_timeout_seconds: 30 }
`;
}

function devoOutput(certs: TestCerts, port: number): string {
  return `  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${port}, chain: ${certs.caCertPath}, cert: ${certs.clientCertPath}, key: ${certs.clientKeyPath}, hostname: e2e-host }`;
}

/** Checks the received lines against what was published. */
function checkDelivery(lines: string[], published: Published) {
  const total = published.expected.size + published.sampleEvents;
  assert.equal(lines.length, total, `expected ${total} lines, got ${lines.length}`);
  const pullingIds = new Set<string>();
  const seen = new Set<string>();
  const samples: string[] = [];
  for (const line of lines) {
    const { host, tag, event, raw } = parseDevoLine(line);
    assert.equal(host, "e2e-host");
    assert.equal(tag, "cloud.aws.amazon.security_lake.events");
    const pid = event["@devo_pulling_id"];
    assert.match(String(pid), /^\d{13}$/);
    pullingIds.add(String(pid));
    delete event["@devo_pulling_id"];
    const uid = (event.metadata as { uid?: string } | undefined)?.uid;
    if (uid !== undefined && published.expected.has(uid)) {
      assert.ok(!seen.has(uid), `event ${uid} arrived twice`);
      seen.add(uid);
      assert.deepStrictEqual(event, published.expected.get(uid), `event ${uid} differs`);
    } else {
      samples.push(raw.replace(/,"@devo_pulling_id":"\d+"\}$/, "}"));
    }
    assert.ok(!raw.includes('"array":'), "a legacy list arrived unconverted");
  }
  assert.equal(seen.size, published.expected.size);
  assert.deepEqual(samples.sort(), [...published.sampleJson].sort());
  assert.ok(pullingIds.size >= 1);
}

Deno.test("end to end: every notification shape, fixtures and public samples over mutual TLS", async () => {
  await using moto = await startMoto();
  const certs = await makeCerts();
  const dir = await Deno.makeTempDir({ prefix: "seclake-e2e-" });
  await using receiver = await startTlsReceiver(certs);
  const lake = await createTestLake(moto.endpoint);
  try {
    const published = await publish(lake, dir);
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(
      config,
      configYaml(lake, moto.endpoint, devoOutput(certs, receiver.port), join(dir, "state")),
    );
    const run = await runCollectorProcess(["run", "--config", config, "--once"], { env: ENV });
    assert.equal(run.code, 0, `collector failed:\n${run.stderr}`);
    checkDelivery(receiver.lines, published);
    assert.deepEqual(await lake.depth(), { visible: 0, inFlight: 0 });
    assert.equal(receiver.handshakeErrors, 0);
    // Skipped keys and the test event are reported, not sent.
    assert.match(run.stderr, /S3 test event received/);
    assert.match(
      run.stderr,
      /Skipping aws\/CLOUD_TRAIL_MGMT\/2\.0\/metadata\/00001-abc\.metadata\.json: metadata_folder/,
    );
    assert.match(
      run.stderr,
      /Skipping aws\/ROUTE53\/2\.0\/.*notes\.txt: not_parquet \(DataError 612: /,
    );
    assert.doesNotMatch(run.stderr, /testing/); // the secret key never reaches the log
  } finally {
    lake.destroy();
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("end to end: a failed object leaves its message on the queue and exits 1", async () => {
  await using moto = await startMoto();
  const dir = await Deno.makeTempDir({ prefix: "seclake-e2e-" });
  await using receiver = await startTcpReceiver();
  const lake = await createTestLake(moto.endpoint);
  try {
    const good = `aws/VPC_FLOW/2.0/${DAY}/good.gz.parquet`;
    const r = await writeOcsfParquet(join(dir, "g.parquet"), { classUid: 4001, rows: 50, seed: 5 });
    await lake.put(good, await Deno.readFile(r.path));
    await lake.put(
      `aws/VPC_FLOW/2.0/${DAY}/garbage.gz.parquet`,
      new TextEncoder().encode("not parquet at all"),
    );
    await lake.send(eventBridgeBody(lake.bucket, good));
    await lake.send(eventBridgeBody(lake.bucket, `aws/VPC_FLOW/2.0/${DAY}/garbage.gz.parquet`));
    await lake.send(eventBridgeBody(lake.bucket, `aws/VPC_FLOW/2.0/${DAY}/missing.gz.parquet`));
    await lake.send("this is not a notification");
    const config = join(dir, "config.yaml");
    const relay =
      `  relay_1:\n    type: relay\n    config: { address: 127.0.0.1, port: ${receiver.port}, hostname: e2e-host }`;
    await Deno.writeTextFile(config, configYaml(lake, moto.endpoint, relay, join(dir, "state")));
    const run = await runCollectorProcess(["run", "--config", config, "--once"], { env: ENV });
    assert.equal(run.code, 1, run.stderr);
    assert.equal(receiver.lines.length, 50);
    assert.match(run.stderr, /DataError 601: Cannot decode Parquet s3:\/\/.*garbage\.gz\.parquet/);
    assert.match(
      run.stderr,
      /ApiError 402: S3 (Head|Get)Object failed: NotFound \(HTTP 404\) bucket=.* key=aws\/VPC_FLOW\/2\.0\/.*missing\.gz\.parquet/,
    );
    assert.match(run.stderr, /DataError 600: Notification body not understood: not JSON/);
    // The good message was deleted; the three failures wait on the queue.
    const depth = await lake.depth();
    assert.equal(depth.visible + depth.inFlight, 3);
  } finally {
    lake.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "end to end: rsyslog with gnutls and x509/name client authentication receives every event",
  ignore: !(await rsyslogAvailable()),
  async fn() {
    await using moto = await startMoto();
    const certs = await makeCerts();
    const dir = await Deno.makeTempDir({ prefix: "seclake-e2e-" });
    await using rsyslog = await startRsyslogTls(certs);
    const lake = await createTestLake(moto.endpoint);
    try {
      const published: Published = { expected: new Map(), sampleEvents: 0, sampleJson: [] };
      const files: [OcsfClassUid, number, "GZIP" | "ZSTD"][] = [[6003, 1500, "GZIP"], [
        4001,
        700,
        "ZSTD",
      ]];
      for (const [i, [classUid, rows, codec]] of files.entries()) {
        const r = await writeOcsfParquet(join(dir, `${i}.parquet`), {
          classUid,
          rows,
          seed: 40 + i,
          codec,
          layout: "avro",
          rowGroupSize: 400,
        });
        for (const e of r.expected!) published.expected.set((e.metadata as { uid: string }).uid, e);
        const key = `aws/X/2.0/${DAY}/${i}.gz.parquet`;
        await lake.put(key, await Deno.readFile(r.path));
        await lake.send(eventBridgeBody(lake.bucket, key));
      }
      const config = join(dir, "config.yaml");
      await Deno.writeTextFile(
        config,
        configYaml(lake, moto.endpoint, devoOutput(certs, rsyslog.port), join(dir, "state")),
      );
      const run = await runCollectorProcess(["run", "--config", config, "--once"], { env: ENV });
      assert.equal(run.code, 0, `collector failed:\n${run.stderr}\n${await rsyslog.readErrors()}`);
      const lines = await rsyslog.waitForLines(published.expected.size, 15_000);
      checkDelivery(lines, published);
      assert.deepEqual(await lake.depth(), { visible: 0, inFlight: 0 });
    } finally {
      lake.destroy();
      await certs.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
