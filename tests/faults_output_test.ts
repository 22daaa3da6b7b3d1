/**
 * Fault injection on the output side: a receiver that cuts every connection after N lines, a
 * receiver that is down for 10 s, and a receiver that rejects the client certificate. The
 * collector process runs against moto and the mutual-TLS receiver; the receiver's lines are
 * checked against the ids published.
 */
import assert from "node:assert/strict";
import * as tls from "node:tls";
import { ConfirmedStreamOutput } from "../src/output/confirmed_stream.ts";
import { makeCerts, testConnector } from "./helpers/certs.ts";
import { eventBridgeBody } from "./helpers/lake.ts";
import { spawnCollector, waitUntil } from "./helpers/process.ts";
import { AWS_ENV, DAY, describe, runFinished, startWorld, tally } from "./helpers/fault_env.ts";

const MAX_BATCH_BYTES = 1024 * 1024;
/** `batches_in_flight` (its default). */
const BATCHES_IN_FLIGHT = 2;

Deno.test("the receiver closes every connection after N lines: every event arrives, each cut repeats at most N", async () => {
  const N = 1000;
  await using w = await startWorld({ receiver: { closeAfterLines: N } });
  const object = await w.putFixture(`aws/CLOUD_TRAIL_MGMT/2.0/${DAY}/cut.gz.parquet`, {
    classUid: 6003,
    rows: 12_000,
    seed: 201,
    rowGroupSize: 3_000,
  });
  await w.lake.send(eventBridgeBody(w.lake.bucket, object.key));
  // Batches of up to 2 MiB (about 1,200 lines) do not fit under N lines.
  const config = await w.writeConfig({ maxBatchBytes: 2 * MAX_BATCH_BYTES, direct: true });
  await using run = spawnCollector(["run", "--config", config, "--once"], { env: AWS_ENV });
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr);
  // Each cut connection is logged: while the batch was written, or when it was confirmed.
  const cuts = run.stderr.match(/the batch will be sent again|\(attempt \d+ of \d+\)/g)?.length ??
    0;
  const t = tally(w.lines(), object.ids);
  console.log(`closeAfterLines ${N}: ${cuts} cut connections; ${describe(t)}`);
  assert.equal(t.missing.length, 0, describe(t));
  assert.equal(t.unexpected, 0, describe(t));
  assert.ok(cuts >= 1, "no connection was cut: the test proves nothing");
  assert.match(run.stderr, /sending at most \d+ bytes per connection/);
  // Bound: a cut connection repeats what the receiver took before cutting it (at most N
  // lines); the pieces it is then sent in fit, so no id arrives more than twice.
  assert.ok(t.duplicates <= cuts * N, describe(t));
  assert.ok(t.maxCopies <= 2, describe(t));
  assert.deepEqual(await w.lake.depth(), { visible: 0, inFlight: 0 });
});

