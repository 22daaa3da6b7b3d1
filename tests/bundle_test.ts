/**
 * The air-gapped fallback: `deno task bundle` writes one JavaScript file that runs with an
 * empty Deno cache, no remote or npm modules and no configuration file, under exactly the
 * permission set of `deno.json` spelled out as flags. End to end against moto (S3 + SQS) and a
 * syslog receiver that requires a client certificate.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import {
  bundle,
  OFFLINE_RUN_FLAGS,
  permissionFlags,
  readPermissionSet,
  runtimeImports,
} from "../scripts/bundle.ts";
import { V8_FLAGS_OPTION } from "../scripts/compile.ts";
import { makeCerts } from "./helpers/certs.ts";
import { REPO } from "./helpers/collector.ts";
import { parseDevoLine } from "./helpers/devo_line.ts";
import { createTestLake, eventBridgeBody, TEST_CREDENTIALS } from "./helpers/lake.ts";
import { MOTO_CA_FILE, startMoto } from "./helpers/moto.ts";
import { startTlsReceiver } from "./helpers/tls_receiver.ts";

const dec = new TextDecoder();
const DAY = "region=us-east-1/accountId=111122223333/eventDay=20240410";

Deno.test("bundle: permission sets become the equivalent deno run flags", () => {
  assert.deepEqual(
    permissionFlags({
      sys: ["hostname", "osRelease"],
      read: true,
      env: { allow: ["A", "B"], deny: ["C"] },
      run: false,
      net: [],
    }),
    ["--allow-read", "--allow-env=A,B", "--deny-env=C", "--allow-sys=hostname,osRelease"],
  );
  assert.throws(() => permissionFlags({ all: true }), TypeError);
  assert.throws(() => permissionFlags({ read: "yes" as unknown as boolean }), TypeError);
});

const PROBE = `
const descriptors = [
  { name: "read" }, { name: "read", path: "/etc/passwd" }, { name: "write" },
  { name: "write", path: "/tmp/x" }, { name: "net" }, { name: "net", host: "example.com:443" },
  { name: "env" }, { name: "env", variable: "HOME" }, { name: "run" }, { name: "run", command: "sh" },
  { name: "ffi" }, { name: "import", host: "deno.land" },
  ...["hostname", "osRelease", "osUptime", "loadavg", "networkInterfaces", "systemMemoryInfo",
    "uid", "gid", "cpus", "homedir", "getPriority", "setPriority", "statfs"].map(
    (kind) => ({ name: "sys", kind }),
  ),
];
const states = [];
for (const d of descriptors) states.push([JSON.stringify(d), (await Deno.permissions.query(d)).state]);
console.log(JSON.stringify(states));
`;

Deno.test("bundle: the flags grant exactly what -P=seclake grants", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-perm-" });
  try {
    const probe = join(dir, "probe.js");
    await Deno.writeTextFile(probe, PROBE);
    const query = async (flags: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--quiet", "--no-prompt", ...flags, probe],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, dec.decode(out.stderr));
      return JSON.parse(dec.decode(out.stdout)) as [string, string][];
    };
    const flags = permissionFlags(await readPermissionSet());
    const fromSet = await query(["--config", join(REPO, "deno.json"), "-P=seclake"]);
    const fromFlags = await query([...OFFLINE_RUN_FLAGS, ...flags]);
    assert.deepEqual(fromFlags, fromSet);
    // And the set is the narrow one: no subprocesses, no FFI, only some system calls.
    const state = Object.fromEntries(fromSet);
    assert.equal(state['{"name":"run"}'], "prompt");
    assert.equal(state['{"name":"ffi"}'], "prompt");
    assert.equal(state['{"name":"sys","kind":"hostname"}'], "granted");
    assert.equal(state['{"name":"sys","kind":"uid"}'], "granted"); // the AWS SDK asks for it when HOME is unset
    assert.equal(state['{"name":"sys","kind":"gid"}'], "prompt");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bundle: docs/install.md shows the run flags derived from deno.json", async () => {
  const flags = permissionFlags(await readPermissionSet()).join(" ");
  const docs = await Deno.readTextFile(join(REPO, "docs", "install.md"));
  assert.ok(
    docs.includes(`${OFFLINE_RUN_FLAGS.join(" ")} ${flags} ${V8_FLAGS_OPTION}`),
    `docs/install.md must show: deno run ${
      OFFLINE_RUN_FLAGS.join(" ")
    } ${flags} ${V8_FLAGS_OPTION}`,
  );
});

Deno.test("bundle: seclake.js runs offline with an empty Deno cache, end to end over mutual TLS", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-bundle-" });
  await using moto = await startMoto();
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  const lake = await createTestLake(moto.endpoint);
  try {
    const js = await bundle({ outDir: join(dir, "dist") });
    assert.equal(js, join(dir, "dist", "seclake.js"));
    assert.deepEqual(await runtimeImports(js), []);
    const sums = await Deno.readTextFile(join(dir, "dist", "SHA256SUMS"));
    assert.match(sums, /^[0-9a-f]{64} {2}seclake\.js\n$/);

    // Only the bundle is copied to the "air-gapped" folder; the Deno cache there is empty.
    const host = join(dir, "host");
    const denoDir = join(host, "deno_dir");
    await Deno.mkdir(denoDir, { recursive: true });
    await Deno.copyFile(js, join(host, "seclake.js"));
    const flags = permissionFlags(await readPermissionSet());
    const run = async (args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          ...OFFLINE_RUN_FLAGS,
          ...flags,
          V8_FLAGS_OPTION,
          "seclake.js",
          ...args,
        ],
        cwd: host,
        env: {
          DENO_DIR: denoDir,
          // The AWS SDK looks for ~/.aws; without HOME it asks for the uid, which the
          // permission set does not grant. Every deployment sets HOME.
          HOME: host,
          NO_COLOR: "1",
          AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
          AWS_CA_BUNDLE: MOTO_CA_FILE,
        },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    };

    const version = await run(["version"]);
    assert.equal(version.code, 0, version.stderr);
    const head = (await new Deno.Command("git", {
      args: ["rev-parse", "HEAD"],
      cwd: REPO,
      stdout: "piped",
    }).output()).stdout;
    assert.match(version.stdout, new RegExp(`^commit: ${dec.decode(head).trim()}(-dirty)?$`, "m"));
    assert.match(version.stdout, /^build: bundle$/m);

    // Two objects, two codecs and layouts, one notification each.
    const expected = new Map<string, Record<string, unknown>>();
    const files = [
      { classUid: 6003, rows: 700, codec: "GZIP", layout: "avro" },
      { classUid: 4001, rows: 400, codec: "ZSTD", layout: "standard" },
    ] as const;
    for (const [i, f] of files.entries()) {
      const r = await writeOcsfParquet(join(dir, `${i}.parquet`), {
        ...f,
        seed: 70 + i,
        rowGroupSize: 300,
      });
      for (const e of r.expected!) expected.set((e.metadata as { uid: string }).uid, e);
      const key = `aws/BUNDLE/2.0/${DAY}/${i}.gz.parquet`;
      await lake.put(key, await Deno.readFile(r.path));
      await lake.send(eventBridgeBody(lake.bucket, key));
    }
    await Deno.writeTextFile(
      join(host, "config.yaml"),
      `globals:
  persistence: { type: filesystem, directory_name: ./state }
outputs:
  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${receiver.port}, chain: ${certs.caCertPath}, cert: ${certs.clientCertPath}, key: ${certs.clientKeyPath}, hostname: bundle-host }
inputs:
  security_lake:
    credentials: { aws_access_key_id: "\${AWS_ACCESS_KEY_ID}", aws_secret_access_key: "\${AWS_SECRET_ACCESS_KEY}" }
    region: us-east-1
    queue_name: ${lake.queueName}
    endpoint_url: ${moto.endpoint}
    services:
      events: { wait_time_seconds: 1, visibility_timeout_seconds: 30 }
`,
    );
    const collected = await run(["run", "--config", "config.yaml", "--once"]);
    assert.equal(collected.code, 0, `bundle failed:\n${collected.stderr}`);

    assert.equal(receiver.lines.length, expected.size);
    const seen = new Set<string>();
    for (const line of receiver.lines) {
      const { host: h, tag, event } = parseDevoLine(line);
      assert.equal(h, "bundle-host");
      assert.equal(tag, "cloud.aws.amazon.security_lake.events");
      delete event["@devo_pulling_id"];
      const uid = (event.metadata as { uid: string }).uid;
      assert.ok(!seen.has(uid), `event ${uid} arrived twice`);
      seen.add(uid);
      assert.deepStrictEqual(event, expected.get(uid), `event ${uid} differs`);
    }
    assert.deepEqual(await lake.depth(), { visible: 0, inFlight: 0 });
    assert.equal(receiver.handshakeErrors, 0);
    // Nothing was fetched into the empty cache (Deno creates an empty npm folder).
    const fetched = [];
    for (const dir of ["npm", "remote"]) {
      try {
        for (const e of Deno.readDirSync(join(denoDir, dir))) fetched.push(`${dir}/${e.name}`);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    assert.deepEqual(fetched, []);
  } finally {
    lake.destroy();
    await certs.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
