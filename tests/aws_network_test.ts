/**
 * AWS over HTTPS as a production network has it: `main.ts run` under exactly the binary's
 * permission set against moto serving HTTPS with a certificate from the tests' own CA. The CA is
 * trusted only through `AWS_CA_BUNDLE`, or only through `ca_bundle`; without either the run
 * fails with the untrusted-endpoint error, exit 69, nothing deleted and nothing sent. A CONNECT
 * proxy on loopback carries the requests (`HTTPS_PROXY` or `proxy_url` with credentials); a
 * proxy that is down or refuses gives its own error, never a direct connection. `NO_PROXY` lets
 * a host bypass the proxy. `seclake check` shows each endpoint, its proxy and its trust, and
 * fails with the same ids.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import { freePort } from "./helpers/_util.ts";
import { makeCerts } from "./helpers/certs.ts";
import type { TestCerts } from "./helpers/certs.ts";
import { runCollectorProcess } from "./helpers/collector.ts";
import type { CollectorRun } from "./helpers/collector.ts";
import { startConnectProxy } from "./helpers/connect_proxy.ts";
import { createTestLake, eventBridgeBody, TEST_CREDENTIALS } from "./helpers/lake.ts";
import type { TestLake } from "./helpers/lake.ts";
import { MOTO_CA_FILE, startMoto } from "./helpers/moto.ts";
import type { MotoServer } from "./helpers/moto.ts";
import { startTlsReceiver } from "./helpers/tls_receiver.ts";
import type { LineReceiver } from "./helpers/tls_receiver.ts";

const ROWS = 40;
const KEY =
  "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=111122223333/eventDay=20240410/a.gz.parquet";

/** No proxy and no CA from the machine's environment: each test says what it wants. */
const BASE_ENV = {
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  AWS_CA_BUNDLE: "",
  HTTPS_PROXY: "",
  https_proxy: "",
  HTTP_PROXY: "",
  http_proxy: "",
  NO_PROXY: "",
  no_proxy: "",
  // `deno run` itself would ask for a newer Deno through the proxy; the binary does not.
  DENO_NO_UPDATE_CHECK: "1",
};

interface World extends AsyncDisposable {
  moto: MotoServer;
  lake: TestLake;
  certs: TestCerts;
  receiver: LineReceiver;
  dir: string;
  /** Runs `main.ts ARGS --config FILE` with `extra` YAML lines in the input and `env`. */
  collector(
    command: "run" | "check",
    extra: string[],
    env: Record<string, string>,
  ): Promise<CollectorRun>;
  /** Messages on the queue, visible or in flight. */
  depth(): Promise<number>;
}

