/**
 * `seclake check` against real local dependencies: moto for STS, SQS and S3, the mutual-TLS
 * receiver and a plain TCP receiver. It passes when everything is reachable, and fails with the
 * right catalogue id for a wrong queue name, refused credentials, a receiver that rejects the
 * client certificate, and a receiver that is not listening. The collector runs as the binary
 * would (`main.ts` under `-P=seclake`).
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort } from "./helpers/_util.ts";
import { makeCerts } from "./helpers/certs.ts";
import type { TestCerts } from "./helpers/certs.ts";
import { runCollectorProcess } from "./helpers/collector.ts";
import { createTestLake } from "./helpers/lake.ts";
import type { TestLake } from "./helpers/lake.ts";
import { MOTO_CA_FILE, startMoto } from "./helpers/moto.ts";
import { enableMotoAuth } from "./helpers/moto_auth.ts";
import { startTcpReceiver, startTlsReceiver } from "./helpers/tls_receiver.ts";

const SECRET = "sup3r-Secret-Value-4711";
const ENV = { SECLAKE_TEST_SECRET: SECRET };

interface Setup {
  endpoint: string;
  lake: TestLake;
  certs: TestCerts;
  tlsPort: number;
  tcpPort: number;
}

function configYaml(
  s: Setup,
  o: { queueName?: string; queueArn?: string; cert?: string; key?: string; tlsPort?: number } = {},
): string {
  return `globals:
  name: seclake-check-test
outputs:
  devo_1:
    type: devo_platform
    config:
      address: localhost
      port: ${o.tlsPort ?? s.tlsPort}
      chain: ${s.certs.caCertPath}
      cert: ${o.cert ?? s.certs.clientCertPath}
      key: ${o.key ?? s.certs.clientKeyPath}
  relay_1:
    type: relay
    config: { address: 127.0.0.1, port: ${s.tcpPort} }
  console_1:
    type: console
inputs:
  security_lake:
    credentials:
      aws_access_key_id: AKIATESTTESTTEST
      aws_secret_access_key: "\${SECLAKE_TEST_SECRET}"
    region: us-east-1
    ${o.queueArn ? `queue_arn: ${o.queueArn}` : `queue_name: ${o.queueName ?? s.lake.queueName}`}
    endpoint_url: ${s.endpoint}
    ca_bundle: ${MOTO_CA_FILE}
    bucket: ${s.lake.bucket}
`;
}

async function check(dir: string, yaml: string, json = false) {
  const file = join(dir, `config-${crypto.randomUUID()}.yaml`);
  await Deno.writeTextFile(file, yaml);
  const run = await runCollectorProcess(
    ["check", "--config", file, ...(json ? ["--json"] : [])],
    { env: ENV, timeoutMs: 90_000 },
  );
  assert.ok(!run.stdout.includes(SECRET) && !run.stderr.includes(SECRET), "the secret is shown");
  return run;
}

/** The checklist line that starts with `mark` and names `check`. */
function line(stdout: string, mark: "✓" | "✗" | "–" | "!", check: string): string {
  const found = stdout.split("\n").find((l) => l.startsWith(`${mark} ${check}:`));
  assert.ok(found, `no "${mark} ${check}" line in:\n${stdout}`);
  return found;
}

