/**
 * Distribution: `deno task compile` (runtimes from `DENORT_BIN` and from a pre-filled Deno
 * cache, per-target failure reports, `SHA256SUMS`, the permission set and commit embedded in the
 * binary), `seclake version`, and the deployment files (Dockerfile, Kubernetes manifests,
 * systemd unit) checked against the constants of the code and against each other. A collector
 * process is stopped with SIGTERM, the signal every deployment sends.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import {
  denortCachePath,
  detectBinaryTarget,
  explainFailure,
  outputName,
  pruneLock,
  renderBuildInfo,
  RUN_ENV,
  TARGETS,
  V8_FLAGS,
  V8_FLAGS_OPTION,
} from "../scripts/compile.ts";
import type { DenoLock, Target } from "../scripts/compile.ts";
import { EXIT } from "../src/cli/main.ts";
import { formatVersion, readGitHead, VERSION, versionInfo } from "../src/cli/version.ts";
import { parseConfig } from "../src/config/load.ts";
import { SCHEMA } from "../src/config/schema.ts";
import type { ObjectSpec } from "../src/config/schema.ts";
import {
  DEFAULT_SHUTDOWN_TIMEOUT_SECONDS,
  HEALTH_PATH,
  METRICS_DEFAULT_PORT,
  METRICS_PATH,
  READY_PATH,
  SHUTDOWN_SIGNALS,
  STATE_DIR_CONTAINER,
} from "../src/telemetry/endpoints.ts";
import { REPO, runCollectorProcess } from "./helpers/collector.ts";
import { createTestLake, TEST_CREDENTIALS } from "./helpers/lake.ts";
import { MOTO_CA_FILE, startMoto } from "./helpers/moto.ts";

/** Where every deployment puts the configuration file. */
const CONFIG_PATH = "/etc/seclake/config.yaml";
/** Where the Dockerfile and the systemd unit install the binary. */
const BINARY_PATH = "/usr/local/bin/seclake";
const RUN_ARGS = ["run", "--config", CONFIG_PATH];

const read = (path: string) => Deno.readTextFile(join(REPO, path));
const dec = new TextDecoder();

async function git(args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: REPO, stdout: "piped" }).output();
  assert.ok(out.success, `git ${args.join(" ")} failed`);
  return dec.decode(out.stdout).trim();
}

async function sha256(path: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}

// ---------------------------------------------------------------------------------------------
// version and build stamping

Deno.test("version: the checked-in build_info.ts is the unstamped rendering", async () => {
  assert.equal(
    await read("src/cli/build_info.ts"),
    renderBuildInfo({ commit: "", kind: "source" }),
  );
});

Deno.test("version: seclake version prints version, commit, Deno version and target", async () => {
  const run = await runCollectorProcess(["version"]);
  assert.equal(run.code, 0, run.stderr);
  const head = await git(["rev-parse", "HEAD"]);
  assert.deepEqual(run.stdout.trimEnd().split("\n"), [
    `seclake ${VERSION}`,
    `commit: ${head}`,
    "build: source",
    `deno: ${Deno.version.deno}`,
    `target: ${Deno.build.target}`,
  ]);
  assert.equal(await readGitHead(REPO), head);
  assert.equal(await readGitHead(await Deno.makeTempDir()), undefined);
});

Deno.test("version: a stamped build reports its stamp, not the checkout's", async () => {
  const info = await versionInfo({ build: { commit: "abc123-dirty", kind: "compile" } });
  assert.equal(
    formatVersion(info),
    `seclake ${VERSION}\ncommit: abc123-dirty\nbuild: compile\ndeno: ${Deno.version.deno}\n` +
      `target: ${Deno.build.target}`,
  );
  const unknown = await versionInfo({ build: { commit: "", kind: "bundle" } });
  assert.equal(unknown.commit, "unknown");
});

// ---------------------------------------------------------------------------------------------
// deno task compile

Deno.test("compile: deno compile accepts the permission-set flag", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["compile", "--help"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
  }).output();
  assert.match(dec.decode(out.stdout), /-P, --permission-set\[=<NAME>\]/);
  const task = JSON.parse(await read("deno.json")).tasks.compile as string;
  assert.doesNotMatch(task, /--allow-all|\s-A\b/);
  assert.match(await read("scripts/compile.ts"), /`--permission-set=\$\{PERMISSION_SET\}`/);
});

