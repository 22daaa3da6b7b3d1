/**
 * Observability end to end: a long-running collector process against moto and the mTLS
 * receiver; `/metrics` must equal what was published and received, `/readyz` must turn 503 while
 * the receiver is down and 200 after it returns, and each pull cycle logs its statistics line.
 */
import assert from "node:assert/strict";
import { metric, until } from "./helpers/polling.ts";
import { join } from "node:path";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import { freePort } from "./helpers/_util.ts";
import { makeCerts } from "./helpers/certs.ts";
import { REPO } from "./helpers/collector.ts";
import { createTestLake, eventBridgeBody, TEST_CREDENTIALS } from "./helpers/lake.ts";
import { MOTO_CA_FILE, startMoto } from "./helpers/moto.ts";
import { startTlsReceiver } from "./helpers/tls_receiver.ts";
import type { LineReceiver } from "./helpers/tls_receiver.ts";

const DAY = "region=us-east-1/accountId=111122223333/eventDay=20240410";

/** How long each wait of this file may take. */
const WAIT_MS = 30_000;

Deno.test("metrics equal what was published and received; /readyz follows the receiver", async () => {
  await using moto = await startMoto();
  const certs = await makeCerts();
  const dir = await Deno.makeTempDir({ prefix: "seclake-obs-" });
  let receiver: LineReceiver = await startTlsReceiver(certs);
  const port = receiver.port;
  const lake = await createTestLake(moto.endpoint);
  const metricsPort = freePort();
  let child: Deno.ChildProcess | undefined;
  try {
    const sizes = [300, 200, 100];
    for (const [i, rows] of sizes.entries()) {
      const r = await writeOcsfParquet(join(dir, `${i}.parquet`), {
        // CloudTrail-like events (~1.7 KB) are over max_event_bytes below and sent truncated.
        classUid: i === 1 ? 6003 : 4001,
        rows,
        seed: 70 + i,
      });
      const key = `aws/VPC_FLOW/2.0/${DAY}/${i}.gz.parquet`;
      await lake.put(key, await Deno.readFile(r.path));
      await lake.send(eventBridgeBody(lake.bucket, key));
    }
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(
      config,
      `globals:
  persistence: { directory_name: ${join(dir, "state")} }
  metrics: { listen: "127.0.0.1:${metricsPort}" }
outputs:
  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${port}, chain: ${certs.caCertPath}, cert: ${certs.clientCertPath}, key: ${certs.clientKeyPath}, retries: 100 }
inputs:
  security_lake:
    credentials: { aws_access_key_id: "${TEST_CREDENTIALS.accessKeyId}", aws_secret_access_key: "${TEST_CREDENTIALS.secretAccessKey}" }
    region: us-east-1
    max_event_bytes: 1024
    queue_name: ${lake.queueName}
    endpoint_url: ${moto.endpoint}
    services:
      events: { wait_time_seconds: 1, visibility_timeout_seconds: 30 }
`,
    );
    child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=seclake", "--quiet", "main.ts", "run", "--config", config],
      cwd: REPO,
      env: { NO_COLOR: "1", AWS_CA_BUNDLE: MOTO_CA_FILE },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = child.stderr.pipeThrough(new TextDecoderStream());
    let log = "";
    const drained = (async () => {
      for await (const s of stderr) log += s;
    })();
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${metricsPort}${path}`);
      return { status: r.status, text: await r.text() };
    };
    const total = sizes.reduce((a, b) => a + b, 0);
    await receiver.waitForLines(total, 60_000);
    let text = "";
    await until("counters", async () => {
      text = (await get("/metrics")).text;
      return metric(text, "seclake_messages_deleted_total") === 3;
    }, WAIT_MS);
    assert.equal(metric(text, "seclake_messages_received_total"), 3);
    assert.equal(metric(text, 'seclake_objects_total{result="delivered"}'), 3);
    assert.equal(metric(text, "seclake_events_received_total"), total);
    assert.equal(metric(text, 'seclake_events_sent_total{output="devo_1"}'), receiver.lines.length);
    assert.equal(receiver.lines.length, total);
    const bytes = receiver.lines.reduce((t, l) => t + new TextEncoder().encode(l).length + 1, 0);
    assert.equal(metric(text, 'seclake_bytes_sent_total{output="devo_1"}'), bytes);
    assert.equal(metric(text, "seclake_duplicated_events_filtered_total"), 0);
    const truncated = receiver.lines.filter((l) => l.includes('"@seclake_truncated":true'));
    assert.ok(truncated.length >= 100, `${truncated.length} events truncated`);
    assert.equal(metric(text, "seclake_events_truncated_total"), truncated.length);
    // Queue depth was polled at start; the oldest message age was taken.
    assert.ok(text.includes('seclake_queue_messages{state="visible"}'));
    assert.ok(metric(text, 'seclake_queue_messages{state="visible"}') <= 3);
    assert.ok(text.includes('seclake_queue_messages{state="not_visible"}'));
    assert.ok(metric(text, "seclake_oldest_message_age_seconds") > 0);
    assert.equal(metric(text, "seclake_object_processing_seconds_count"), 3);
    assert.equal((await get("/healthz")).status, 200);
    assert.equal((await get("/readyz")).status, 200);

    // The receiver goes away while there is work: not ready.
    await receiver.close();
    const r = await writeOcsfParquet(join(dir, "late.parquet"), {
      classUid: 4001,
      rows: 50,
      seed: 99,
    });
    await lake.put(`aws/VPC_FLOW/2.0/${DAY}/late.gz.parquet`, await Deno.readFile(r.path));
    await lake.send(eventBridgeBody(lake.bucket, `aws/VPC_FLOW/2.0/${DAY}/late.gz.parquet`));
    await until("/readyz 503", async () => (await get("/readyz")).status === 503, WAIT_MS);
    assert.match((await get("/readyz")).text, /output not delivering: devo_1/);
    // It comes back: the events arrive and the collector is ready again.
    receiver = await startTlsReceiver(certs, { port });
    await receiver.waitForLines(50, 60_000);
    await until("/readyz 200", async () => (await get("/readyz")).status === 200, WAIT_MS);
    text = (await get("/metrics")).text;
    assert.equal(metric(text, "seclake_messages_deleted_total"), 4);
    assert.ok(metric(text, 'seclake_retries_total{stage="output"}') >= 1);

    child.kill("SIGTERM");
    const status = await child.status;
    await drained;
    child = undefined;
    assert.equal(status.code, 0, log);
    // One statistics line per pull cycle, with the cycle's own numbers.
    const stats = log.split("\n").filter((l) => l.includes("Statistics for this pull cycle"));
    assert.ok(
      stats.some((l) =>
        /Number of events received: (300|200|100|600|500|400); /.test(l) &&
        /Data collection completed\. Elapsed time: [\d.]+ seconds/.test(l)
      ),
      stats.join("\n"),
    );
  } finally {
    if (child) {
      child.kill("SIGKILL");
      await child.status;
    }
    await receiver.close();
    lake.destroy();
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
