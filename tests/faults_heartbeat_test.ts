/**
 * Fault injection: an object that takes 30 s to read (its S3 response trickles in through the
 * fault proxy) under a 10 s visibility timeout. The heartbeat at half the visibility timeout
 * must keep the message hidden: no second receive, no duplicates.
 */
import assert from "node:assert/strict";
import { RESET } from "./helpers/fault_proxy.ts";
import { s3RecordsBody } from "./helpers/lake.ts";
import { spawnCollector, waitUntil } from "./helpers/process.ts";
import { AWS_ENV, DAY, describe, runFinished, startWorld, tally } from "./helpers/fault_env.ts";

Deno.test("a 30 s object under a 10 s visibility timeout: the heartbeat holds it, one receive, no duplicates", async () => {
  await using w = await startWorld({ queueVisibility: 10 });
  const object = await w.putFixture(`aws/VPC_FLOW/2.0/${DAY}/slow.gz.parquet`, {
    classUid: 4001,
    rows: 3_000,
    seed: 601,
    rowGroupSize: 1_000,
  });
  // The whole-object GET trickles its body over 30 s: never silent long enough to time out.
  w.proxy.add({
    service: "s3",
    operation: "GetObject",
    key: object.key,
    fault: { kind: "trickle", ms: 30_000 },
  });
  await w.lake.send(s3RecordsBody(w.lake.bucket, [object.key]));
  const config = await w.writeConfig({ visibility: 10 });
  const t0 = Date.now();
  // Not --once: the loop keeps polling, so a message that became visible again would be seen.
  await using run = spawnCollector(["run", "--config", config], { env: AWS_ENV });
  await waitUntil(
    async () => {
      const d = await w.lake.depth();
      return (d.visible + d.inFlight === 0 && w.lines().length >= object.ids.length) || run.done;
    },
    "the message to be deleted",
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  const seconds = (Date.now() - t0) / 1000;
  // A few more polls, to see a second receive if there were one.
  await new Promise((r) => setTimeout(r, 2_000));
  run.kill("SIGTERM");
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr);
  assert.ok(seconds >= 30, `the object took only ${seconds} s`);

  const t = tally(w.lines(), object.ids);
  console.log(`slow object (${seconds.toFixed(1)} s): ${describe(t)}`);
  assert.equal(t.missing.length, 0, describe(t));
  assert.equal(t.duplicates, 0, describe(t));
  const finished = runFinished(run.stderr)!;
  assert.equal(finished.received, 1, "the message was received a second time");
  assert.equal(finished.deleted, 1);
  // Extended every 5 s while it was read.
  const extensions = w.proxy.count({ service: "sqs", operation: "ChangeMessageVisibility" });
  assert.ok(extensions >= 5, `${extensions} visibility extensions`);
  assert.equal(w.proxy.count({ service: "s3", operation: "GetObject", key: object.key }), 1);
  assert.deepEqual(await w.lake.depth(), { visible: 0, inFlight: 0 });
});

Deno.test("visibility extensions all fail: the message that comes back while in progress is not read twice", async () => {
  await using w = await startWorld({ queueVisibility: 10 });
  const object = await w.putFixture(`aws/VPC_FLOW/2.0/${DAY}/unextended.gz.parquet`, {
    classUid: 4001,
    rows: 3_000,
    seed: 602,
    rowGroupSize: 1_000,
  });
  w.proxy.add({
    service: "s3",
    operation: "GetObject",
    key: object.key,
    fault: { kind: "trickle", ms: 15_000 },
  });
  // SQS refuses every extension: after 10 s the message is visible again and received again.
  w.proxy.add({ service: "sqs", operation: "ChangeMessageVisibility", fault: RESET });
  await w.lake.send(s3RecordsBody(w.lake.bucket, [object.key]));
  const config = await w.writeConfig({ visibility: 10 });
  await using run = spawnCollector(["run", "--config", config], { env: AWS_ENV });
  await waitUntil(
    async () => {
      const d = await w.lake.depth();
      return (d.visible + d.inFlight === 0 && w.lines().length >= object.ids.length) || run.done;
    },
    "the message to be deleted",
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  run.kill("SIGTERM");
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr);
  const t = tally(w.lines(), object.ids);
  console.log(`unextended slow object: ${describe(t)}`);
  assert.equal(t.missing.length, 0, describe(t));
  assert.equal(t.duplicates, 0, describe(t));
  assert.match(run.stderr, /Message \S+ came back while in progress; its new receipt is used/);
  // Read once; deleted with the receipt of its latest delivery.
  assert.equal(w.proxy.count({ service: "s3", operation: "GetObject", key: object.key }), 1);
  assert.equal(runFinished(run.stderr)?.deleted, 1);
});