Deno.test("compile: output names and the runtime cache layout", () => {
  assert.deepEqual(TARGETS.map(outputName), [
    "seclake-x86_64-unknown-linux-gnu",
    "seclake-aarch64-unknown-linux-gnu",
    "seclake-x86_64-apple-darwin",
    "seclake-aarch64-apple-darwin",
    "seclake-x86_64-pc-windows-msvc.exe",
  ]);
  assert.equal(
    denortCachePath("/d", "2.9.6", "aarch64-apple-darwin"),
    "/d/dl/release/v2.9.6/denort-aarch64-apple-darwin.zip",
  );
});

Deno.test("compile: development-only packages are pruned from the staged lockfile", () => {
  const lock: DenoLock = {
    version: "5",
    specifiers: { "npm:app@1.0.0": "1.0.0", "npm:dev@2.0.0": "2.0.0" },
    npm: {
      "app@1.0.0": { integrity: "a", dependencies: ["shared", "alias@npm:real@3.0.0"] },
      "dev@2.0.0": { integrity: "d", dependencies: ["shared", "native"] },
      "native@1.0.0": { integrity: "n", optionalDependencies: ["native-linux"] },
      "native-linux@1.0.0": { integrity: "l" },
      "shared@1.0.0": { integrity: "s" },
      "real@3.0.0": { integrity: "r" },
    },
    workspace: { dependencies: ["npm:app@1.0.0", "npm:dev@2.0.0"] },
  };
  const pruned = pruneLock(lock, ["npm:dev@2.0.0"]);
  assert.deepEqual(pruned.specifiers, { "npm:app@1.0.0": "1.0.0" });
  assert.deepEqual(Object.keys(pruned.npm!).sort(), ["app@1.0.0", "real@3.0.0", "shared@1.0.0"]);
  assert.deepEqual(pruned.workspace, { dependencies: ["npm:app@1.0.0"] });
  assert.equal(Object.keys(lock.npm!).length, 6, "the input is not changed");
  // A dependency that matches no locked package keeps the npm section whole.
  const odd = structuredClone(lock);
  odd.npm!["app@1.0.0"]!.dependencies!.push("unknown");
  assert.equal(Object.keys(pruneLock(odd, ["npm:dev@2.0.0"]).npm!).length, 6);
});