Deno.test("the receiver is down for 10 s, then back on the same port: every event, at most the batch in flight twice", async () => {
  await using w = await startWorld();
  const object = await w.putFixture(`aws/CLOUD_TRAIL_MGMT/2.0/${DAY}/down.gz.parquet`, {
    classUid: 6003,
    rows: 20_000,
    seed: 202,
    rowGroupSize: 2_000,
  });
  await w.lake.send(eventBridgeBody(w.lake.bucket, object.key));
  const config = await w.writeConfig({ maxBatchBytes: MAX_BATCH_BYTES, direct: true });
  await using run = spawnCollector(["run", "--config", config], { env: AWS_ENV });
  await waitUntil(() => w.receiver.lines.length >= 3_000 || run.done, "3,000 lines");
  await w.stopReceiver();
  const before = w.lines().length;
  // Memory stays flat while the output is down: reading waits for the output.
  const rss: number[] = [];
  for (let i = 0; i < 20; i++) {
    rss.push(await residentBytes(run.pid));
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(!run.done, run.stderr);
  await w.restartReceiver();
  await waitUntil(
    () => tally(w.lines(), object.ids).missing.length === 0 || run.done,
    "every event after the receiver came back",
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  await waitUntil(
    async () => {
      const d = await w.lake.depth();
      return d.visible + d.inFlight === 0;
    },
    "the message to be deleted",
    { timeoutMs: 20_000, intervalMs: 200 },
  );
  run.kill("SIGTERM");
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr);
  const t = tally(w.lines(), object.ids);
  console.log(
    `receiver down at ${before} lines for 10 s (RSS ${rss[0]! >> 20} → ${
      Math.max(...rss) >> 20
    } MiB): ${describe(t)}`,
  );
  assert.equal(t.missing.length, 0, describe(t));
  assert.equal(t.unexpected, 0, describe(t));
  assert.match(run.stderr, /DeliveryError 500: Cannot connect to localhost:\d+/);
  if (rss[0]! > 0) {
    const growth = Math.max(...rss) - rss[0]!;
    assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${growth} bytes while the output was down`);
  }
  // Bound: only the batches in flight when the receiver went away can arrive twice.
  assert.ok(t.maxCopies <= 2, describe(t));
  assert.ok(t.duplicateBytes <= BATCHES_IN_FLIGHT * MAX_BATCH_BYTES, describe(t));
});

Deno.test("the receiver rejects the client certificate: nothing counts as delivered, error 504, message kept", async () => {
  await using w = await startWorld();
  const object = await w.putFixture(`aws/CLOUD_TRAIL_MGMT/2.0/${DAY}/rogue.gz.parquet`, {
    classUid: 6003,
    rows: 2_000,
    seed: 203,
    rowGroupSize: 1_000,
  });
  await w.lake.send(eventBridgeBody(w.lake.bucket, object.key));
  const config = await w.writeConfig({ rogueCert: true, retries: 2, direct: true });
  await using run = spawnCollector(["run", "--config", config, "--once"], { env: AWS_ENV });
  const exit = await run.exited;
  assert.equal(exit.code, 1, run.stderr);
  assert.equal(w.lines().length, 0);
  assert.ok(w.receiver.handshakeErrors >= 1);
  assert.match(
    run.stderr,
    /DeliveryError 504: localhost:\d+ closed the connection before confirming; the client certificate was probably rejected/,
  );
  assert.equal(runFinished(run.stderr)?.deleted, 0);
  assert.match(run.stderr, /Output devo_1: 0 events \(0 bytes\) confirmed/);
  const depth = await w.lake.depth();
  assert.equal(depth.visible + depth.inFlight, 1);
  // Nothing was recorded as delivered.
  const completed = await Deno.readTextFile(`${w.stateDir}/completed.json`);
  assert.equal(JSON.parse(completed).objects.length, 0);
});

Deno.test("a TLS receiver that drops the tail of a batch and ends without close_notify: the batch is sent again", async () => {
  const certs = await makeCerts();
  const received: string[] = [];
  let connections = 0;
  const sockets = new Set<tls.TLSSocket>();
  // Connection 2 reads to our end, keeps 3 lines, and ends without a TLS close_notify (as a
  // receiver that is cut off would); every other connection keeps all and ends cleanly.
  const server = tls.createServer({
    key: certs.serverKey,
    cert: certs.serverCert,
    ca: [certs.caCert],
    requestCert: true,
    rejectUnauthorized: true,
    allowHalfOpen: true,
  }, (socket) => {
    const n = ++connections;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => text += c);
    socket.on("end", () => {
      const got = text.split("\n").filter((l) => l);
      if (n === 2) {
        received.push(...got.slice(0, 3));
        socket.destroy();
      } else {
        received.push(...got);
        socket.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  const out = new ConfirmedStreamOutput(
    testConnector(certs, port),
    { name: "devo_test", retries: 3, retryBaseMs: 20 },
  );
  const enc = new TextEncoder();
  const lines = (from: number, n: number) =>
    enc.encode(
      Array.from({ length: n }, (_, i) => `<14>2024-04-10T12:05:00.000Z h t: {"i":${from + i}}\n`)
        .join(""),
    );
  try {
    const first = await out.write(lines(0, 5), 5);
    await out.flush();
    await first.confirmed; // connection 1 ends with close_notify: the receiver's way is learned
    const second = await out.write(lines(5, 5), 5);
    await out.flush();
    await second.confirmed; // connection 2 drops lines 8 and 9; 3 asks again, 4 resends
    const ids = received.map((l) => Number(l.match(/"i":(\d+)/)![1])).sort((a, b) => a - b);
    assert.deepEqual(ids, [0, 1, 2, 3, 4, 5, 5, 6, 6, 7, 7, 8, 9]);
    assert.equal(connections, 4);
    assert.equal(out.stats.eventsSent, 10);
  } finally {
    await out.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    await certs.cleanup();
  }
});

/** Resident memory of process `pid` (Linux); 0 where /proc is not available. */
async function residentBytes(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}
