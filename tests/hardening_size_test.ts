/**
 * Object sizes come from S3, never from the notification. A notification that understates an
 * object's size (or an object replaced after its notification) cannot make the collector read
 * past `max_object_bytes`: the 150 MiB object below is refused with DataError 603 while the
 * collector process stays far below the object's size in memory.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openS3Object } from "../src/aws/s3.ts";
import { CollectorError } from "../src/errors.ts";
import { createTestLake, eventBridgeBody } from "./helpers/lake.ts";
import { motoEnv, startMoto } from "./helpers/moto.ts";
import { spawnCollector } from "./helpers/process.ts";

const MiB = 1024 * 1024;
const KEY = "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=111122223333/eventDay=20240410/" +
  "big.gz.parquet";

/** Peak resident memory of process `pid` so far (VmHWM), in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  assert.ok(kb, `no VmHWM in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

Deno.test("a notification saying size 1 for a 150 MiB object: DataError 603, and the collector's peak RSS stays under 300 MB", async () => {
  await using moto = await startMoto();
  const lake = await createTestLake(moto.endpoint);
  const dir = await Deno.makeTempDir({ prefix: "seclake-size-" });
  try {
    await lake.put(KEY, new Uint8Array(150 * MiB).fill(0x41));
    await lake.send(eventBridgeBody(lake.bucket, KEY, { size: 1 }));
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(
      config,
      `globals:
  persistence: { directory_name: ${join(dir, "state")} }
  decode_threads: 0
outputs:
  console_1: { type: console }
inputs:
  lake:
    credentials: { aws_access_key_id: testing, aws_secret_access_key: testing }
    region: us-east-1
    queue_name: ${lake.queueName}
    bucket: ${lake.bucket}
    endpoint_url: ${moto.endpoint}
    max_object_bytes: 8MiB
    max_receive_count: 1
    services: { events: { wait_time_seconds: 1 } }
`,
    );
    await using collector = spawnCollector(["run", "--config", config], {
      env: motoEnv(moto.endpoint),
    });
    await collector.waitForLog(/DataError 603/, 90_000);
    const peak = await peakRss(collector.pid);
    collector.kill("SIGTERM");
    await collector.exited;
    assert.match(
      collector.stderr,
      /DataError 603: Object s3:\/\/\S+ of 157286400 bytes is larger than max_object_bytes \(8388608 bytes\)/,
    );
    assert.equal(collector.stdout, "", "no event was sent");
    console.log(`peak RSS of the collector: ${(peak / MiB).toFixed(1)} MiB`);
    assert.ok(peak < 300 * 1000 * 1000, `peak RSS ${peak} bytes`);
  } finally {
    lake.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openS3Object: sizes and versions come from S3's responses, not the notification", async () => {
  await using moto = await startMoto();
  const lake = await createTestLake(moto.endpoint);
  try {
    const key = "ext/custom/1.0/x.parquet";
    const six = new Uint8Array(6 * MiB).fill(7);
    const etag = await lake.put(key, six);
    // Announced as tiny, 6 MiB in truth, over the limit: refused from the first response.
    const counter = { requests: 0 };
    const refused = await openS3Object(lake.s3, lake.bucket, key, {
      sizeHint: 1,
      maxBytes: 5 * MiB,
      counter,
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof CollectorError, `expected a CollectorError, got ${refused}`);
    assert.equal(refused.code, "OBJECT_TOO_LARGE");
    assert.equal(counter.requests, 1);
    // Announced as tiny, allowed: read in ranges, pinned to the ETag of the first response.
    const opened = await openS3Object(lake.s3, lake.bucket, key, {
      sizeHint: 1,
      maxBytes: 8 * MiB,
    });
    assert.equal(opened.size, six.length);
    assert.equal(opened.etag, etag);
    assert.deepEqual(new Uint8Array(await opened.buffer.slice(10, 20)), six.subarray(10, 20));
    await lake.put(key, new Uint8Array(6 * MiB).fill(8));
    const changed = await Promise.resolve().then(() => opened.buffer.slice(10, 20)).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(changed instanceof CollectorError);
    assert.equal(changed.code, "S3_OBJECT_CHANGED");
    // Announced as large, small in truth: HeadObject, then one read of exactly its bytes.
    const small = new Uint8Array(1000).fill(3);
    await lake.put(key, small);
    const whole = await openS3Object(lake.s3, lake.bucket, key, { sizeHint: 50 * MiB });
    assert.equal(whole.size, 1000);
    assert.deepEqual(new Uint8Array(await whole.buffer.slice(0)), small);
    // An empty object announced as small.
    await lake.put(key, new Uint8Array(0));
    const empty = await openS3Object(lake.s3, lake.bucket, key, { sizeHint: 0 });
    assert.equal(empty.size, 0);
  } finally {
    lake.destroy();
  }
});
