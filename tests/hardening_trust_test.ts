/**
 * What the collector trusts at start-up and from notifications: the buckets a notification may
 * name (allowed_buckets, by default the input's bucket, else Security Lake's names only), the
 * certificates of `chain` (expired extras are warned about, not fatal), and the client key's
 * file mode (warned about when other users may read it). `run` logs the warnings
 * `startupWarnings` returns; `seclake check` prints the same list.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import { checkCertificateFiles } from "../src/config/pem.ts";
import { validateConfig } from "../src/config/load.ts";
import { tlsConnector } from "../src/output/connectors.ts";
import { certWithDates, makeCerts } from "./helpers/certs.ts";
import { runCollectorProcess } from "./helpers/collector.ts";
import { createTestLake, eventBridgeBody } from "./helpers/lake.ts";
import { motoEnv, startMoto } from "./helpers/moto.ts";
import { startTlsReceiver } from "./helpers/tls_receiver.ts";

const DAY = 86_400_000;
const KEY = "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=111122223333/eventDay=20240410/" +
  "0123456789abcdef.gz.parquet";

/** `src/config/warnings.ts`, or nothing where it does not exist (the code before it). */
const warnings: Record<string, unknown> = await import("../src/config/warnings.ts").catch(
  () => ({}),
);

/** The `startupWarnings` of the configuration `text` (validated; no errors expected). */
function warningsOf(text: string, options: { gid?: number } = {}) {
  const result = validateConfig(text, { baseDir: "/" });
  assert.deepEqual(result.errors.map((e) => e.message), []);
  // Absent before the fix: then nothing is warned about.
  const fn = warnings.startupWarnings as
    | ((c: unknown, o: unknown) => { setting: string; text: string }[])
    | undefined;
  return fn ? fn(result.config!, { credentialsDirectory: "/nonexistent", ...options }) : [];
}