Deno.test("seclake check probes credentials, queue, bucket and outputs", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-check-" });
  await using moto = await startMoto();
  const certs = await makeCerts(join(dir, "certs"));
  await using tls = await startTlsReceiver(certs);
  await using tcp = await startTcpReceiver();
  const lake = await createTestLake(moto.endpoint);
  try {
    await lake.put(
      "aws/VPC_FLOW/2.0/region=us-east-1/accountId=123456789012/x.gz.parquet",
      new Uint8Array(16),
    );
    const s: Setup = { endpoint: moto.endpoint, lake, certs, tlsPort: tls.port, tcpPort: tcp.port };

    await t.step("everything reachable: every check passes, exit 0", async () => {
      const run = await check(dir, configYaml(s));
      assert.equal(run.code, 0, run.stdout + run.stderr);
      line(run.stdout, "✓", "configuration");
      assert.match(
        line(run.stdout, "✓", "inputs.security_lake credentials"),
        /arn:aws:sts::\d{12}:/,
      );
      assert.match(
        line(run.stdout, "✓", "inputs.security_lake queue"),
        /visibility timeout 30 s.*redrive policy none.*messages waiting/,
      );
      assert.match(
        line(run.stdout, "✓", "inputs.security_lake bucket"),
        /x\.gz\.parquet can be read \(16 bytes\)/,
      );
      assert.match(
        line(run.stdout, "✓", "outputs.devo_1 (devo_platform)"),
        /client certificate accepted/,
      );
      assert.match(line(run.stdout, "✓", "outputs.relay_1 (relay)"), /end of stream confirmed/);
      line(run.stdout, "✓", "outputs.console_1 (console)");
      for (const service of ["SQS", "S3", "STS"]) {
        assert.match(
          line(run.stdout, "✓", `inputs.security_lake network (${service})`),
          /: https:\/\/localhost:\d+, direct, no proxy, trusted: the default store and .* \(ca_bundle\)$/,
        );
      }
      line(run.stdout, "✓", "inputs.security_lake state folder");
      // The test certificates are valid for 30 days: a warning, not a failure.
      line(run.stdout, "!", "outputs.devo_1 client certificate");
      assert.equal(run.stdout.split("\n").filter((l) => /^[✓✗–] /.test(l)).length, 11);
      assert.equal(tls.handshakeErrors, 0);
      assert.deepEqual(tls.lines, [], "the probe sends nothing");
    });

    await t.step("--json prints the same checklist as one document", async () => {
      const run = await check(dir, configYaml(s), true);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      const report = JSON.parse(run.stdout);
      assert.equal(report.ok, true);
      assert.equal(report.exit_code, 0);
      assert.equal(report.checks.length, 12);
      assert.ok(report.checks.every((c: { status: string }) => c.status !== "failed"));
      assert.equal(
        report.checks.filter((c: { status: string }) => c.status === "warning").length,
        1,
      );
    });

    await t.step(
      "the queue by its ARN: its URL is made of the endpoint, the account and the name",
      async () => {
        const arn = `arn:aws:sqs:us-east-1:123456789012:${lake.queueName}`;
        const run = await check(dir, configYaml(s, { queueArn: arn }));
        assert.equal(run.code, 0, run.stdout + run.stderr);
        assert.match(
          line(run.stdout, "✓", "inputs.security_lake queue"),
          /visibility timeout 30 s/,
        );
        // Another queue's ARN is that queue, which does not exist.
        const other = await check(dir, configYaml(s, { queueArn: `${arn}-other` }));
        assert.equal(other.code, 69, other.stdout + other.stderr);
        line(other.stdout, "✗", "inputs.security_lake queue");
      },
    );

    await t.step("wrong queue name: InitVariablesError 101, exit 69", async () => {
      const run = await check(dir, configYaml(s, { queueName: "NoSuchQueue" }));
      assert.equal(run.code, 69, run.stdout + run.stderr);
      assert.match(
        line(run.stdout, "✗", "inputs.security_lake queue"),
        /InitVariablesError 101: Queue NoSuchQueue does not exist in region us-east-1 \(asked at https:\/\/(localhost|127\.0\.0\.1):\d+\) or is not visible/,
      );
      line(run.stdout, "✓", "inputs.security_lake credentials");
      line(run.stdout, "✓", "outputs.devo_1 (devo_platform)");
    });

    await t.step("receiver rejects the client certificate: DeliveryError 504", async () => {
      const before = tls.handshakeErrors;
      const run = await check(
        dir,
        configYaml(s, { cert: certs.rogueClientCertPath, key: certs.rogueClientKeyPath }),
      );
      assert.equal(run.code, 69, run.stdout + run.stderr);
      assert.match(
        line(run.stdout, "✗", "outputs.devo_1 (devo_platform)"),
        /DeliveryError 504: .*did not accept the client certificate|DeliveryError 504: .*rejected the client certificate/,
      );
      assert.ok(tls.handshakeErrors > before, "the receiver saw a failed handshake");
      line(run.stdout, "✓", "outputs.relay_1 (relay)");
    });

    await t.step("receiver not listening: DeliveryError 500", async () => {
      const run = await check(dir, configYaml(s, { tlsPort: freePort() }));
      assert.equal(run.code, 69, run.stdout + run.stderr);
      assert.match(
        line(run.stdout, "✗", "outputs.devo_1 (devo_platform)"),
        /DeliveryError 500: Cannot connect to localhost:\d+/,
      );
    });

    await t.step("credentials refused: ApiError 404, queue and bucket not checked", async () => {
      const disable = await enableMotoAuth(moto.endpoint);
      try {
        const run = await check(dir, configYaml(s), true);
        assert.equal(run.code, 69, run.stdout + run.stderr);
        const report = JSON.parse(run.stdout);
        const by = (name: string) => report.checks.find((c: { check: string }) => c.check === name);
        const creds = by("inputs.security_lake credentials");
        assert.equal(creds.status, "failed");
        assert.deepEqual(creds.error, { id: 404, family: "ApiError", code: "AWS_AUTH" });
        assert.match(creds.detail, /InvalidClientTokenId/);
        assert.equal(by("inputs.security_lake queue").status, "skipped");
        assert.equal(by("inputs.security_lake bucket").status, "skipped");
        assert.equal(by("outputs.devo_1 (devo_platform)").status, "ok");
      } finally {
        await disable();
      }
    });

    await t.step("a configuration error: exit 78, nothing probed", async () => {
      const run = await check(
        dir,
        configYaml(s).replace("region: us-east-1", "region: Mars"),
        true,
      );
      assert.equal(run.code, 78, run.stdout + run.stderr);
      const report = JSON.parse(run.stdout);
      assert.equal(report.checks.length, 1);
      assert.equal(report.checks[0].error.id, 19);
      assert.match(report.checks[0].detail, /inputs\.security_lake\.region must be an AWS region/);
    });

    await t.step("no --config: usage error, exit 2", async () => {
      const run = await runCollectorProcess(["check"], { env: ENV });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /SetupError 90: check needs --config FILE/);
    });
  } finally {
    lake.destroy();
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