function elf(machine: number): Uint8Array {
  const b = new Uint8Array(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
  new DataView(b.buffer).setUint16(18, machine, true);
  return b;
}

Deno.test("compile: executable headers name their target", async () => {
  const machO = (cpu: number) => {
    const b = new Uint8Array(32);
    const v = new DataView(b.buffer);
    v.setUint32(0, 0xfeedfacf, true);
    v.setUint32(4, cpu, true);
    return b;
  };
  const pe = (machine: number) => {
    const b = new Uint8Array(512);
    const v = new DataView(b.buffer);
    b.set([0x4d, 0x5a]);
    v.setUint32(0x3c, 0x80, true);
    v.setUint32(0x80, 0x00004550, true);
    v.setUint16(0x84, machine, true);
    return b;
  };
  const target = (b: Uint8Array) => {
    const k = detectBinaryTarget(b);
    return k.kind === "executable" ? k.target : k.kind;
  };
  assert.equal(target(elf(0x3e)), "x86_64-unknown-linux-gnu");
  assert.equal(target(elf(0xb7)), "aarch64-unknown-linux-gnu");
  assert.equal(target(elf(0x28)), "unknown");
  assert.equal(target(machO(0x01000007)), "x86_64-apple-darwin");
  assert.equal(target(machO(0x0100000c)), "aarch64-apple-darwin");
  assert.equal(target(pe(0x8664)), "x86_64-pc-windows-msvc");
  assert.equal(target(pe(0xaa64)), "unknown");
  assert.equal(target(new TextEncoder().encode("PK\x03\x04rest")), "zip");
  assert.equal(target(new TextEncoder().encode("#!/bin/sh\n")), "unknown");
  // The Deno running this test is an executable of its own target.
  using file = await Deno.open(Deno.execPath());
  const head = new Uint8Array(4096);
  await file.read(head);
  assert.equal(target(head), Deno.build.target);
});

Deno.test("compile: a failed runtime download is explained in one line", () => {
  const stderr = `Check main.ts
Compile main.ts to dist/seclake-aarch64-apple-darwin
Download https://dl.deno.land/release/v2.9.6/denort-aarch64-apple-darwin.zip
error: Writing deno compile executable to temporary file 'dist/seclake.tmp-1'

Caused by:
    0: Setting up base binary.
    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-aarch64-apple-darwin.zip)
    2: dns error
    3: failed to lookup address information: Name or service not known

Stack backtrace:
   0: <unknown>
`;
  const cache = "/c/dl/release/v2.9.6/denort-aarch64-apple-darwin.zip";
  assert.equal(
    explainFailure(stderr, "aarch64-apple-darwin", cache),
    "cannot download the Deno runtime for aarch64-apple-darwin from " +
      "https://dl.deno.land/release/v2.9.6/denort-aarch64-apple-darwin.zip (failed to lookup " +
      "address information: Name or service not known); copy denort-aarch64-apple-darwin.zip " +
      `to ${cache} or set DENORT_BIN to an unpacked denort for aarch64-apple-darwin`,
  );
  const unpack = "error: Writing deno compile executable\n\nCaused by:\n    Failed to unpack " +
    "archive.\n\nStack backtrace:\n   0: <unknown>\n";
  assert.match(
    explainFailure(unpack, "aarch64-apple-darwin", cache),
    /could not be used \(Failed to unpack archive\.\); check that .*denort-aarch64-apple-darwin\.zip of Deno 2\.9\.6 and that `unzip` is installed/,
  );
});

/** The JSON metadata `deno compile` appends to a binary (permissions, entry point, ...). */
function embeddedMetadata(bytes: Uint8Array): Record<string, unknown> {
  const marker = new TextEncoder().encode('{"argv":');
  let at = -1;
  outer: for (let i = 0; i + marker.length <= bytes.length; i++) {
    for (let j = 0; j < marker.length; j++) if (bytes[i + j] !== marker[j]) continue outer;
    at = i;
    break;
  }
  assert.ok(at >= 0, "no deno compile metadata in the binary");
  let depth = 0;
  let inString = false;
  for (let i = at; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash escape
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return JSON.parse(dec.decode(bytes.subarray(at, i + 1)));
  }
  throw new Error("unterminated deno compile metadata");
}

async function zipStored(dir: string, file: string, entry: string, zipPath: string) {
  const script = "import sys, zipfile\n" +
    "with zipfile.ZipFile(sys.argv[3], 'w', zipfile.ZIP_STORED) as z: z.write(sys.argv[1], sys.argv[2])";
  const out = await new Deno.Command("python3", {
    args: ["-c", script, join(dir, file), entry, zipPath],
    stderr: "piped",
  }).output();
  assert.ok(out.success, `zip failed: ${dec.decode(out.stderr)}`);
}

Deno.test({
  name: "compile: DENORT_BIN and a pre-filled cache build offline; a missing runtime is reported",
  // The stand-in runtime is this Deno executable, so the binaries are not runnable collectors;
  // the test proves where the runtimes are taken from and what is embedded.
  ignore: !(TARGETS as readonly string[]).includes(Deno.build.target) ||
    Deno.build.os !== "linux",
  async fn() {
    const native = Deno.build.target as Target;
    const other: Target = native === "x86_64-unknown-linux-gnu"
      ? "aarch64-unknown-linux-gnu"
      : "x86_64-unknown-linux-gnu";
    const missing: Target = "x86_64-pc-windows-msvc";
    const tmp = await Deno.makeTempDir({ prefix: "seclake-compile-test-" });
    try {
      // A Deno cache with the npm packages of the real one and a runtime archive for `other`.
      const info = JSON.parse(
        dec.decode(
          (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
            .output()).stdout,
        ),
      ) as { denoDir: string };
      const denoDir = join(tmp, "deno_dir");
      await Deno.mkdir(denoDir);
      await Deno.symlink(join(info.denoDir, "npm"), join(denoDir, "npm"));
      const runtimeDir = join(tmp, "runtime");
      await Deno.mkdir(runtimeDir);
      await Deno.copyFile(Deno.execPath(), join(runtimeDir, "denort"));
      const cached = denortCachePath(denoDir, Deno.version.deno, other);
      await Deno.mkdir(join(cached, ".."), { recursive: true });
      await zipStored(runtimeDir, "denort", "denort", cached);
      const outDir = join(tmp, "dist");

      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-run",
          "scripts/compile.ts",
          "--offline",
          ...[native, other, missing].flatMap((t) => ["--target", t]),
          "--out-dir",
          outDir,
        ],
        cwd: REPO,
        env: { DENO_DIR: denoDir, DENORT_BIN: join(runtimeDir, "denort"), NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const log = dec.decode(out.stderr);
      assert.equal(out.code, 1, log);
      assert.match(log, new RegExp(`2 built, 1 failed`));
      // The benchmark's DuckDB (an inline npm: specifier in scripts/) is not needed for any
      // target: the cache here holds its bindings for this platform only.
      assert.match(log, /Not embedded \(not imported by the program\): .*npm:@duckdb\/node-api@/);
      assert.match(log, /ok {4}seclake-.*-linux-gnu\n {2}ok {4}seclake-.*-linux-gnu/);
      const missingCache = denortCachePath(denoDir, Deno.version.deno, missing);
      assert.ok(
        log.includes(
          `FAIL  ${missing}: no Deno runtime for ${missing}: ${missingCache} is missing and ` +
            `DENORT_BIN is for ${native}`,
        ),
        log,
      );
      assert.match(
        log,
        new RegExp(`Compiling .*${outputName(native)} \\(runtime from DENORT_BIN\\)`),
      );
      assert.match(log, new RegExp(`Compiling .*${outputName(other)} \\(runtime from cache\\)`));

      const names = [...Deno.readDirSync(outDir)].map((e) => e.name).sort();
      assert.deepEqual(names, ["SHA256SUMS", outputName(other), outputName(native)].sort());
      const sums = await Deno.readTextFile(join(outDir, "SHA256SUMS"));
      const expected = [];
      for (const t of [native, other].sort((a, b) => outputName(a) < outputName(b) ? -1 : 1)) {
        expected.push(`${await sha256(join(outDir, outputName(t)))}  ${outputName(t)}\n`);
      }
      assert.equal(sums, expected.join(""));

      // What deno compile embedded: the permission set of deno.json (never all), the stamp.
      const set = JSON.parse(await read("deno.json")).permissions.seclake as Record<
        string,
        true | string[]
      >;
      const bytes = await Deno.readFile(join(outDir, outputName(native)));
      const meta = embeddedMetadata(bytes);
      const perms = meta.permissions as Record<string, unknown>;
      for (const kind of ["read", "write", "net", "env", "sys", "run", "ffi", "import"]) {
        // An empty list allows everything; deno compile always records imports as allowed
        // (the modules are embedded, nothing is fetched at run time).
        const want = set[kind] === true ? [] : set[kind] ?? (kind === "import" ? [] : null);
        assert.deepEqual(perms[`allow_${kind}`], want, `allow_${kind}`);
      }
      assert.equal(meta.entrypoint_key, "main.ts");
      const text = dec.decode(bytes.subarray(bytes.length - 64 * 1024 * 1024));
      const head = await git(["rev-parse", "HEAD"]);
      // Search, rather than assert.match, so a failure does not print the whole binary.
      const stamp =
        /BUILD_INFO: BuildInfo = \{ commit: "([0-9a-f]{40})(-dirty)?", kind: "compile" \}/
          .exec(text);
      assert.ok(stamp, "the build stamp is embedded");
      assert.equal(stamp[1], head, "the stamp names the commit built");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("compile: docs/install.md lists the exact runtime files an offline build needs", async () => {
  const docs = await read("docs/install.md");
  for (const t of TARGETS) {
    const path = denortCachePath("$DENO_DIR", Deno.version.deno, t);
    assert.ok(docs.includes(`- \`${path}\``), `docs/install.md must list ${path}`);
  }
  assert.ok(docs.includes("- `$DENO_DIR/npm/`"));
  assert.match(docs, /deno task compile --offline/);
});

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  op: string;
  args: string;
}

function dockerInstructions(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, " ");
  const out: Instruction[] = [];
  for (const raw of joined.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    assert.ok(m, `not an instruction: ${line}`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  return out;
}

Deno.test("Dockerfile: multi-stage, distroless, non-root, state volume, port and stop signal", async () => {
  const ins = dockerInstructions(await read("Dockerfile"));
  const all = (op: string) => ins.filter((i) => i.op === op);
  const froms = all("FROM");
  assert.ok(froms.length >= 2, "multi-stage");
  const denoArg = all("ARG").find((a) => a.args.startsWith("DENO_VERSION="));
  assert.equal(denoArg?.args, `DENO_VERSION=${Deno.version.deno}`);
  assert.match(froms[0]!.args, /^denoland\/deno:\$\{DENO_VERSION\} AS build$/);
  const final = ins.slice(ins.lastIndexOf(froms.at(-1)!));
  assert.match(froms.at(-1)!.args, /^gcr\.io\/distroless\/cc-debian12(:nonroot)?$/);
  const one = (op: string) => {
    const found = final.filter((i) => i.op === op);
    assert.equal(found.length, 1, `one ${op} in the final stage`);
    return found[0]!.args;
  };
  const user = one("USER");
  assert.doesNotMatch(user, /^(root|0)(:|$)/);
  assert.deepEqual(JSON.parse(one("VOLUME")), [STATE_DIR_CONTAINER]);
  assert.equal(one("EXPOSE"), String(METRICS_DEFAULT_PORT));
  const stop = one("STOPSIGNAL");
  assert.equal(stop, "SIGTERM");
  assert.ok(SHUTDOWN_SIGNALS.includes(stop as Deno.Signal));
  assert.deepEqual(JSON.parse(one("ENTRYPOINT")), [BINARY_PATH]);
  assert.deepEqual(JSON.parse(one("CMD")), RUN_ARGS);
  // The state directory is owned by that user; the binary comes from deno task compile.
  assert.ok(
    final.some((i) =>
      i.op === "COPY" && i.args.includes(`--chown=${user}`) &&
      i.args.endsWith(STATE_DIR_CONTAINER)
    ),
  );
  const build = ins.slice(0, ins.indexOf(froms[1]!));
  assert.ok(build.some((i) => i.op === "RUN" && /deno task compile --target native/.test(i.args)));
  assert.ok(build.some((i) => i.op === "RUN" && /\bunzip\b/.test(i.args)));

  // .dockerignore lets in exactly what the build stage copies.
  const allowed = (await read(".dockerignore")).split("\n")
    .filter((l) => l.startsWith("!"))
    .map((l) => l.slice(1).replace(/\/$/, ""));
  const copied = build.filter((i) => i.op === "COPY" && !i.args.startsWith("--from"))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  assert.deepEqual([...new Set(copied)].sort(), [...allowed].sort());
});

Deno.test("the signals deployments send are the ones main.ts handles", async () => {
  const source = await read("src/cli/main.ts");
  const listened = /\["SIGINT", "SIGTERM"\]/.exec(source);
  assert.ok(listened, "main.ts listens to SIGINT and SIGTERM");
  for (const s of SHUTDOWN_SIGNALS) assert.ok(listened[0].includes(`"${s}"`));
});

// ---------------------------------------------------------------------------------------------
// systemd

function unitFile(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(kv && current, `not a unit file line: ${line}`);
    const values = current.get(kv[1]!) ?? [];
    values.push(kv[2]!);
    current.set(kv[1]!, values);
  }
  return sections;
}

Deno.test("systemd: hardened unit with a state directory, restarts and a long enough stop", async () => {
  const unit = unitFile(await read("deploy/systemd/seclake.service"));
  const service = unit.get("Service")!;
  const one = (key: string) => {
    const v = service.get(key);
    assert.equal(v?.length, 1, `one ${key}=`);
    return v[0]!;
  };
  assert.equal(one("ExecStart"), [BINARY_PATH, ...RUN_ARGS].join(" "));
  assert.equal(`/var/lib/${one("StateDirectory")}`, STATE_DIR_CONTAINER);
  assert.equal(one("DynamicUser"), "yes");
  assert.equal(one("ProtectSystem"), "strict");
  assert.equal(one("NoNewPrivileges"), "yes");
  assert.equal(one("Restart"), "on-failure");
  // Without HOME the AWS SDK asks for the uid, which the permission set does not grant.
  assert.ok(service.get("Environment")!.includes(`HOME=${STATE_DIR_CONTAINER}`));
  assert.ok(SHUTDOWN_SIGNALS.includes(one("KillSignal") as Deno.Signal));
  assert.ok(Number.parseInt(one("TimeoutStopSec")) > DEFAULT_SHUTDOWN_TIMEOUT_SECONDS);
  const noRestart = one("RestartPreventExitStatus").split(/\s+/).map(Number);
  assert.deepEqual(noRestart.sort(), [EXIT.usage, EXIT.config].sort());
  assert.ok(!service.has("MemoryDenyWriteExecute"), "V8 needs writable executable memory");
  assert.deepEqual(unit.get("Install")?.get("WantedBy"), ["multi-user.target"]);
  // The certificates the unit passes as credentials are the ones Devo outputs use.
  assert.deepEqual(
    service.get("LoadCredential")!.map((c) => c.split(":")[0]).sort(),
    ["chain.crt", "domain.crt", "domain.key"],
  );
});

// ---------------------------------------------------------------------------------------------
// Kubernetes

// deno-lint-ignore no-explicit-any
type Doc = Record<string, any>;

async function manifests(): Promise<{ file: string; doc: Doc }[]> {
  const dir = join(REPO, "deploy", "kubernetes");
  const out: { file: string; doc: Doc }[] = [];
  const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".yaml"));
  assert.ok(files.length >= 5, `manifests: ${files}`);
  for (const file of files.sort()) {
    for (const d of parseAllDocuments(await Deno.readTextFile(join(dir, file)))) {
      assert.deepEqual(d.errors, [], `${file}: ${d.errors.map((e) => e.message).join("; ")}`);
      const doc = d.toJS() as Doc | null;
      if (doc === null) continue;
      assert.ok(doc.apiVersion && doc.kind, `${file}: apiVersion and kind`);
      if (doc.kind !== "Kustomization") assert.ok(doc.metadata?.name, `${file}: metadata.name`);
      out.push({ file, doc });
    }
  }
  return out;
}

function globalsFields(): Record<string, unknown> {
  return ((SCHEMA as ObjectSpec).fields.globals as ObjectSpec).fields;
}

Deno.test("kubernetes: every manifest parses and matches the code's ports, paths and signals", async () => {
  const docs = await manifests();
  const byKind = (kind: string) => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
  const named = (kind: string, name: string) => {
    const found = byKind(kind).find((d) => d.metadata.name === name);
    assert.ok(found, `${kind} ${name}`);
    return found;
  };

  // kustomization.yaml lists every other manifest.
  const [kustomization] = byKind("Kustomization");
  assert.deepEqual(
    [...kustomization!.resources].sort(),
    [...new Set(docs.map((d) => d.file))].filter((f) => f !== "kustomization.yaml").sort(),
  );

  const [sts] = byKind("StatefulSet");
  assert.ok(sts);
  assert.equal(sts.spec.replicas, 2);
  const pod = sts.spec.template.spec;
  assert.ok(pod.terminationGracePeriodSeconds > DEFAULT_SHUTDOWN_TIMEOUT_SECONDS);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.notEqual(pod.securityContext.runAsUser, 0);
  assert.equal(pod.containers.length, 1);
  const c = pod.containers[0];
  assert.deepEqual(c.args, RUN_ARGS);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  const port = c.ports.find((p: Doc) => p.name === "metrics");
  assert.equal(port.containerPort, METRICS_DEFAULT_PORT);
  const probe = (p: Doc) => {
    assert.ok(p.port === "metrics" || p.port === METRICS_DEFAULT_PORT);
    return p.path;
  };
  assert.equal(probe(c.livenessProbe.httpGet), HEALTH_PATH);
  assert.equal(probe(c.readinessProbe.httpGet), READY_PATH);
  assert.equal(probe(c.startupProbe.httpGet), HEALTH_PATH);
  assert.deepEqual(c.resources, {
    requests: { cpu: "250m", memory: "256Mi" },
    limits: { cpu: "2", memory: "768Mi" },
  });
  const annotations = sts.spec.template.metadata.annotations;
  assert.equal(annotations["prometheus.io/port"], String(METRICS_DEFAULT_PORT));
  assert.equal(annotations["prometheus.io/path"], METRICS_PATH);

  // One state volume per replica, at the state directory; config and certificates read-only.
  assert.equal(sts.spec.volumeClaimTemplates.length, 1);
  const mount = (name: string) => {
    const m = c.volumeMounts.find((v: Doc) => v.name === name);
    assert.ok(m, `volume mount ${name}`);
    return m;
  };
  const stateMount = mount(sts.spec.volumeClaimTemplates[0].metadata.name);
  assert.equal(stateMount.mountPath, STATE_DIR_CONTAINER);
  assert.notEqual(stateMount.readOnly, true);
  const volume = (name: string) => pod.volumes.find((v: Doc) => v.name === name);
  // Every file the pod sees from a ConfigMap or Secret, by its path in the container.
  const files = new Map<string, { kind: string; name: string; key: string; readOnly: boolean }>();
  for (const m of c.volumeMounts) {
    const v = volume(m.name);
    if (v === undefined) {
      assert.ok(
        sts.spec.volumeClaimTemplates.some((t: Doc) => t.metadata.name === m.name),
        `volume ${m.name}`,
      );
      continue;
    }
    for (const src of v.projected ? v.projected.sources : [v]) {
      const from = src.configMap ?? src.secret;
      if (from === undefined) continue;
      assert.ok(from.items, `${m.name}: items listed, so every path is known`);
      for (const item of from.items) {
        files.set(`${m.mountPath}/${item.path}`, {
          kind: src.configMap ? "ConfigMap" : "Secret",
          name: from.name ?? from.secretName,
          key: item.key,
          readOnly: m.readOnly === true,
        });
      }
    }
  }
  const file = (path: string, kind: string) => {
    const f = files.get(path);
    assert.ok(f, `${path} is not mounted`);
    assert.equal(f.kind, kind, path);
    assert.equal(f.readOnly, true, `${path} is mounted read-only`);
    return f;
  };

  // The headless Service names the StatefulSet and exposes the metrics port.
  const svc = named("Service", sts.spec.serviceName);
  assert.equal(svc.spec.clusterIP, "None");
  assert.equal(svc.spec.ports[0].port, METRICS_DEFAULT_PORT);

  // The configuration file: metrics on the port, state in the volume, certificates from the
  // Secret, AWS keys from the Secret's environment; and it loads.
  const configFile = file(CONFIG_PATH, "ConfigMap");
  const configText = named("ConfigMap", configFile.name).data[configFile.key] as string;
  const config = parseYaml(configText);
  const listen = config.globals.metrics.listen as string;
  assert.equal(listen, `0.0.0.0:${METRICS_DEFAULT_PORT}`);
  assert.equal(config.globals.persistence.directory_name, STATE_DIR_CONTAINER);
  for (const key of ["chain", "cert", "key"]) {
    const cert = file(config.outputs.devo_1.config[key], "Secret");
    assert.ok(named("Secret", cert.name).stringData[cert.key], `${cert.name}.${cert.key}`);
  }
  const envSecret = named("Secret", c.envFrom[0].secretRef.name);
  const env = (name: string) => envSecret.stringData[name] as string | undefined;
  for (const m of configText.matchAll(/\$\{(\w+)\}/g)) assert.ok(env(m[1]!), `${m[1]} in Secret`);
  const shutdownSpec = globalsFields().shutdown_timeout_seconds as { default?: number } | undefined;
  if (shutdownSpec !== undefined) {
    assert.equal(shutdownSpec.default, DEFAULT_SHUTDOWN_TIMEOUT_SECONDS);
  }
  // Settings the schema does not know yet are checked above; the rest must load.
  for (const key of Object.keys(config.globals)) {
    if (!(key in globalsFields())) delete config.globals[key];
  }
  const options = { env, baseDir: "/", checkFiles: false };
  const loaded = parseConfig(JSON.stringify(config), options);
  assert.equal(loaded.inputs[0]!.queue_name, config.inputs.security_lake.queue_name);

  // KEDA scales this StatefulSet on this queue, with the same credentials.
  const scaled = byKind("ScaledObject")[0]!;
  assert.deepEqual(scaled.spec.scaleTargetRef, {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    name: sts.metadata.name,
  });
  assert.equal(scaled.spec.minReplicaCount, sts.spec.replicas);
  assert.ok(scaled.spec.maxReplicaCount > scaled.spec.minReplicaCount);
  const trigger = scaled.spec.triggers[0];
  assert.equal(trigger.type, "aws-sqs-queue");
  const input = config.inputs.security_lake;
  assert.ok(trigger.metadata.queueURL.endsWith(`/${input.queue_name}`));
  assert.equal(trigger.metadata.awsRegion, input.region);
  const auth = named("TriggerAuthentication", trigger.authenticationRef.name);
  for (const ref of auth.spec.secretTargetRef) {
    assert.ok(named("Secret", ref.name).stringData[ref.key], `${ref.name}.${ref.key}`);
  }
  assert.deepEqual(
    auth.spec.secretTargetRef.map((r: Doc) => r.parameter).sort(),
    ["awsAccessKeyID", "awsSecretAccessKey"],
  );
});

// ---------------------------------------------------------------------------------------------
// The stop signal, for real

Deno.test("SIGTERM stops a running collector cleanly within the shutdown timeout", async () => {
  await using moto = await startMoto();
  const lake = await createTestLake(moto.endpoint);
  const dir = await Deno.makeTempDir({ prefix: "seclake-sigterm-" });
  try {
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(
      config,
      `globals:
  persistence: { directory_name: ${join(dir, "state")} }
outputs:
  console_1: { type: console }
inputs:
  security_lake:
    credentials: { aws_access_key_id: "\${AWS_ACCESS_KEY_ID}", aws_secret_access_key: "\${AWS_SECRET_ACCESS_KEY}" }
    region: us-east-1
    queue_name: ${lake.queueName}
    endpoint_url: ${moto.endpoint}
    services:
      events: { wait_time_seconds: 2 }
`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=seclake", "--quiet", "main.ts", "run", "--config", config],
      cwd: REPO,
      env: {
        NO_COLOR: "1",
        AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        AWS_CA_BUNDLE: MOTO_CA_FILE,
      },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let log = "";
    const started = Promise.withResolvers<void>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        log += decoder.decode(chunk, { stream: true });
        // Any log line means setup has begun; one long poll later it is in its receive loop.
        if (timer === undefined && /\bINFO\b/.test(log)) {
          timer = setTimeout(() => started.resolve(), 3_000);
        }
      }
    })();
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    try {
      const exitedEarly = await Promise.race([
        started.promise.then(() => false),
        child.status.then(() => true),
      ]);
      assert.ok(!exitedEarly, `the collector exited before SIGTERM:\n${log}`);
      const sent = Date.now();
      child.kill("SIGTERM");
      const status = await child.status;
      const tookMs = Date.now() - sent;
      assert.equal(status.signal, null, `killed by ${status.signal}:\n${log}`);
      assert.equal(status.code, EXIT.ok, log);
      assert.ok(tookMs < DEFAULT_SHUTDOWN_TIMEOUT_SECONDS * 1000, `took ${tookMs} ms`);
      await drained;
      assert.match(
        log,
        new RegExp(
          `INFO +\\[main\\] Received SIGTERM: stopping; work in progress gets up to ${DEFAULT_SHUTDOWN_TIMEOUT_SECONDS} seconds`,
        ),
      );
    } finally {
      clearTimeout(killer);
      clearTimeout(timer);
      await drained;
    }
  } finally {
    lake.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the Dockerfile, the systemd unit, the StatefulSet and deno task run set RUN_ENV", async () => {
  const pairs = Object.entries(RUN_ENV).map(([k, v]) => `${k}=${v}`);
  assert.ok(pairs.length > 0);
  const ins = dockerInstructions(await read("Dockerfile"));
  const final = ins.slice(ins.findLastIndex((i) => i.op === "FROM"));
  const dockerEnv = final.filter((i) => i.op === "ENV").map((i) => i.args);
  const service = unitFile(await read("deploy/systemd/seclake.service")).get("Service")!;
  const docs = await manifests();
  const [sts] = docs.filter((d) => d.doc.kind === "StatefulSet").map((d) => d.doc);
  const podEnv = (sts!.spec.template.spec.containers[0].env as Doc[] ?? [])
    .map((e) => `${e.name}=${e.value}`);
  const run = JSON.parse(await read("deno.json")).tasks.run as string;
  for (const pair of pairs) {
    assert.ok(dockerEnv.includes(pair), `Dockerfile ENV ${pair}`);
    assert.ok(service.get("Environment")!.includes(pair), `unit Environment=${pair}`);
    assert.ok(podEnv.includes(pair), `StatefulSet env ${pair}`);
    assert.ok(run.startsWith(`${pairs.join(" ")} deno run `), `task run: ${run}`);
  }
});

Deno.test("compile: the binary, deno task run, demo and the tests' collector get the same V8 flags", async () => {
  assert.ok(V8_FLAGS.length > 0);
  const tasks = JSON.parse(await read("deno.json")).tasks as Record<string, string>;
  for (const name of ["run", "demo"]) {
    assert.ok(tasks[name]!.includes(` ${V8_FLAGS_OPTION} `), `task ${name}: ${tasks[name]}`);
  }
  assert.match(
    await read("scripts/compile.ts"),
    /`--permission-set=\$\{PERMISSION_SET\}`,\n\s+V8_FLAGS_OPTION,/,
  );
  for (const helper of ["tests/helpers/collector.ts", "tests/helpers/process.ts"]) {
    assert.match(await read(helper), /"-P=seclake", V8_FLAGS_OPTION, "--quiet", "main.ts"/);
  }
});
