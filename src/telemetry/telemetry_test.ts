import assert from "node:assert/strict";
import { singular, Telemetry } from "./events.ts";
import { setupLogging } from "./log.ts";
import { Counter, Histogram, Registry } from "./metrics.ts";
import { humanBytes, memoryReport, PullStats, SenderStats } from "./stats.ts";
import { parseListen, startMetricsServer } from "./server.ts";

Deno.test("pull statistics line carries the pulling id and the cycle's numbers", () => {
  const p = new PullStats(1712750700000);
  Object.assign(p, {
    requests: 7,
    messages: 2,
    objects: 3,
    objectsSkipped: 1,
    eventsReceived: 1500,
    duplicatesFiltered: 200,
    eventsFiltered: 40,
    eventsSent: 1300,
  });
  assert.equal(
    p.line(1712750702000),
    "Statistics for this pull cycle (@devo_pulling_id=1712750700000):Number of requests made: 7; " +
      "Number of messages received: 2; Number of objects read: 3; Number of objects skipped: 1; " +
      "Number of events received: 1500; " +
      "Number of duplicated events filtered out: 200; Number of events filtered out: 40; " +
      "Number of events generated and sent: 1300; " +
      "Average of events per second: 650.000. Data collection completed. Elapsed time: 2.000 seconds",
  );
});

Deno.test("sender statistics use Devo's wording and count since the last report", () => {
  let now = Date.UTC(2024, 3, 10, 12, 0, 0);
  const s = new SenderStats(() => now);
  const snap = (eventsSent: number) => [{
    name: "devo_1",
    eventsSent,
    bytesSent: eventsSent * 10,
    senders: 1,
    queueSize: 0,
  }];
  s.lines(snap(100));
  now += 300_000;
  const lines = s.lines(snap(250));
  assert.equal(
    lines[0],
    "Output devo_1: Number of available senders: 1, sender manager internal queue size: 0",
  );
  assert.equal(
    lines[1],
    'Standard - Total number of messages sent: 250, messages sent since "2024-04-10T12:00:00.000Z": 150 (elapsed 300.000 seconds), bytes sent: 1500',
  );
  assert.equal(humanBytes(123.45 * 1024 * 1024), "123.45MiB");
});

Deno.test("an event changes its metric and writes its line; repeated errors are rate-limited", async () => {
  const lines: string[] = [];
  await setupLogging({ level: "debug", write: (l) => lines.push(l) });
  let now = 0;
  const t = new Telemetry({ now: () => now, errorRepeatMs: 1000 });
  t.emit("object_duplicate", { bucket: "b", key: "k", events: 42 });
  assert.equal(t.metrics.duplicatesFiltered.total(), 42);
  assert.equal(t.metrics.objects.get({ result: "duplicate" }), 1);
  assert.match(
    lines.at(-1)!,
    /s3:\/\/b\/k was already delivered; 42 duplicated events filtered out/,
  );
  for (let i = 0; i < 5; i++) t.emit("error", { error: "DataError 600: x", error_id: 600 });
  assert.equal(t.metrics.errors.get({ id: "600" }), 5);
  assert.equal(lines.filter((l) => l.includes("DataError 600: x")).length, 1);
  now = 2000;
  t.emit("error", { error: "DataError 600: x", error_id: 600 });
  assert.match(lines.at(-1)!, /DataError 600: x.*repeated=4/);
  await setupLogging();
});

Deno.test("Prometheus text exposition", () => {
  const r = new Registry();
  const c = r.add(new Counter("seclake_x_total", "X."));
  c.inc({ output: "devo_1" }, 3);
  const h = r.add(new Histogram("seclake_t_seconds", "T.", [1, 5]));
  h.observe(2);
  assert.equal(
    r.render(),
    '# HELP seclake_x_total X.\n# TYPE seclake_x_total counter\nseclake_x_total{output="devo_1"} 3\n' +
      "# HELP seclake_t_seconds T.\n# TYPE seclake_t_seconds histogram\n" +
      'seclake_t_seconds_bucket{le="1"} 0\nseclake_t_seconds_bucket{le="5"} 1\n' +
      'seclake_t_seconds_bucket{le="+Inf"} 1\nseclake_t_seconds_sum 2\nseclake_t_seconds_count 1\n',
  );
});

