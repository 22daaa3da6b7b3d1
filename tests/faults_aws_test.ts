/**
 * Fault injection on the AWS side, through a fault proxy in front of moto: S3 throttling (503
 * SlowDown), connection resets, a response that stalls past the S3 idle timeout, failing
 * HeadObject calls and ranged reads; SQS ReceiveMessage throttling and a long poll that stalls
 * past the SQS timeout, failing visibility extensions, and a DeleteMessage that never gets
 * through (the message comes back and is acknowledged as a duplicate). Every event must arrive
 * exactly once.
 */
import assert from "node:assert/strict";
import { eventBridgeBody } from "./helpers/lake.ts";
import { RESET, THROTTLE } from "./helpers/fault_proxy.ts";
import { spawnCollector, waitUntil } from "./helpers/process.ts";
import { AWS_ENV, DAY, describe, runFinished, startWorld, tally } from "./helpers/fault_env.ts";

Deno.test("S3 and SQS faults (503, resets, stalls past the timeouts, lost deletes): every event exactly once", async () => {
  await using w = await startWorld();
  const key = (name: string) => `aws/CLOUD_TRAIL_MGMT/2.0/${DAY}/${name}.gz.parquet`;
  const small = { classUid: 4001, rows: 1_500, rowGroupSize: 500 } as const;
  const objects = [
    await w.putFixture(key("throttled"), { ...small, seed: 301 }),
    await w.putFixture(key("reset"), { ...small, seed: 302 }),
    await w.putFixture(key("stalled"), { ...small, seed: 303 }),
    await w.putFixture(key("head"), { ...small, seed: 304 }),
    await w.putFixture(key("delete-lost"), { ...small, seed: 305 }),
    // Larger than 4 MiB: read with ranged GETs.
    await w.putFixture(key("ranged"), { classUid: 6003, rows: 45_000, seed: 306 }),
  ];
  const [throttled, reset, stalled, head, deleteLost, ranged] = objects.map((o) => o.key);
  const p = w.proxy;
  // S3: more 503s than the SDK's 4 attempts, so the collector's own retry is needed too.
  p.add({ service: "s3", operation: "GetObject", key: throttled, fault: THROTTLE, times: 6 });
  p.add({ service: "s3", operation: "GetObject", key: reset, fault: RESET, times: 2 });
  // Silent for 15 s: past the 10 s S3 idle timeout.
  p.add({
    service: "s3",
    operation: "GetObject",
    key: stalled,
    fault: { kind: "stall", ms: 15_000 },
    times: 1,
  });
  p.add({ service: "s3", operation: "HeadObject", key: head, fault: THROTTLE, times: 5 });
  // Ranged GETs: the footer, the first row group, then the rest read ahead in larger requests.
  // The 2nd and 3rd are reset, the next three throttled (the SDK's attempts run out, so the
  // collector retries the object from its checkpoint).
  p.add({
    service: "s3",
    operation: "GetObject",
    key: ranged,
    ranged: true,
    skip: 1,
    fault: RESET,
    times: 2,
  });
  p.add({
    service: "s3",
    operation: "GetObject",
    key: ranged,
    ranged: true,
    fault: THROTTLE,
    times: 3,
  });
  // SQS: the first receives throttled past the SDK's attempts, one long poll stalled past the
  // 6 s SQS timeout (wait 1 s + 5 s), visibility extensions failing, one delete never arriving.
  p.add({ service: "sqs", operation: "ReceiveMessage", fault: THROTTLE, times: 5 });
  p.add({
    service: "sqs",
    operation: "ReceiveMessage",
    skip: 3,
    fault: { kind: "stall", ms: 9_000 },
    times: 1,
  });
  p.add({ service: "sqs", operation: "ChangeMessageVisibility", fault: RESET, times: 3 });
  // Six resets: the SDK makes 4 attempts, and its HTTP client may resend a request once more by
  // itself when a pooled connection is reset, so the first delete fails however many that is;
  // the resets left are met by the delete of the message when it comes back.
  p.add({ service: "sqs", operation: "DeleteMessage", fault: RESET, times: 6 });
  // The message whose delete is lost is the first to finish: it is the only one sent at first.
  await w.lake.send(eventBridgeBody(w.lake.bucket, deleteLost));

  const config = await w.writeConfig();
  await using run = spawnCollector(["run", "--config", config], { env: AWS_ENV });
  await run.waitForLog(/SQS DeleteMessage failed/, 60_000);
  // Then SQS and S3 are down (connections refused) for 3 s.
  await p.refuse(3_000);
  for (const k of [throttled, reset, stalled, head, ranged]) {
    await w.lake.send(eventBridgeBody(w.lake.bucket, k));
  }
  const ids = objects.flatMap((o) => o.ids);
  await waitUntil(
    () => tally(w.lines(), ids).missing.length === 0 || run.done,
    "every event",
    { timeoutMs: 90_000, intervalMs: 500 },
  );
  await run.waitForLog(
    /delete-lost\.gz\.parquet was already delivered; 1500 duplicated events/,
    30_000,
  );
  await waitUntil(
    async () => {
      const d = await w.lake.depth();
      return d.visible + d.inFlight === 0;
    },
    "an empty queue",
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  run.kill("SIGTERM");
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr);

  const t = tally(w.lines(), ids);
  console.log(describe(t));
  assert.equal(t.missing.length, 0, describe(t));
  assert.equal(t.unexpected, 0, describe(t));
  // No fault here may repeat an event: S3 and SQS failures happen before anything is sent, and
  // the message whose delete was lost is filtered out as a completed object when it comes back.
  assert.equal(t.duplicates, 0, describe(t));
  const finished = runFinished(run.stderr)!;
  assert.equal(finished.duplicates, 1_500);
  assert.equal(finished.deleted, 6);
  // Every fault was met.
  const faulted = (k: string, op: string) =>
    p.requests.filter((q) => q.key === k && q.operation === op && q.fault).length;
  assert.equal(faulted(throttled, "GetObject"), 6);
  assert.equal(faulted(reset, "GetObject"), 2);
  assert.equal(faulted(stalled, "GetObject"), 1);
  assert.equal(faulted(head, "HeadObject"), 5);
  assert.equal(faulted(ranged, "GetObject"), 5);
  const sqsFaults = (op: string) =>
    p.requests.filter((q) => q.service === "sqs" && q.operation === op && q.fault).length;
  assert.equal(sqsFaults("ReceiveMessage"), 6);
  assert.equal(sqsFaults("DeleteMessage"), 6);
  assert.equal(sqsFaults("ChangeMessageVisibility"), 3);
  assert.match(run.stderr, /ApiError 401: S3 GetObject failed: SlowDown \(HTTP 503\)/);
  assert.match(run.stderr, /ApiError 400: SQS ReceiveMessage failed/);
  assert.match(
    run.stderr,
    /SQS ReceiveMessage failed: \S+: (connect )?ECONNREFUSED|Connection refused/,
  );
  assert.match(run.stderr, /ApiError 400: SQS DeleteMessage failed/);
});
