/**
 * Fault injection: the collector process dies (kill -9) or is stopped (SIGTERM) in the middle of
 * a large multi-row-group object, then starts again. Every event must arrive; a kill may repeat
 * at most the batches that were in flight, a graceful stop repeats nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { eventBridgeBody } from "./helpers/lake.ts";
import { spawnCollector, waitUntil } from "./helpers/process.ts";
import { AWS_ENV, DAY, describe, runFinished, startWorld, tally } from "./helpers/fault_env.ts";

const BIG = { classUid: 6003, rows: 50_000, rowGroupSize: 5_000 } as const;
/** One batch at most this big; chunks of 256 KiB fit four times. */
const MAX_BATCH_BYTES = 1024 * 1024;
/** `batches_in_flight` (its default). */
const BATCHES_IN_FLIGHT = 2;

async function readCheckpoint(stateDir: string): Promise<number> {
  try {
    const cps = JSON.parse(await Deno.readTextFile(join(stateDir, "checkpoints.json"))) as {
      objects: { rows: number }[];
    };
    return cps.objects[0]?.rows ?? 0;
  } catch {
    return 0;
  }
}

Deno.test("kill -9 in the middle of a large object, then restart: every event, at most the batch in flight twice", async () => {
  await using w = await startWorld();
  const object = await w.putFixture(`aws/CLOUD_TRAIL_MGMT/2.0/${DAY}/kill9.gz.parquet`, {
    ...BIG,
    seed: 101,
  });
  await w.lake.send(eventBridgeBody(w.lake.bucket, object.key));
  const config = await w.writeConfig({ maxBatchBytes: MAX_BATCH_BYTES });

  {
    await using first = spawnCollector(["run", "--config", config], { env: AWS_ENV });
    await waitUntil(() => w.receiver.lines.length >= 15_000 || first.done, "15,000 lines");
    assert.ok(!first.done, `collector exited early:\n${first.stderr}`);
    first.kill("SIGKILL");
    const exit = await first.exited;
    assert.equal(exit.signal, "SIGKILL");
  }
  const received = w.receiver.lines.length;
  assert.ok(received < object.ids.length, "the object was finished before the kill");
  const checkpoint = await readCheckpoint(w.stateDir);
  assert.ok(checkpoint > 0 && checkpoint <= received, `checkpoint ${checkpoint} of ${received}`);
  for await (const f of Deno.readDir(w.stateDir)) {
    if (!f.isFile) continue;
    const mode = (await Deno.stat(join(w.stateDir, f.name))).mode! & 0o777;
    assert.equal(mode, 0o600, `${f.name} has mode ${mode.toString(8)}`);
  }

  // The message comes back once its visibility timeout (10 s) runs out.
  await waitUntil(async () => (await w.lake.depth()).visible === 1, "the message to reappear", {
    timeoutMs: 20_000,
    intervalMs: 500,
  });
  await using second = spawnCollector(["run", "--config", config, "--once"], { env: AWS_ENV });
  const exit = await second.exited;
  assert.equal(exit.code, 0, second.stderr);
  const resumed = second.stderr.match(
    /Resuming s3:\/\/\S+kill9\.gz\.parquet after (\d+) confirmed rows/,
  );
  assert.ok(resumed, `no resume in:\n${second.stderr}`);
  assert.equal(Number(resumed[1]), checkpoint);

  const t = tally(w.lines(), object.ids);
  assert.equal(t.missing.length, 0, describe(t));
  assert.equal(t.unexpected, 0, describe(t));
  // Bound: a batch is confirmed, then checkpointed, before the one after the next starts, so what
  // the kill can repeat is the batches in flight (`batches_in_flight`, 2 by default): rows after
  // the checkpoint that reached the receiver.
  assert.ok(t.maxCopies <= 2, describe(t));
  assert.equal(t.duplicates, received - checkpoint, describe(t));
  assert.ok(t.duplicateBytes <= BATCHES_IN_FLIGHT * MAX_BATCH_BYTES, describe(t));
  console.log(`kill -9 at ${received} lines, checkpoint ${checkpoint}: ${describe(t)}`);
  assert.deepEqual(await w.lake.depth(), { visible: 0, inFlight: 0 });
});

