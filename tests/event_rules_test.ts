/**
 * `drop_events`, `tag_routes` and `source_fields` against moto and the mTLS receiver, on the
 * fast path (decode workers) and with obfuscation rules: the events a condition drops are not
 * sent and are counted in the pull statistics line and in `/metrics`, each event sent has the
 * tag of the first route it matches (else the input's), and carries `@source` (the key's facts)
 * just before `@devo_pulling_id`; `seclake backfill` applies the same rules and counts what it
 * filtered out. The verdicts are taken here on the events as written.
 */
import assert from "node:assert/strict";
import { metric, until } from "./helpers/polling.ts";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import { freePort } from "./helpers/_util.ts";
import { makeCerts } from "./helpers/certs.ts";
import { REPO, runCollectorProcess } from "./helpers/collector.ts";
import { dayOf } from "../src/source/backfill.ts";
import { parseDevoLine } from "./helpers/devo_line.ts";
import { createTestLake, eventBridgeBody, TEST_CREDENTIALS } from "./helpers/lake.ts";
import type { TestLake } from "./helpers/lake.ts";
import { MOTO_CA_FILE, startMoto } from "./helpers/moto.ts";
import { startTlsReceiver } from "./helpers/tls_receiver.ts";
import { DROP, RowRules } from "../src/transform/conditions.ts";
import type { JsonValue } from "../src/transform/values.ts";

const ENV = {
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  AWS_CA_BUNDLE: MOTO_CA_FILE,
};
const PART = "aws/CLOUD_TRAIL_MGMT/2.0/region=eu-west-1/accountId=123456789012/eventDay=20240410";
const DEFAULT_TAG = "cloud.aws.amazon.security_lake.events";
/** Yesterday (UTC), `YYYYMMDD`: inside the backfill window. */
const DAY = dayOf(new Date(Date.now() - 24 * 60 * 60 * 1000));
const dashed = (day: string) => `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}`;

const RULES = {
  drop: [
    { path: "actor.user.uid", equals: "s3.amazonaws.com" },
    { path: "actor.user.uid", matches: "^cloudtrail\\." },
  ],
  routes: [
    { path: "api.operation", matches: "^Delete", tag: "my.app.deletes" },
    { path: "cloud.region", in: ["eu-west-1", "us-east-1"], tag: "my.app.regional" },
  ],
};
const RULES_YAML = `
        source_fields: true
        drop_events:
          - { path: actor.user.uid, equals: s3.amazonaws.com }
          - { path: actor.user.uid, matches: "^cloudtrail\\\\." }
        tag_routes:
          - { path: api.operation, matches: "^Delete", tag: my.app.deletes }
          - { path: cloud.region, in: [eu-west-1, us-east-1], tag: my.app.regional }`;

/** How long each wait of this file may take. */
const WAIT_MS = 60_000;

/** Writes a CloudTrail-like object under `key`: its events, as written. */
async function putParquet(lake: TestLake, dir: string, key: string, seed: number) {
  const r = await writeOcsfParquet(join(dir, `${seed}.parquet`), {
    classUid: 6003,
    rows: 600,
    seed,
    rowGroupSize: 200,
  });
  await lake.s3.send(
    new PutObjectCommand({ Bucket: lake.bucket, Key: key, Body: await Deno.readFile(r.path) }),
  );
  return r.expected! as { [k: string]: JsonValue }[];
}

/** The tag each event should go with (or DROP), by metadata uid. */
function verdicts(events: { [k: string]: JsonValue }[]): Map<string, string | typeof DROP> {
  const judge = new RowRules(RULES);
  return new Map(events.map((e) => {
    const v = judge.verdict(e);
    const uid = (e.metadata as { uid: string }).uid;
    return [uid, v === DROP ? DROP : v < 0 ? DEFAULT_TAG : RULES.routes[v]!.tag];
  }));
}

