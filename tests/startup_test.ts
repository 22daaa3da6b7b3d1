/**
 * Start-up as an operator meets it. `seclake check` proves what `run` needs before it starts
 * (the state folder can be written, certificates near their expiry); a state folder that cannot
 * be written is a configuration error for both (SetupError 51, exit 78), found before anything
 * connects. A subscriber whose IAM changes are still propagating is waited for, each pause
 * logged, for at most `startup_auth_wait_seconds`; then `run` exits 69.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import { makeCerts } from "./helpers/certs.ts";
import { runCollectorProcess } from "./helpers/collector.ts";
import { createTestLake, eventBridgeBody, TEST_CREDENTIALS } from "./helpers/lake.ts";
import { MOTO_CA_FILE, startMoto } from "./helpers/moto.ts";
import { enableMotoAuth } from "./helpers/moto_auth.ts";
import { spawnCollector } from "./helpers/process.ts";
import { startTlsReceiver } from "./helpers/tls_receiver.ts";

const ENV = {
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  AWS_CA_BUNDLE: MOTO_CA_FILE,
};

Deno.test("a state folder that cannot be written fails check and run alike: SetupError 51, exit 78", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-startup-" });
  try {
    await Deno.mkdir(join(dir, "lake"));
    // A file where the folder should be: no user, root included, can create state there.
    await Deno.writeTextFile(join(dir, "state"), "not a folder\n");
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(
      config,
      `globals:
  persistence: { directory_name: ./state }
outputs:
  console_1: { type: console }
inputs:
  lake: { type: directory, directory: ./lake }
`,
    );
    const check = await runCollectorProcess(["check", "--config", config]);
    assert.equal(check.code, 78, check.stdout + check.stderr);
    assert.match(
      check.stdout,
      /✗ inputs\.lake state folder: SetupError 51: The state folder .*state\/lake cannot be written/,
    );
    assert.doesNotMatch(check.stdout, /All checks passed/);
    const run = await runCollectorProcess(["run", "--config", config]);
    assert.equal(run.code, 78, run.stderr);
    assert.match(run.stderr, /SetupError 51: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("check warns as run does (a certificate near its expiry, a key others may read) and still passes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-startup-" });
  const certs = await makeCerts(); // valid for 30 days: within the warning window
  await using receiver = await startTlsReceiver(certs);
  try {
    await Deno.mkdir(join(dir, "lake"));
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(
      config,
      `globals:
  persistence: { directory_name: ./state }
outputs:
  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${receiver.port}, chain: ${certs.caCertPath}, cert: ${certs.clientCertPath}, key: ${certs.clientKeyPath} }
inputs:
  lake: { type: directory, directory: ./lake }
`,
    );
    await Deno.chmod(certs.clientKeyPath, 0o644);
    const check = await runCollectorProcess(["check", "--config", config]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(
      check.stdout,
      /^! outputs\.devo_1 client certificate: .*client\.pem \(CN=seclake-test-client\) expires on .*, in \d+ days/m,
    );
    // The same start-up warnings as run's: a client key every user may read.
    assert.match(
      check.stdout,
      /^! outputs\.devo_1\.config\.key: names .*client\.key, which every user of this machine may read \(mode 0644\)/m,
    );
    assert.match(check.stdout, /✓ inputs\.lake state folder: .* can be written/);
  } finally {
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AWS refusals at start-up are waited out while IAM propagates, then bounded", async (t) => {
  await using moto = await startMoto();
  const lake = await createTestLake(moto.endpoint);
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  const dir = await Deno.makeTempDir({ prefix: "seclake-startup-" });
  try {
    const fixture = await writeOcsfParquet(join(dir, "a.parquet"), {
      classUid: 4001,
      rows: 30,
      seed: 9,
    });
    const key =
      "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=111122223333/eventDay=20240410/a.gz.parquet";
    await lake.put(key, await Deno.readFile(fixture.path));
    await lake.send(eventBridgeBody(lake.bucket, key));
    const config = async (name: string, wait: number) => {
      const file = join(dir, `${name}.yaml`);
      await Deno.writeTextFile(
        file,
        `globals:
  persistence: { directory_name: ${join(dir, `state-${name}`)} }
outputs:
  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${receiver.port}, chain: ${certs.caCertPath}, cert: ${certs.clientCertPath}, key: ${certs.clientKeyPath} }
inputs:
  security_lake:
    credentials: { aws_access_key_id: "\${AWS_ACCESS_KEY_ID}", aws_secret_access_key: "\${AWS_SECRET_ACCESS_KEY}" }
    region: us-east-1
    queue_name: ${lake.queueName}
    endpoint_url: ${moto.endpoint}
    startup_auth_wait_seconds: ${wait}
    services:
      events: { wait_time_seconds: 1, visibility_timeout_seconds: 30 }
`,
      );
      return file;
    };

    await t.step(
      "refused for longer than startup_auth_wait_seconds: logged waits, exit 69",
      async () => {
        const disable = await enableMotoAuth(moto.endpoint);
        try {
          const run = await runCollectorProcess([
            "run",
            "--config",
            await config("short", 3),
            "--once",
          ], {
            env: ENV,
          });
          assert.equal(run.code, 69, run.stderr);
          assert.match(run.stderr, /ApiError 404: /);
          const waits = run.stderr.match(/AWS refused input security_lake at start-up/g) ?? [];
          assert.equal(waits.length, 1, run.stderr);
          assert.match(run.stderr, /tried again in 2 s \(until .*startup_auth_wait_seconds\)/);
        } finally {
          await disable();
        }
        assert.equal(receiver.lines.length, 0);
      },
    );

    await t.step("refused until IAM catches up: the run goes on and delivers", async () => {
      const disable = await enableMotoAuth(moto.endpoint);
      let disabled = false;
      try {
        await using run = spawnCollector(["run", "--config", await config("long", 120), "--once"], {
          env: ENV,
        });
        await run.waitForLog(/AWS refused input security_lake at start-up/, 30_000);
        await disable();
        disabled = true;
        const exit = await run.exited;
        assert.equal(exit.code, 0, run.stderr);
        assert.equal(receiver.lines.length, 30);
      } finally {
        if (!disabled) await disable();
      }
    });
  } finally {
    lake.destroy();
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a metrics address already in use fails check and run alike: InitVariablesError 102, exit 69", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-startup-" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await Deno.mkdir(join(dir, "lake"));
    const port = (taken.addr as Deno.NetAddr).port;
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(
      config,
      `globals:
  persistence: { directory_name: ./state }
  metrics: { listen: "127.0.0.1:${port}" }
outputs:
  console_1: { type: console }
inputs:
  lake: { type: directory, directory: ./lake }
`,
    );
    const check = await runCollectorProcess(["check", "--config", config]);
    assert.equal(check.code, 69, check.stdout + check.stderr);
    assert.match(
      check.stdout,
      new RegExp(
        `✗ globals\\.metrics\\.listen: InitVariablesError 102: globals\\.metrics\\.listen 127\\.0\\.0\\.1:${port} cannot be listened on`,
      ),
    );
    const run = await runCollectorProcess(["run", "--config", config]);
    assert.equal(run.code, 69, run.stderr);
    assert.match(run.stderr, /InitVariablesError 102: /);
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});