async function world(): Promise<World> {
  const moto = await startMoto();
  const lake = await createTestLake(moto.endpoint);
  const certs = await makeCerts();
  const receiver = await startTlsReceiver(certs);
  const dir = await Deno.makeTempDir({ prefix: "seclake-net-" });
  const fixture = await writeOcsfParquet(join(dir, "a.parquet"), {
    classUid: 6003,
    rows: ROWS,
    seed: 71,
  });
  await lake.put(KEY, await Deno.readFile(fixture.path));
  await lake.send(eventBridgeBody(lake.bucket, KEY));
  let n = 0;
  return {
    moto,
    lake,
    certs,
    receiver,
    dir,
    async collector(command, extra, env) {
      const file = join(dir, `config-${++n}.yaml`);
      await Deno.writeTextFile(
        file,
        `globals:
  persistence: { directory_name: ${join(dir, `state-${n}`)} }
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
    services:
      events: { wait_time_seconds: 1, visibility_timeout_seconds: 30 }
${extra.map((l) => `    ${l}\n`).join("")}`,
      );
      const args = command === "run"
        ? ["run", "--config", file, "--once"]
        : ["check", "--config", file];
      return await runCollectorProcess(args, { env: { ...BASE_ENV, ...env }, timeoutMs: 90_000 });
    },
    async depth() {
      const d = await lake.depth();
      return d.visible + d.inFlight;
    },
    async [Symbol.asyncDispose]() {
      await receiver.close();
      lake.destroy();
      await moto.stop();
      await certs.cleanup();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function delivered(w: World, run: CollectorRun) {
  assert.equal(run.code, 0, run.stderr);
  assert.equal(w.receiver.lines.length, ROWS);
}

/** The run failed at start-up with `id`, exit 69, nothing sent, the message kept. */
async function refused(w: World, run: CollectorRun, id: string) {
  assert.equal(run.code, 69, run.stderr);
  assert.match(run.stderr, new RegExp(`ApiError ${id}: `));
  assert.equal(w.receiver.lines.length, 0);
  assert.equal(await w.depth(), 1, "the message must stay on the queue");
}

Deno.test("HTTPS to AWS under the binary's permission set: the test CA through AWS_CA_BUNDLE, or through ca_bundle, or not at all", async (t) => {
  await t.step("AWS_CA_BUNDLE only: every event delivered, the queue empty", async () => {
    await using w = await world();
    const run = await w.collector("run", [], { AWS_CA_BUNDLE: MOTO_CA_FILE });
    delivered(w, run);
    assert.equal(await w.depth(), 0);
  });
  await t.step("ca_bundle only (winning over another AWS_CA_BUNDLE): delivered", async () => {
    await using w = await world();
    const other = w.certs.rogueCaCertPath;
    const run = await w.collector("run", [`ca_bundle: ${MOTO_CA_FILE}`], { AWS_CA_BUNDLE: other });
    delivered(w, run);
    assert.equal(await w.depth(), 0);
  });
  await t.step("neither: ApiError 409 naming the endpoint and the fix, exit 69", async () => {
    await using w = await world();
    const run = await w.collector("run", [], {});
    await refused(w, run, "409");
    assert.match(run.stderr, new RegExp(`https://localhost:${w.moto.port} is not trusted`));
    assert.match(run.stderr, /ca_bundle or AWS_CA_BUNDLE/);
  });
  await t.step("a CA bundle without certificates is a configuration error (78)", async () => {
    await using w = await world();
    const empty = join(w.dir, "empty.pem");
    await Deno.writeTextFile(empty, "no certificate here\n");
    const run = await w.collector("run", [`ca_bundle: ${empty}`], {});
    assert.equal(run.code, 78, run.stderr);
    assert.match(run.stderr, /SetupError 50: /);
    assert.equal(await w.depth(), 1);
  });
});

Deno.test("a CONNECT proxy carries every AWS request; a dead or refusing proxy is an error, never a direct connection", async (t) => {
  await t.step(
    "HTTPS_PROXY: the proxy saw CONNECT localhost:PORT, every event delivered",
    async () => {
      await using w = await world();
      await using proxy = await startConnectProxy();
      const run = await w.collector("run", [], {
        AWS_CA_BUNDLE: MOTO_CA_FILE,
        HTTPS_PROXY: proxy.url,
      });
      delivered(w, run);
      assert.equal(await w.depth(), 0);
      assert.ok(proxy.requests.length > 0);
      assert.deepEqual(
        [...new Set(proxy.requests)],
        [`CONNECT localhost:${w.moto.port} HTTP/1.1`],
      );
    },
  );
  await t.step("proxy_url with credentials: they reach the proxy and never the log", async () => {
    await using w = await world();
    await using proxy = await startConnectProxy({ auth: "seclake:pr0xy-Secret" });
    const url = proxy.url.replace("http://", "http://seclake:pr0xy-Secret@");
    const run = await w.collector("run", [`proxy_url: "${url}"`, `ca_bundle: ${MOTO_CA_FILE}`], {
      HTTPS_PROXY: "http://127.0.0.1:1",
    });
    delivered(w, run);
    assert.ok(proxy.credentials.length > 0);
    assert.ok(proxy.credentials.every((c) => c === "seclake:pr0xy-Secret"));
    assert.ok(!run.stderr.includes("pr0xy-Secret") && !run.stdout.includes("pr0xy-Secret"));
  });
  await t.step("NO_PROXY names the endpoint's host: reached directly", async () => {
    await using w = await world();
    const run = await w.collector("run", [], {
      AWS_CA_BUNDLE: MOTO_CA_FILE,
      HTTPS_PROXY: `http://127.0.0.1:${freePort()}`,
      NO_PROXY: "example.com,localhost",
    });
    delivered(w, run);
  });
  await t.step("the proxy is down: ApiError 410 naming it, exit 69", async () => {
    await using w = await world();
    const dead = `http://127.0.0.1:${freePort()}`;
    const run = await w.collector("run", [], { AWS_CA_BUNDLE: MOTO_CA_FILE, HTTPS_PROXY: dead });
    await refused(w, run, "410");
    assert.match(run.stderr, new RegExp(`Proxy ${dead} \\(from HTTPS_PROXY\\) cannot be reached`));
  });
  await t.step("the proxy refuses the tunnel: ApiError 410, exit 69", async () => {
    await using w = await world();
    await using proxy = await startConnectProxy({ refuse: true });
    const run = await w.collector("run", [], {
      AWS_CA_BUNDLE: MOTO_CA_FILE,
      HTTPS_PROXY: proxy.url,
    });
    await refused(w, run, "410");
    assert.match(run.stderr, /refused the tunnel/);
  });
});

Deno.test("seclake check shows each AWS endpoint, its proxy and its trust, and fails with run's ids", async () => {
  await using w = await world();
  await using proxy = await startConnectProxy();
  const ok = await w.collector(
    "check",
    [`ca_bundle: ${MOTO_CA_FILE}`, `bucket: ${w.lake.bucket}`],
    {
      HTTPS_PROXY: proxy.url,
    },
  );
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  for (const service of ["SQS", "S3", "STS"]) {
    assert.match(
      ok.stdout,
      new RegExp(
        `✓ inputs\\.security_lake network \\(${service}\\): https://localhost:${w.moto.port}, through proxy ${proxy.url} \\(HTTPS_PROXY\\), trusted: the default store and ${MOTO_CA_FILE} \\(ca_bundle\\)`,
      ),
    );
  }
  const untrusted = await w.collector("check", [], {});
  assert.equal(untrusted.code, 69);
  assert.match(untrusted.stdout, /✗ inputs\.security_lake credentials: ApiError 409: /);
  assert.match(
    untrusted.stdout,
    /network \(STS\): https:\/\/localhost:\d+, direct, no proxy, trusted: the default store$/m,
  );
  const dead = await w.collector("check", [`ca_bundle: ${MOTO_CA_FILE}`], {
    HTTPS_PROXY: `http://127.0.0.1:${freePort()}`,
  });
  assert.equal(dead.code, 69);
  assert.match(dead.stdout, /✗ inputs\.security_lake credentials: ApiError 410: Proxy /);
  assert.equal(await w.depth(), 1, "check reads no message");
});