Deno.test("event rules: drop_events, tag_routes and source_fields on the fast path and with obfuscation, counted", async () => {
  await using moto = await startMoto();
  const certs = await makeCerts();
  const dir = await Deno.makeTempDir({ prefix: "seclake-rules-" });
  await using receiver = await startTlsReceiver(certs);
  const lake = await createTestLake(moto.endpoint);
  try {
    for (const [run, obfuscation] of [[1, ""], [2, OBFUSCATION]] as const) {
      const key = `${PART}/object-${run}.gz.parquet`;
      const events = await putParquet(lake, dir, key, 20 + run);
      const want = verdicts(events);
      const dropped = [...want.values()].filter((v) => v === DROP).length;
      assert.ok(dropped > 20 && dropped < 550, `${dropped} of 600 dropped`);
      const tags = new Set(want.values());
      for (const t of [DEFAULT_TAG, "my.app.deletes", "my.app.regional"]) assert.ok(tags.has(t));
      await lake.send(eventBridgeBody(lake.bucket, key));
      const metricsPort = freePort();
      const config = join(dir, `config-${run}.yaml`);
      await Deno.writeTextFile(
        config,
        `globals:
  persistence: { directory_name: ${join(dir, "state")} }
  metrics: { listen: "127.0.0.1:${metricsPort}" }
outputs:
  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${receiver.port}, chain: ${certs.caCertPath}, cert: ${certs.clientCertPath}, key: ${certs.clientKeyPath}, hostname: rules-host }
inputs:
  security_lake:
    credentials: { aws_access_key_id: "\${AWS_ACCESS_KEY_ID}", aws_secret_access_key: "\${AWS_SECRET_ACCESS_KEY}" }
    region: us-east-1
    queue_name: ${lake.queueName}
    endpoint_url: ${moto.endpoint}
    bucket: ${lake.bucket}
    services:
      events:
        wait_time_seconds: 1
        # A receive of the previous run still pending in moto may take the message: it is
        # visible again after this.
        visibility_timeout_seconds: 10${RULES_YAML}${obfuscation}
`,
      );
      const before = receiver.lines.length;
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-P=seclake",
          "--quiet",
          "--v8-flags=--enable-experimental-regexp-engine",
          "main.ts",
          "run",
          "--config",
          config,
        ],
        cwd: REPO,
        env: { NO_COLOR: "1", ...ENV },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let log = "";
      const drained = (async () => {
        for await (const s of child.stderr.pipeThrough(new TextDecoderStream())) log += s;
      })();
      let text = "";
      let exited = false;
      let failure: unknown;
      void child.status.then(() => exited = true);
      try {
        await until("the message deleted", async () => {
          if (exited) return true;
          // Refused until the metrics server is up.
          const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, {
            signal: AbortSignal.timeout(5000),
          }).catch(() => undefined);
          text = r ? await r.text() : "";
          return metric(text, "seclake_messages_deleted_total") === 1;
        }, WAIT_MS);
        if (exited) throw new Error("the collector ended");
      } catch (e) {
        failure = e;
      } finally {
        try {
          child.kill("SIGTERM");
        } catch {
          // already ended
        }
        const ended = await Promise.race([
          child.status.then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 30_000)),
        ]);
        if (!ended) {
          child.kill("SIGKILL");
          await child.status;
          failure ??= new Error("the collector did not stop on SIGTERM");
        }
        await drained;
      }
      if (failure) throw new Error(`${failure}\n${log}`);
      const lines = receiver.lines.slice(before).map(parseDevoLine);
      assert.equal(lines.length, 600 - dropped, log);
      for (const l of lines) {
        const uid = (l.event.metadata as { uid: string }).uid;
        assert.equal(l.tag, want.get(uid), `tag of ${uid}`);
        const keys = Object.keys(l.event);
        assert.deepEqual(keys.slice(-2), ["@source", "@devo_pulling_id"]);
        assert.deepEqual(l.event["@source"], {
          bucket: lake.bucket,
          key,
          source: "CLOUD_TRAIL_MGMT",
          source_version: "2.0",
          account: "123456789012",
          region: "eu-west-1",
          event_day: "20240410",
        });
        const ip = (l.event.src_endpoint as { ip?: string } | undefined)?.ip;
        if (run === 2 && ip !== undefined) assert.equal(ip, "MASKED");
      }
      if (run === 1) {
        assert.ok(lines.some((l) => (l.event.src_endpoint as { ip?: string })?.ip !== "MASKED"));
      }
      assert.equal(metric(text, 'seclake_events_filtered_total{input="security_lake"}'), dropped);
      assert.equal(metric(text, "seclake_events_received_total"), 600);
      const stats = log.split("\n").filter((l) => l.includes("Statistics for this pull cycle"));
      const filtered = stats.reduce(
        (n, l) => n + Number(/Number of events filtered out: (\d+)/.exec(l)?.[1] ?? 0),
        0,
      );
      const sent = stats.reduce(
        (n, l) => n + Number(/Number of events generated and sent: (\d+)/.exec(l)?.[1] ?? 0),
        0,
      );
      assert.equal(filtered, dropped, stats.join("\n"));
      assert.equal(sent, 600 - dropped, stats.join("\n"));
    }
    // The backfill finds an object no message announced, with the same rules and counts.
    const key = `${PART.replace("20240410", DAY)}/object-3.gz.parquet`;
    const want = verdicts(await putParquet(lake, dir, key, 23));
    const dropped = [...want.values()].filter((v) => v === DROP).length;
    const before = receiver.lines.length;
    const backfill = await runCollectorProcess(
      [
        "backfill",
        "--config",
        join(dir, "config-2.yaml"),
        "--from",
        dashed(DAY),
        "--to",
        dashed(DAY),
      ],
      { env: ENV },
    );
    assert.equal(backfill.code, 0, backfill.stderr);
    const lines = receiver.lines.slice(before).map(parseDevoLine);
    assert.equal(lines.length, 600 - dropped);
    for (const l of lines) {
      assert.equal(l.tag, want.get((l.event.metadata as { uid: string }).uid));
    }
    assert.match(
      backfill.stderr,
      new RegExp(`1 object delivered \\(${600 - dropped} events, ${dropped} filtered out, `),
    );
  } finally {
    lake.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});

const OBFUSCATION = `
        obfuscation:
          - { paths: [src_endpoint.ip], method: mask, value: MASKED }`;
