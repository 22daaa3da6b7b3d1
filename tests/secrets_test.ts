/**
 * Secrets and transport. A full run at `--log-level debug` (main.ts under the binary's
 * permission set) against moto and the mutual-TLS receiver, with static keys and a session
 * token, a role assumed with an external id, a client private key and an HMAC obfuscation key;
 * then `check --json`. No secret may appear in any output, in the delivered events or in the
 * state directory, whose folders are 0700 and files 0600. The server certificate is always
 * verified against `chain`, and a client certificate close to its end is warned about.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import { tlsConnector } from "../src/output/connectors.ts";
import { expiringCertificates } from "../src/output/cert_expiry.ts";
import type { OutputConfig } from "../src/config/types.ts";
import { makeCerts } from "./helpers/certs.ts";
import { runCollectorProcess } from "./helpers/collector.ts";
import { createTestLake, eventBridgeBody } from "./helpers/lake.ts";
import { MOTO_CA_FILE, motoFetch, startMoto } from "./helpers/moto.ts";
import { startTlsReceiver } from "./helpers/tls_receiver.ts";
import { parseDevoLine } from "./helpers/devo_line.ts";

const DAY = "region=us-east-1/accountId=111122223333/eventDay=20240410";

const SECRETS = {
  AWS_ACCESS_KEY_ID: "AKIASECRETTESTKEY0042",
  AWS_SECRET_ACCESS_KEY: "sEcReT/Acc3ss+Key-that-must-never-leak-0042",
  AWS_SESSION_TOKEN: "FwoGZXIvYXdzSESSIONTOKENmustNeverLeak0042==",
  SECLAKE_EXTERNAL_ID: "ext-id-must-never-leak-0042",
  SECLAKE_HASH_KEY: "hmac-key-must-never-leak-0042",
};

async function walk(dir: string): Promise<{ path: string; isDir: boolean }[]> {
  const out: { path: string; isDir: boolean }[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    out.push({ path, isDir: e.isDirectory });
    if (e.isDirectory) out.push(...await walk(path));
  }
  return out;
}

/** The base64 lines of a PEM body (each long enough to be unmistakable). */
function pemLines(pem: string): string[] {
  return pem.split("\n").filter((l) => l.length >= 40 && !l.startsWith("-----"));
}