Deno.test("metrics server answers /metrics, /healthz and /readyz", async () => {
  assert.deepEqual(parseListen("127.0.0.1:9464"), { hostname: "127.0.0.1", port: 9464 });
  assert.deepEqual(parseListen(":1234"), { hostname: "0.0.0.0", port: 1234 });
  let ready = false;
  const server = await startMetricsServer("127.0.0.1:0", {
    live: () => ({ ok: true, reason: "loops turning" }),
    ready: () => ({ ok: ready, reason: ready ? "ready" : "output not delivering: devo_1" }),
    metrics: () => "seclake_up 1\n",
  });
  try {
    const get = (p: string) => fetch(`http://127.0.0.1:${server.port}${p}`);
    let r = await get("/metrics");
    assert.equal(await r.text(), "seclake_up 1\n");
    r = await get("/healthz");
    assert.equal(r.status, 200);
    await r.body?.cancel();
    r = await get("/readyz");
    assert.equal(r.status, 503);
    assert.deepEqual(await r.json(), {
      status: "unavailable",
      reason: "output not delivering: devo_1",
    });
    ready = true;
    r = await get("/readyz");
    assert.equal(r.status, 200);
    await r.body?.cancel();
    r = await get("/nope");
    assert.equal(r.status, 404);
    await r.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("the same error about different messages is logged for each", async () => {
  const lines: string[] = [];
  await setupLogging({ level: "debug", write: (l) => lines.push(l) });
  const t = new Telemetry({ now: () => 0 });
  for (const id of ["m1", "m2", "m1"]) {
    t.emit("error", { error: "DataError 600: x", error_id: 600, message_id: id });
  }
  assert.equal(lines.filter((l) => l.includes("DataError 600: x")).length, 2);
  await setupLogging();
});

Deno.test("the first sender statistics count since the start, not since the report itself", () => {
  const start = Date.UTC(2024, 3, 10, 12, 0, 0);
  let now = start;
  const s = new SenderStats(() => now);
  now += 300_000;
  const snap = [{ name: "devo_1", eventsSent: 40, bytesSent: 400, senders: 1, queueSize: 0 }];
  assert.equal(
    s.lines(snap)[1],
    'Standard - Total number of messages sent: 40, messages sent since "2024-04-10T12:00:00.000Z": 40 (elapsed 300.000 seconds), bytes sent: 400',
  );
});

Deno.test("a pull cycle with a failed message does not end 'Data collection completed'", () => {
  const p = new PullStats(1712750700000);
  Object.assign(p, { requests: 2, messages: 3, failed: 2 });
  assert.match(p.line(1712750701000), /\. Data collection failed for 2 messages\. Elapsed time/);
  p.failed = 1;
  assert.match(p.line(1712750701000), /Data collection failed for 1 message\. /);
  p.failed = 0;
  assert.match(p.line(1712750701000), /Data collection completed\. Elapsed time/);
});

Deno.test("the memory line: RSS, heap used of total, external, the machine's share in use", () => {
  const mib = 1024 * 1024;
  assert.equal(
    memoryReport({ rss: 200 * mib, heapUsed: 30 * mib, heapTotal: 45 * mib, external: 8 * mib }),
    "Memory: process RSS 200.00MiB, heap used 30.00MiB of 45.00MiB, external 8.00MiB; machine ?% used",
  );
  // This process's own sizes, in whatever unit they come to (a test run may pass 1 GiB).
  const size = String.raw`[\d.]+(?:B|[KMGT]iB)`;
  assert.match(
    memoryReport(),
    new RegExp(
      `^Memory: process RSS ${size}, heap used ${size} of ${size}, external ${size}; ` +
        String.raw`machine (?:[\d.]+|\?)% used$`,
    ),
  );
});

Deno.test("counts of 1 read in the singular", async () => {
  assert.equal(
    singular("Pull started: {count} messages", { count: 1 }),
    "Pull started: {count} message",
  );
  assert.equal(
    singular("Pull started: {count} messages", { count: 2 }),
    "Pull started: {count} messages",
  );
  assert.equal(
    singular("Run finished: {messages} messages received, {objects} objects delivered", {
      messages: 1,
      objects: 3,
    }),
    "Run finished: {messages} message received, {objects} objects delivered",
  );
  const lines: string[] = [];
  await setupLogging({ level: "debug", write: (l) => lines.push(l) });
  new Telemetry().emit("pull_started", { id: "1", count: 1 });
  assert.match(lines.at(-1)!, /Pull started \(@devo_pulling_id=1\): 1 message$/m);
  await setupLogging();
});
