/**
 * A client certificate without extensions (X.509 v1, as `openssl x509 -req` makes it without
 * `-extfile`) is blamed on the client certificate (`DeliveryError 505`, "must be X.509 v3"), by
 * the output and by `seclake check`, and not on the server or chain (`DeliveryError 501`).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { certificateVersion, tlsConnector } from "../src/output/connectors.ts";
import { CollectorError } from "../src/errors.ts";
import { ecCa, ecRequest, makeCerts, opensslQuiet } from "./helpers/certs.ts";
import { REPO, runCollectorProcess, writeLakeConfig } from "./helpers/collector.ts";
import { startTlsReceiver } from "./helpers/tls_receiver.ts";

/** Writes `dir/v1.pem` and `dir/v1.key`: a client certificate signed without extensions. */
async function v1ClientCert(dir: string): Promise<{ cert: string; key: string }> {
  await ecCa(dir, "v1-test-ca");
  await ecRequest(dir, "v1.key", "v1.csr", "seclake-test-client");
  await opensslQuiet(dir, [
    "x509",
    "-req",
    "-in",
    "v1.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "v1.pem",
    "-days",
    "30",
  ]);
  return { cert: join(dir, "v1.pem"), key: join(dir, "v1.key") };
}

Deno.test("the version of a certificate is read from its encoding", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-v1-" });
  const certs = await makeCerts();
  try {
    const v1 = await v1ClientCert(dir);
    assert.equal(certificateVersion(await Deno.readTextFile(v1.cert)), 1);
    assert.equal(certificateVersion(certs.clientCert), 3);
    assert.equal(certificateVersion(certs.caCert), 3);
    assert.equal(certificateVersion("not a certificate"), undefined);
  } finally {
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an output with a v1 client certificate blames it, and never connects", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-v1-" });
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  try {
    const v1 = await v1ClientCert(dir);
    const connector = tlsConnector({
      address: "localhost",
      port: receiver.port,
      caCert: certs.caCert,
      cert: await Deno.readTextFile(v1.cert),
      key: await Deno.readTextFile(v1.key),
      connectTimeoutSeconds: 5,
    });
    const error = await connector.connect().then(
      () => assert.fail("connected with a v1 client certificate"),
      (e) => e,
    );
    assert.ok(error instanceof CollectorError, String(error));
    assert.equal(error.id, 505);
    assert.equal(error.code, "OUTPUT_CLIENT_CERT_VERSION");
    assert.match(error.message, /client certificate \(cert\) is X\.509 v1/);
    assert.equal(receiver.connections, 0);
    assert.equal(receiver.handshakeErrors, 0);
  } finally {
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("seclake check and docs/errors.md say the client certificate must be X.509 v3", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-v1-" });
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  try {
    const v1 = await v1ClientCert(dir);
    await Deno.mkdir(join(dir, "lake"));
    const config = await writeLakeConfig(
      dir,
      `  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${receiver.port}, chain: ${certs.caCertPath}, cert: ${v1.cert}, key: ${v1.key} }`,
    );
    const run = await runCollectorProcess(["check", "--config", config, "--json"]);
    assert.equal(run.code, 69, run.stdout + run.stderr);
    const report = JSON.parse(run.stdout) as {
      checks: { check: string; detail: string; error?: { id: number } }[];
    };
    const output = report.checks.find((c) => c.check === "outputs.devo_1 (devo_platform)");
    assert.ok(output, run.stdout);
    assert.equal(output.error?.id, 505);
    assert.match(
      output.detail,
      new RegExp(`client certificate ${v1.cert} \\(cert\\) is X\\.509 v1`),
    );
    assert.equal(receiver.connections, 0);

    const errors = await Deno.readTextFile(join(REPO, "docs", "errors.md"));
    const start = errors.indexOf("### DeliveryError 505: Client certificate is not X.509 v3");
    assert.ok(start >= 0, "docs/errors.md has the section");
    const section = errors.slice(start, errors.indexOf("\n### ", start + 1)).replace(/\s+/g, " ");
    assert.match(section, /\*\*Solution\.\*\* Use an X\.509 v3 client certificate/);
    assert.match(section, /the server and chain are not at fault/);
  } finally {
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