Deno.test("a notification naming another bucket than the input's is refused (DataError 610) and quarantined; nothing of it is read", async () => {
  await using moto = await startMoto();
  const lake = await createTestLake(moto.endpoint);
  const attacker = await createTestLake(moto.endpoint, {
    bucket: "attacker-bucket",
    queueName: "unused-queue",
  });
  const dir = await Deno.makeTempDir({ prefix: "seclake-buckets-" });
  try {
    const r = await writeOcsfParquet(join(dir, "ct.parquet"), { classUid: 6003, rows: 5, seed: 3 });
    const bytes = await Deno.readFile(r.path);
    await attacker.put(KEY, bytes);
    await lake.send(eventBridgeBody("attacker-bucket", KEY));
    const config = join(dir, "config.yaml");
    const yaml = (bucketLine: string) =>
      `globals:
  persistence: { directory_name: ${join(dir, "state")} }
outputs:
  console_1: { type: console }
inputs:
  lake:
    credentials: { aws_access_key_id: testing, aws_secret_access_key: testing }
    region: us-east-1
    queue_name: ${lake.queueName}
${bucketLine}    endpoint_url: ${moto.endpoint}
    max_receive_count: 1
    services: { events: { wait_time_seconds: 1 } }
`;
    // bucket set, allowed_buckets not: only the lake bucket.
    await Deno.writeTextFile(config, yaml(`    bucket: ${lake.bucket}\n`));
    const run = await runCollectorProcess(["run", "--config", config, "--once"], {
      env: motoEnv(moto.endpoint),
    });
    assert.equal(run.stdout, "", "no event of the other bucket was sent");
    assert.match(
      run.stderr,
      /DataError 610: Notification names bucket "attacker-bucket", which allowed_buckets does not list/,
    );
    const quarantine = await Deno.readTextFile(join(dir, "state", "lake", "quarantine.jsonl"));
    assert.match(quarantine, /attacker-bucket/);
    assert.doesNotMatch(run.stderr, /is not set, nor allowed_buckets/);

    // Neither set: Security Lake's bucket names only, with a warning.
    await lake.send(eventBridgeBody("attacker-bucket", KEY));
    await lake.put(KEY, bytes);
    await lake.send(eventBridgeBody(lake.bucket, KEY));
    await Deno.writeTextFile(config, yaml(""));
    const open = await runCollectorProcess(["run", "--config", config, "--once"], {
      env: motoEnv(moto.endpoint),
    });
    assert.match(
      open.stderr,
      /WARNING \[main\] inputs\.lake\.bucket is not set, nor allowed_buckets: notifications may name any bucket called aws-security-data-lake-\*/,
    );
    assert.match(
      open.stderr,
      /DataError 610: .*"attacker-bucket", which is not named like a Security Lake bucket/,
    );
    assert.equal(open.stdout.split("\n").filter((l) => l).length, 5, "the lake's object was read");
  } finally {
    lake.destroy();
    attacker.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chain: an expired extra certificate is a warning and TLS works with the rest; a chain with nothing usable is SetupError 34", async () => {
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  const dir = certs.dir;
  try {
    const now = Date.now();
    await certWithDates(dir, "old", new Date(now - 60 * DAY), new Date(now - 30 * DAY));
    const old = await Deno.readTextFile(join(dir, "old.pem"));
    const mixed = join(dir, "mixed-chain.pem");
    await Deno.writeTextFile(mixed, old + certs.caCert);
    const files = { chain: mixed, cert: certs.clientCertPath, key: certs.clientKeyPath };
    assert.deepEqual(checkCertificateFiles(files), []);
    const yaml = (chain: string) =>
      `globals:
  persistence: { directory_name: ${join(dir, "state")} }
outputs:
  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${receiver.port}, chain: ${chain}, cert: ${certs.clientCertPath}, key: ${certs.clientKeyPath} }
inputs:
  lake: { type: directory, directory: ${dir} }
`;
    const found = warningsOf(yaml(mixed));
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.equal(found[0]!.setting, "outputs.devo_1.config.chain");
    assert.match(
      found[0]!.text,
      /whose certificate 1 \("CN=old"\) expired on .*; it is not used, the others are/,
    );
    // The file works as it is: the server is verified through the valid CA.
    const conn = await tlsConnector({
      address: "localhost",
      port: receiver.port,
      caCert: old + certs.caCert,
      cert: certs.clientCert,
      key: certs.clientKey,
      connectTimeoutSeconds: 5,
    }).connect();
    conn.close();
    // Nothing usable: the configuration is refused.
    const onlyOld = join(dir, "old-chain.pem");
    await Deno.writeTextFile(onlyOld, old);
    const refused = validateConfig(yaml(onlyOld), { baseDir: "/" });
    assert.deepEqual(refused.errors.map((e) => [e.id, e.code]), [[34, "CONFIG_CERT_EXPIRED"]]);
    assert.match(refused.errors[0]!.message, /whose certificate "CN=old" expired on/);
  } finally {
    await certs.cleanup();
  }
});

Deno.test("a client key other users may read is warned about in run; 0600, the own group and LoadCredential's folder are not", async () => {
  const certs = await makeCerts();
  const dir = certs.dir;
  try {
    const yaml = `globals:
  persistence: { directory_name: ${join(dir, "state")} }
outputs:
  devo_1:
    type: devo_platform
    config: { address: localhost, port: 1, chain: ${certs.caCertPath}, cert: ${certs.clientCertPath}, key: ${certs.clientKeyPath} }
inputs:
  lake: { type: directory, directory: ${dir} }
`;
    const keyWarnings = (options: { gid?: number } = {}) =>
      warningsOf(yaml, options).filter((w) => w.setting === "outputs.devo_1.config.key");
    await Deno.chmod(certs.clientKeyPath, 0o600);
    assert.deepEqual(keyWarnings(), []);
    await Deno.chmod(certs.clientKeyPath, 0o644);
    const found = keyWarnings();
    assert.equal(found.length, 1);
    assert.match(found[0]!.text, /which every user of this machine may read \(mode 0644\)/);
    await Deno.chmod(certs.clientKeyPath, 0o640);
    const gid = Deno.statSync(certs.clientKeyPath).gid!;
    assert.match(keyWarnings({ gid: gid + 1 })[0]?.text ?? "", /group \d+ may read \(mode 0640\)/);
    assert.deepEqual(keyWarnings({ gid }), [], "the process's own group (Kubernetes fsGroup)");

    // run logs it (the output cannot connect, which does not matter here).
    await Deno.chmod(certs.clientKeyPath, 0o644);
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(config, yaml);
    const run = await runCollectorProcess(["run", "--config", config, "--once"]);
    assert.match(
      run.stderr,
      /WARNING \[main\] outputs\.devo_1\.config\.key names \S+client\.key, which every user of this machine may read \(mode 0644\)/,
    );
    // systemd's credentials folder is private to the service whatever the mode.
    const fn = warnings.keyExposure as
      | ((p: string, o: unknown) => string | undefined)
      | undefined;
    assert.ok(fn);
    assert.equal(fn(certs.clientKeyPath, { credentialsDirectory: dir }), undefined);
    assert.match(fn(certs.clientKeyPath, { credentialsDirectory: "/run/x" }) ?? "", /0644/);
  } finally {
    await certs.cleanup();
  }
});