Deno.test("SIGTERM in the middle of an object: exit 0 promptly, message released, restart resumes", async () => {
  // Each connection confirmed 200 ms after the collector's half-close: with 1 MiB batches the
  // object's ~80 batches take far longer than the shutdown timeout.
  await using w = await startWorld({ receiver: { endDelayMs: 200 } });
  const object = await w.putFixture(`aws/CLOUD_TRAIL_MGMT/2.0/${DAY}/term.gz.parquet`, {
    ...BIG,
    seed: 101,
  });
  await w.lake.send(eventBridgeBody(w.lake.bucket, object.key));
  // And every ranged read slowed (one per few row groups).
  w.proxy.add({
    service: "s3",
    operation: "GetObject",
    ranged: true,
    fault: { kind: "stall", ms: 1000 },
  });
  const shutdownTimeout = 4;
  const config = await w.writeConfig({ shutdownTimeout, maxBatchBytes: MAX_BATCH_BYTES });

  await using first = spawnCollector(["run", "--config", config], { env: AWS_ENV });
  await waitUntil(() => w.receiver.lines.length >= 5_000 || first.done, "5,000 lines");
  assert.ok(!first.done, `collector exited early:\n${first.stderr}`);
  const t0 = Date.now();
  first.kill("SIGTERM");
  const exit = await first.exited;
  const stopMs = Date.now() - t0;
  assert.equal(exit.code, 0, first.stderr);
  assert.ok(stopMs < shutdownTimeout * 1000 + 3000, `stopping took ${stopMs} ms`);
  assert.match(first.stderr, /Message \S+ released for another consumer/);
  // Released at once: visible again without waiting for the visibility timeout.
  assert.deepEqual(await w.lake.depth(), { visible: 1, inFlight: 0 });
  const received = w.receiver.lines.length;
  assert.ok(received < object.ids.length, "the object was finished before the stop");
  const checkpoint = await readCheckpoint(w.stateDir);
  // Everything sent was confirmed and checkpointed before the exit.
  assert.equal(checkpoint, received);

  w.proxy.clear();
  await using second = spawnCollector(["run", "--config", config, "--once"], { env: AWS_ENV });
  const again = await second.exited;
  assert.equal(again.code, 0, second.stderr);
  assert.match(
    second.stderr,
    new RegExp(`Resuming \\S+term\\.gz\\.parquet after ${checkpoint} confirmed rows`),
  );
  const t = tally(w.lines(), object.ids);
  assert.equal(t.missing.length, 0, describe(t));
  assert.equal(t.duplicates, 0, describe(t));
  console.log(`SIGTERM at ${received} lines, stopped in ${stopMs} ms: ${describe(t)}`);
  assert.equal(runFinished(second.stderr)?.deleted, 1);
  assert.deepEqual(await w.lake.depth(), { visible: 0, inFlight: 0 });
});

Deno.test("a repeated notification is filtered out; a corrupt state file is set aside (StateError 701) and the run goes on", async () => {
  await using w = await startWorld();
  const object = await w.putFixture(`aws/VPC_FLOW/2.0/${DAY}/state.gz.parquet`, {
    classUid: 4001,
    rows: 600,
    seed: 103,
    rowGroupSize: 200,
  });
  const body = eventBridgeBody(w.lake.bucket, object.key);
  const config = await w.writeConfig();
  const once = async () => {
    await using run = spawnCollector(["run", "--config", config, "--once"], { env: AWS_ENV });
    const exit = await run.exited;
    assert.equal(exit.code, 0, run.stderr);
    return run.stderr;
  };
  await w.lake.send(body);
  await once();
  assert.equal(w.lines().length, 600);
  // The same notification again: acknowledged, nothing sent, counted as filtered out.
  await w.lake.send(body);
  const again = await once();
  assert.match(
    again,
    /state\.gz\.parquet was already delivered; 600 duplicated events filtered out/,
  );
  assert.equal(w.lines().length, 600);
  assert.equal(runFinished(again)?.deleted, 1);
  // A corrupt state file: reported, set aside, and the collector carries on without it (the
  // object it would have filtered out is sent again).
  await Deno.writeTextFile(join(w.stateDir, "completed.json"), '{"objects": [["tor');
  await w.lake.send(body);
  const corrupt = await once();
  assert.match(corrupt, /StateError 701: State file \S+completed\.json is corrupt/);
  const names = [];
  for await (const f of Deno.readDir(w.stateDir)) names.push(f.name);
  assert.ok(names.some((n) => n.startsWith("completed.json.corrupt-")), names.join(", "));
  const t = tally(w.lines(), object.ids);
  assert.equal(t.missing.length, 0, describe(t));
  assert.equal(t.duplicates, 600, describe(t));
  assert.deepEqual(await w.lake.depth(), { visible: 0, inFlight: 0 });
});
