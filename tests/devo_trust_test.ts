/**
 * The Devo connection trusts a server only through `chain`. A receiver whose certificate comes
 * from a CA that `DENO_CERT` names, but `chain` does not hold, gets nothing: the collector warns
 * at start-up and every connection attempt fails with DeliveryError 501, so no event is
 * confirmed (and none lost: the object fails and stays to be read again). The same holds under
 * `DENO_TLS_CA_STORE=system` and `--unsafely-ignore-certificate-errors`; `seclake check` fails
 * the output with the same id.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeDemoLake } from "./lib/ocsf_fixtures.ts";
import { makeCerts } from "./helpers/certs.ts";
import type { TestCerts } from "./helpers/certs.ts";
import { REPO, runCollectorProcess } from "./helpers/collector.ts";
import type { CollectorRun } from "./helpers/collector.ts";
import { startTlsReceiver } from "./helpers/tls_receiver.ts";

async function withLake(
  fn: (dir: string, certs: TestCerts, config: (chain: string) => Promise<string>) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "seclake-devo-trust-" });
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  try {
    await writeDemoLake(join(dir, "lake"));
    let n = 0;
    const config = async (chain: string) => {
      const file = join(dir, `config-${++n}.yaml`);
      await Deno.writeTextFile(
        file,
        `globals:
  persistence: { directory_name: ./state-${n} }
outputs:
  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${receiver.port}, chain: ${chain}, cert: ${certs.clientCertPath}, key: ${certs.clientKeyPath}, retries: 1 }
inputs:
  lake:
    type: directory
    directory: ./lake
`,
      );
      return file;
    };
    await fn(dir, certs, config);
    assert.equal(receiver.lines.length, 0, "no event may reach a receiver chain does not trust");
  } finally {
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

function refused(run: CollectorRun, setting: string) {
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, new RegExp(`WARNING \\[output\\] ${setting} is in effect`));
  assert.match(run.stderr, /DeliveryError 501: Not connecting to localhost:\d+: /);
  assert.doesNotMatch(run.stderr, /events \(\d+ bytes\) confirmed[^\n]*[1-9]/);
  assert.match(run.stderr, /Output devo_1: 0 events \(0 bytes\) confirmed/);
}

Deno.test("a receiver trusted through DENO_CERT but not through chain is refused, with a warning at start-up", async () => {
  await withLake(async (_dir, certs, config) => {
    // chain holds another CA; DENO_CERT holds the receiver's.
    const file = await config(certs.rogueCaCertPath);
    const run = await runCollectorProcess(["run", "--config", file], {
      env: { DENO_CERT: certs.caCertPath },
    });
    refused(run, "DENO_CERT");
    const check = await runCollectorProcess(["check", "--config", file], {
      env: { DENO_CERT: certs.caCertPath },
    });
    assert.equal(check.code, 69);
    assert.match(
      check.stdout,
      /✗ outputs\.devo_1 \(devo_platform\): DeliveryError 501: Not connecting to localhost:\d+: DENO_CERT=/,
    );
  });
});

Deno.test("DENO_TLS_CA_STORE=system and --unsafely-ignore-certificate-errors are refused the same way", async () => {
  await withLake(async (_dir, certs, config) => {
    const file = await config(certs.rogueCaCertPath);
    const system = await runCollectorProcess(["run", "--config", file], {
      env: { DENO_TLS_CA_STORE: "mozilla,system" },
    });
    refused(system, "DENO_TLS_CA_STORE");
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P=seclake",
        "--quiet",
        "--unsafely-ignore-certificate-errors",
        "main.ts",
        "run",
        "--config",
        file,
      ],
      cwd: REPO,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    refused(
      { code: child.code, stdout: dec.decode(child.stdout), stderr: dec.decode(child.stderr) },
      "--unsafely-ignore-certificate-errors",
    );
  });
});

Deno.test("without them, the same receiver is refused by chain, and accepted once chain holds its CA", async () => {
  await withLake(async (_dir, certs, config) => {
    const run = await runCollectorProcess(["run", "--config", await config(certs.rogueCaCertPath)]);
    assert.equal(run.code, 1);
    assert.doesNotMatch(run.stderr, /is in effect/);
    assert.match(run.stderr, /DeliveryError 501: TLS with localhost:\d+ failed/);
  });
  const dir = await Deno.makeTempDir({ prefix: "seclake-devo-trust-" });
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  try {
    const lake = await writeDemoLake(join(dir, "lake"));
    const file = join(dir, "config.yaml");
    await Deno.writeTextFile(
      file,
      `globals:
  persistence: { directory_name: ./state }
outputs:
  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${receiver.port}, chain: ${certs.caCertPath}, cert: ${certs.clientCertPath}, key: ${certs.clientKeyPath} }
inputs:
  lake:
    type: directory
    directory: ./lake
`,
    );
    const run = await runCollectorProcess(["run", "--config", file]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(receiver.lines.length, lake.files.reduce((t, f) => t + f.rows, 0));
  } finally {
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