Deno.test("no secret reaches the logs at debug level, check --json, the events or the state directory", async () => {
  await using moto = await startMoto();
  const certs = await makeCerts();
  const dir = await Deno.makeTempDir({ prefix: "seclake-secrets-" });
  await using receiver = await startTlsReceiver(certs);
  // The lake lives in the role's account: moto maps assumed-role keys to the role's account.
  const lake = await createTestLake(moto.endpoint);
  try {
    const r = await writeOcsfParquet(join(dir, "ct.parquet"), {
      classUid: 6003,
      rows: 50,
      seed: 7,
    });
    const key = `aws/CLOUD_TRAIL_MGMT/2.0/${DAY}/0123456789abcdef.gz.parquet`;
    await lake.put(key, await Deno.readFile(r.path));
    await lake.send(eventBridgeBody(lake.bucket, key));
    const state = join(dir, "state");
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(
      config,
      `globals:
  persistence: { type: filesystem, directory_name: ${state} }
  log_level: debug
outputs:
  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${receiver.port}, chain: ${certs.caCertPath}, cert: ${certs.clientCertPath}, key: ${certs.clientKeyPath}, hostname: secrets-host }
inputs:
  lake:
    credentials:
      aws_access_key_id: "\${AWS_ACCESS_KEY_ID}"
      aws_secret_access_key: "\${AWS_SECRET_ACCESS_KEY}"
      aws_session_token: "\${AWS_SESSION_TOKEN}"
      role_arn: arn:aws:iam::123456789012:role/AmazonSecurityLake-0000
      external_id: "\${SECLAKE_EXTERNAL_ID}"
      role_duration_seconds: 900
    region: us-east-1
    queue_name: ${lake.queueName}
    bucket: ${lake.bucket}
    allowed_buckets: [${lake.bucket}]
    endpoint_url: ${moto.endpoint}
    services:
      events:
        wait_time_seconds: 1
        obfuscation:
          - { paths: [actor.user.name, "observables[].value"], method: hash, hash_key: "\${SECLAKE_HASH_KEY}" }
          - { paths: [src_endpoint.ip], method: partial, keep_last: 3 }
          - { string_patterns: ['[\\w.+-]+@[\\w-]+\\.[\\w.]+'], method: mask }
`,
    );
    const run = await runCollectorProcess(
      ["run", "--config", config, "--once", "--log-level", "debug"],
      { env: { ...SECRETS, AWS_CA_BUNDLE: MOTO_CA_FILE } },
    );
    assert.equal(run.code, 0, `collector failed:\n${run.stderr}`);
    assert.equal(receiver.lines.length, 50);
    assert.match(run.stderr, /DEBUG/, "the run logged at debug level");
    assert.match(
      run.stderr,
      /AWS credentials for input lake obtained from role .* \(with external id\) assumed with access keys with session token; they expire at/,
    );
    const check = await runCollectorProcess(["check", "--config", config, "--json"], {
      env: { ...SECRETS, AWS_CA_BUNDLE: MOTO_CA_FILE },
    });
    assert.ok(
      check.stdout.trim().startsWith("{"),
      `check --json printed: ${check.stdout}\n${check.stderr}`,
    );

    // The events went through obfuscation: names hashed with the key, IPs cut, emails masked.
    const events = receiver.lines.map((l) => parseDevoLine(l).event);
    const hashed = events.map((e) => (e.actor as { user?: { name?: string } })?.user?.name)
      .filter((n): n is string => n !== undefined);
    assert.ok(hashed.length > 0);
    for (const h of hashed) assert.match(h, /^[0-9a-f]{16}$/);
    const anyName = r.expected!.map((e) => (e.actor as { user?: { name?: string } })?.user?.name)
      .find((n) => n !== undefined)!;
    assert.ok(
      hashed.includes(
        createHmac("sha256", SECRETS.SECLAKE_HASH_KEY).update(anyName).digest("hex").slice(0, 16),
      ),
    );
    assert.doesNotMatch(receiver.lines.join("\n"), /[\w.+-]+@[\w-]+\.[\w.]+/);
    const ips = events.map((e) => (e.src_endpoint as { ip?: string } | undefined)?.ip)
      .filter((ip): ip is string => ip !== undefined);
    assert.ok(ips.length > 0);
    for (const ip of ips) assert.match(ip, /^\*+[^*]{3}$/); // partial, keep_last 3
    assert.match(run.stderr, /Input lake: \d+ fields obfuscated in 50 events/);

    // Every secret, including those moto issued for the role, and the private key.
    const moto_ = await (await motoFetch(moto.endpoint, "/moto-api/data.json")).json();
    const roles = moto_.sts.AssumedRole as {
      access_key_id: string;
      secret_access_key: string;
      session_token: string;
      external_id: string;
    }[];
    assert.ok(roles.length >= 2, "run and check both assumed the role");
    for (const role of roles) assert.equal(role.external_id, SECRETS.SECLAKE_EXTERNAL_ID);
    const secrets: [string, string][] = [
      ...Object.entries(SECRETS),
      ...roles.flatMap((x): [string, string][] => [
        ["assumed access key id", x.access_key_id],
        ["assumed secret key", x.secret_access_key],
        ["assumed session token", x.session_token],
      ]),
      ...pemLines(await Deno.readTextFile(certs.clientKeyPath)).map((l): [string, string] => [
        "client private key",
        l,
      ]),
    ];
    const places: [string, string][] = [
      ["run stdout", run.stdout],
      ["run stderr", run.stderr],
      ["check --json", check.stdout],
      ["check stderr", check.stderr],
      ["delivered events", receiver.lines.join("\n")],
    ];
    const entries = await walk(state);
    assert.ok(entries.some((e) => !e.isDir), "the state directory holds files");
    for (const e of entries) {
      const mode = (await Deno.stat(e.path)).mode! & 0o777;
      assert.equal(mode, e.isDir ? 0o700 : 0o600, `${e.path} has mode ${mode.toString(8)}`);
      if (!e.isDir) places.push([e.path, await Deno.readTextFile(e.path)]);
    }
    assert.equal((await Deno.stat(state)).mode! & 0o777, 0o700);
    for (const [what, secret] of secrets) {
      for (const [where, text] of places) {
        assert.ok(!text.includes(secret), `${what} found in ${where}`);
      }
    }
  } finally {
    lake.destroy();
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the server certificate is verified against chain: another CA's chain refuses it", async () => {
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  try {
    const connect = (caCert: string) =>
      tlsConnector({
        address: "localhost",
        port: receiver.port,
        caCert,
        cert: certs.clientCert,
        key: certs.clientKey,
        connectTimeoutSeconds: 5,
      }).connect(new AbortController().signal);
    await assert.rejects(connect(certs.rogueCaCert));
    const conn = await connect(certs.caCert);
    conn.close();
  } finally {
    await certs.cleanup();
  }
});

Deno.test("client certificates that expire within 30 days are reported", async () => {
  const certs = await makeCerts(); // valid for 30 days from now
  try {
    const output = {
      name: "devo_1",
      type: "devo_platform",
      cert: certs.clientCertPath,
    } as OutputConfig;
    const soon = expiringCertificates([output]);
    assert.equal(soon.length, 1);
    assert.equal(soon[0]!.output, "devo_1");
    assert.ok(soon[0]!.daysLeft >= 29 && soon[0]!.daysLeft <= 30, String(soon[0]!.daysLeft));
    assert.match(soon[0]!.subject, /CN=seclake-test-client/);
    assert.deepEqual(expiringCertificates([output], { days: 10 }), []);
    assert.deepEqual(
      expiringCertificates([{ ...output, type: "relay" }]),
      [],
      "only devo_platform outputs have a client certificate",
    );
    const later = expiringCertificates([output], { now: new Date(Date.now() + 40 * 86_400_000) });
    assert.ok(later[0]!.daysLeft < 0);
  } finally {
    await certs.cleanup();
  }
});
