/**
 * `deno task compile`: builds one self-contained executable per supported target,
 * `dist/seclake-<target>` (`.exe` on Windows), with the permission set declared once in
 * `deno.json` (`permissions.seclake`, passed as `-P=seclake`), and writes `dist/SHA256SUMS`.
 *
 * The sources are copied to a staging folder with `src/cli/build_info.ts` stamped (commit and
 * build kind), so the work tree is never touched. Each target needs the Deno runtime `denort`
 * for that target. `deno compile` looks for it, in this order:
 *
 * 1. `DENORT_BIN`: an unpacked `denort` executable. It is used only for the target its header
 *    names (ELF, Mach-O or PE; x86_64 or aarch64); other targets fall through to 2.
 * 2. The Deno cache: `$DENO_DIR/dl/release/v<deno version>/denort-<target>.zip`.
 * 3. A download from dl.deno.land, stored in the cache of 2 (skipped with `--offline`).
 *
 * Usage: `deno task compile [--target TARGET|native]... [--out-dir DIR] [--offline]`.
 * It reports every target's outcome and exits 1 if any failed.
 * @module
 */
import { createHash } from "node:crypto";
import { basename, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { LINEAR_REGEX_V8_FLAG } from "../src/linear_regex.ts";

/** The repository root. */
export const REPO: string = fileURLToPath(new URL("../", import.meta.url));

/** Every target a release is built for, in build order. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** One supported target triple. */
export type Target = typeof TARGETS[number];

/** The name of the permission set in `deno.json` the program runs with. */
export const PERMISSION_SET = "seclake";

/**
 * Modules the program starts as Web Workers (relative to the repository root): `deno compile`
 * embeds only what is imported, so these are added with `--include`.
 */
export const WORKER_MODULES: readonly string[] = ["src/parquet/lines_worker.ts"];

/**
 * V8 flags the program runs with, compiled into the binary (`--v8-flags`) and given to
 * `deno task run`, the bundle's command line and the tests (V8 flags are per process: they
 * hold for the decode workers too):
 * - a young generation of 4 MiB semi-spaces, so short-lived buffers of every isolate (main
 *   thread and decode workers) are reclaimed early; about 100 MB less peak memory with two
 *   decode workers, at no measured cost in speed (docs/performance.md);
 * - V8's linear-time regular expression engine, which obfuscation `string_patterns` run on
 *   (`src/linear_regex.ts`); without it a configuration with patterns is refused.
 */
export const V8_FLAGS: readonly string[] = ["--max-semi-space-size=4", LINEAR_REGEX_V8_FLAG];

/** The `--v8-flags` option for {@link V8_FLAGS}. */
export const V8_FLAGS_OPTION = `--v8-flags=${V8_FLAGS.join(",")}`;

/**
 * Environment the deployment files (deploy/systemd, deploy/kubernetes, Dockerfile) and
 * `deno task run` give the program: one glibc malloc arena shared by every thread instead of up to
 * eight per core, so the buffers the decode workers and the main thread free go back to one heap
 * that the next allocations reuse: 40–70 MB less peak memory with two decode workers, no
 * measured cost in speed (docs/performance.md). glibc reads it before the program starts, so
 * the binary cannot set it for itself.
 */
export const RUN_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "1" };

/** File name of the checksum list written beside the artifacts. */
export const CHECKSUMS_FILE = "SHA256SUMS";

/** File name of the bundled JavaScript program (`deno task bundle`). */
export const BUNDLE_FILE = "seclake.js";

/** How a build was made, as stamped into `src/cli/build_info.ts`. */
export type BuildKind = "compile" | "bundle" | "source";

/** Returns whether `value` is one of {@link TARGETS}. */
export function isTarget(value: string): value is Target {
  return (TARGETS as readonly string[]).includes(value);
}

/** The artifact file name for `target`: `seclake-<target>`, with `.exe` for Windows. */
export function outputName(target: Target): string {
  return `seclake-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/**
 * Where `deno compile` of Deno `denoVersion` (e.g. `2.9.6`) looks for the runtime archive of
 * `target` before downloading it: `DENO_DIR/dl/release/v<version>/denort-<target>.zip`.
 */
export function denortCachePath(denoDir: string, denoVersion: string, target: Target): string {
  return join(denoDir, "dl", "release", `v${denoVersion}`, `denort-${target}.zip`);
}

/** The URL `deno compile` downloads the runtime archive of `target` from. */
export function denortUrl(denoVersion: string, target: Target): string {
  return `https://dl.deno.land/release/v${denoVersion}/denort-${target}.zip`;
}

/** What the first bytes of a file say it is, for {@link detectBinaryTarget}. */
export type BinaryKind =
  | { kind: "executable"; target: Target }
  | { kind: "zip" }
  | { kind: "unknown"; detail: string };

/**
 * Reads the executable header in `head` (the first bytes of a file, 4 KiB is plenty) and
 * returns the target it runs on: 64-bit little-endian ELF (Linux), thin 64-bit Mach-O (macOS)
 * or PE (Windows), for x86_64 or aarch64. A ZIP archive is reported as such (a `denort-*.zip`
 * given where the unpacked executable is needed); anything else is `unknown`, with the reason.
 */
export function detectBinaryTarget(head: Uint8Array): BinaryKind {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const u16 = (at: number) => at + 2 <= head.length ? view.getUint16(at, true) : -1;
  const u32 = (at: number) => at + 4 <= head.length ? view.getUint32(at, true) : -1;
  const arch = (x64: boolean, arm64: boolean) => x64 ? "x86_64" : arm64 ? "aarch64" : undefined;
  if (head[0] === 0x50 && head[1] === 0x4b) return { kind: "zip" };
  if (u32(0) === 0x464c457f) { // "\x7fELF"
    if (head[4] !== 2 || head[5] !== 1) {
      return { kind: "unknown", detail: "ELF that is not 64-bit little-endian" };
    }
    const a = arch(u16(18) === 0x3e, u16(18) === 0xb7);
    return a === undefined
      ? { kind: "unknown", detail: `ELF for machine 0x${u16(18).toString(16)}` }
      : { kind: "executable", target: `${a}-unknown-linux-gnu` };
  }
  if (u32(0) === 0xfeedfacf) {
    const a = arch(u32(4) === 0x01000007, u32(4) === 0x0100000c);
    return a === undefined
      ? { kind: "unknown", detail: `Mach-O for CPU type 0x${u32(4).toString(16)}` }
      : { kind: "executable", target: `${a}-apple-darwin` };
  }
  if (head[0] === 0x4d && head[1] === 0x5a) { // "MZ"
    const pe = u32(0x3c);
    if (pe < 0 || u32(pe) !== 0x00004550) {
      return { kind: "unknown", detail: "MZ file without a PE header in its first bytes" };
    }
    const machine = u16(pe + 4);
    if (machine === 0x8664) return { kind: "executable", target: "x86_64-pc-windows-msvc" };
    return { kind: "unknown", detail: `PE for machine 0x${machine.toString(16)}` };
  }
  return { kind: "unknown", detail: "not an ELF, Mach-O or PE executable" };
}

/** The text of `src/cli/build_info.ts` for a build of `kind` from `commit`. */
export function renderBuildInfo(info: { commit: string; kind: BuildKind }): string {
  return `/**
 * Facts stamped into a build. \`scripts/compile.ts\` and \`scripts/bundle.ts\` write their own copy
 * of this file into the staging tree they build from; this checked-in copy is what \`deno run\`
 * from a source checkout sees.
 * @module
 */

/** How this program was built and from which commit. */
export interface BuildInfo {
  /** Git commit the build was made from (\`-dirty\` when the tree had changes); empty if unknown. */
  readonly commit: string;
  /** \`compile\` (a \`deno compile\` binary), \`bundle\` (\`dist/seclake.js\`) or \`source\`. */
  readonly kind: "compile" | "bundle" | "source";
}

/** The facts of this build. */
export const BUILD_INFO: BuildInfo = { commit: ${JSON.stringify(info.commit)}, kind: ${
    JSON.stringify(info.kind)
  } };
`;
}

async function command(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; clearEnv?: string[] } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1", ...options.env };
  for (const name of options.clearEnv ?? []) delete env[name];
  const out = await new Deno.Command(cmd, {
    args,
    cwd: options.cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * The commit to stamp: `SECLAKE_GIT_COMMIT` when set (container builds have no `.git`), else
 * `git rev-parse HEAD` in `repo` with `-dirty` appended when tracked files have changes, else
 * `unknown`.
 */
export async function gitCommit(repo: string = REPO): Promise<string> {
  const fromEnv = Deno.env.get("SECLAKE_GIT_COMMIT")?.trim();
  if (fromEnv) return fromEnv;
  try {
    const head = await command("git", ["rev-parse", "HEAD"], { cwd: repo });
    if (head.code !== 0) return "unknown";
    const status = await command("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd: repo,
    });
    return head.stdout.trim() + (status.code === 0 && status.stdout.trim() !== "" ? "-dirty" : "");
  } catch {
    return "unknown"; // no git installed
  }
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory) await copyTree(src, dst);
    else if (entry.isFile && !entry.name.endsWith("_test.ts")) await Deno.copyFile(src, dst);
  }
}

/**
 * Copies what the program is built from (`main.ts`, `deno.json`, `deno.lock`, `src/` without
 * tests) from `repo` into a new temporary folder and writes a stamped `src/cli/build_info.ts`
 * there. Returns the folder; the caller removes it.
 */
export async function stageSources(
  info: { commit: string; kind: BuildKind },
  repo: string = REPO,
): Promise<string> {
  const stage = await Deno.makeTempDir({ prefix: "seclake-build-" });
  try {
    for (const file of ["main.ts", "deno.json", "deno.lock"]) {
      await Deno.copyFile(join(repo, file), join(stage, file));
    }
    await copyTree(join(repo, "src"), join(stage, "src"));
    await Deno.writeTextFile(join(stage, "src", "cli", "build_info.ts"), renderBuildInfo(info));
    return stage;
  } catch (e) {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
    throw e;
  }
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await sourceFiles(path));
    else if (/\.[cm]?[jt]sx?$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** Bare module specifiers (not relative, not `node:`) imported or re-exported by `code`. */
export function bareImports(code: string): Set<string> {
  const found = new Set<string>();
  const re = /(?:\bfrom|\bimport)\s*\(?\s*["']([^"'./][^"']*)["']/g;
  for (const m of code.matchAll(re)) if (!m[1]!.startsWith("node:")) found.add(m[1]!);
  return found;
}

/**
 * Rewrites the staged `deno.json` so its `imports` keep only the entries the program (`main.ts`
 * and `src/`) imports, drops the others from the staged lockfile's workspace dependencies, drops
 * the lockfile's npm specifiers that only other files name inline (the benchmark's DuckDB), and
 * returns the names dropped. Development-only packages (fixture writers, benchmarks) are then
 * neither embedded nor needed in the Deno cache, for any target, and `--frozen-lockfile` still
 * holds for the rest.
 */
export async function pruneImports(stage: string): Promise<string[]> {
  const used = new Set<string>();
  let program = "";
  for (const file of [join(stage, "main.ts"), ...await sourceFiles(join(stage, "src"))]) {
    const code = await Deno.readTextFile(file);
    program += code;
    for (const spec of bareImports(code)) used.add(spec);
  }
  const configPath = join(stage, "deno.json");
  const config = JSON.parse(await Deno.readTextFile(configPath)) as {
    imports?: Record<string, string>;
  };
  const kept: Record<string, string> = {};
  const dropped: [string, string][] = [];
  for (const [name, target] of Object.entries(config.imports ?? {})) {
    const isUsed = [...used].some((s) =>
      s === name || (name.endsWith("/") ? s.startsWith(name) : s.startsWith(`${name}/`))
    );
    if (isUsed) kept[name] = target;
    else dropped.push([name, target]);
  }
  const lockPath = join(stage, "deno.lock");
  const lock = JSON.parse(await Deno.readTextFile(lockPath)) as DenoLock;
  const workspace = new Set(lock.workspace?.dependencies ?? []);
  for (const spec of Object.keys(lock.specifiers ?? {})) {
    if (spec.startsWith("npm:") && !workspace.has(spec) && !program.includes(spec)) {
      dropped.push([spec, spec]);
    }
  }
  if (dropped.length === 0) return [];
  config.imports = kept;
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2) + "\n");
  await Deno.writeTextFile(
    lockPath,
    JSON.stringify(pruneLock(lock, dropped.map(([, target]) => target)), null, 2) + "\n",
  );
  return dropped.map(([name]) => name);
}

/** The parts of a `deno.lock` (version 5) that {@link pruneLock} reads. */
export interface DenoLock {
  specifiers?: Record<string, string>;
  npm?: Record<
    string,
    { dependencies?: string[]; optionalDependencies?: string[]; [key: string]: unknown }
  >;
  workspace?: { dependencies?: string[] };
  [key: string]: unknown;
}

/**
 * Returns `lock` without the top-level specifiers in `dropped` (e.g. `npm:x@1.0.0`) and
 * without the npm packages only they needed, so Deno neither installs nor caches them. When a
 * dependency cannot be matched to a locked package, the npm section is left whole (a larger
 * cache, never a missing package).
 */
export function pruneLock(lock: DenoLock, dropped: readonly string[]): DenoLock {
  const gone = new Set(dropped);
  const out: DenoLock = structuredClone(lock);
  if (out.workspace?.dependencies) {
    out.workspace.dependencies = out.workspace.dependencies.filter((d) => !gone.has(d));
  }
  if (!out.specifiers || !out.npm) return out;
  for (const spec of Object.keys(out.specifiers)) if (gone.has(spec)) delete out.specifiers[spec];
  const npm = out.npm;
  const keys = Object.keys(npm);
  const nameOf = (s: string) => s.slice(0, s.indexOf("@", 1) < 0 ? s.length : s.indexOf("@", 1));
  const resolve = (entry: string): string | undefined => {
    const target = entry.includes("@npm:") ? entry.slice(entry.indexOf("@npm:") + 5) : entry;
    if (target in npm) return target;
    const candidates = keys.filter((k) => nameOf(k) === target);
    return candidates.length === 1 ? candidates[0] : undefined;
  };
  const reached = new Set<string>();
  const todo: string[] = [];
  for (const [spec, version] of Object.entries(out.specifiers)) {
    if (!spec.startsWith("npm:")) continue;
    const key = `${nameOf(spec.slice(4))}@${version}`;
    if (!(key in npm)) return { ...out, npm: lock.npm };
    todo.push(key);
  }
  while (todo.length > 0) {
    const key = todo.pop()!;
    if (reached.has(key)) continue;
    reached.add(key);
    const entry = npm[key]!;
    for (const dep of [...entry.dependencies ?? [], ...entry.optionalDependencies ?? []]) {
      const resolved = resolve(dep);
      if (resolved === undefined) return { ...out, npm: lock.npm };
      todo.push(resolved);
    }
  }
  for (const key of keys) if (!reached.has(key)) delete npm[key];
  return out;
}

/** Returns whether `name` is a release artifact: a compiled binary or the bundle. */
export function isArtifact(name: string): boolean {
  return name === BUNDLE_FILE || TARGETS.some((t) => outputName(t) === name);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * Writes `dir/SHA256SUMS` for every release artifact present in `dir` (the binaries and
 * `seclake.js`), in `sha256sum` format (`HEX  NAME`, sorted by name), so
 * `sha256sum -c --ignore-missing SHA256SUMS` checks a download; with no artifact there is no
 * file. Returns the lines written.
 */
export async function writeChecksums(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && isArtifact(entry.name)) names.push(entry.name);
  }
  names.sort();
  const lines: string[] = [];
  for (const name of names) lines.push(`${await sha256File(join(dir, name))}  ${name}`);
  if (lines.length === 0) await Deno.remove(join(dir, CHECKSUMS_FILE)).catch(() => {});
  else await Deno.writeTextFile(join(dir, CHECKSUMS_FILE), lines.map((l) => `${l}\n`).join(""));
  return lines;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Turns the output of a failed `deno compile` for `target` into one line that says what
 * failed and what to do: a runtime that could not be downloaded (with the URL and the cache
 * path to fill), an unreadable runtime archive, or else Deno's own error and its causes.
 */
export function explainFailure(output: string, target: Target, cachePath: string): string {
  const text = output.replace(ANSI, "");
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const errorAt = lines.findIndex((l) => l.startsWith("error:"));
  const backtrace = lines.findIndex((l, i) => i > errorAt && /^stack backtrace:/i.test(l));
  const tail = lines.slice(errorAt + 1, backtrace < 0 ? undefined : backtrace);
  const causedBy = tail.findIndex((l) => /^caused by:/i.test(l));
  const causes = causedBy < 0 ? [] : tail.slice(causedBy + 1).map((l) => l.replace(/^\d+:\s*/, ""));
  const headline = errorAt >= 0 ? lines[errorAt]!.replace(/^error:\s*/, "") : lines.at(-1) ?? "";
  const deepest = causes.at(-1) ?? headline;
  const url = /https:\/\/dl\.deno\.land\/\S+?\.zip/.exec(text)?.[0];
  if (url !== undefined) {
    return `cannot download the Deno runtime for ${target} from ${url} (${deepest}); ` +
      `copy denort-${target}.zip to ${cachePath} or set DENORT_BIN to an unpacked denort ` +
      `for ${target}`;
  }
  if (/denort|zip|archive/i.test(headline + " " + causes.join(" "))) {
    return `the Deno runtime for ${target} could not be used (${deepest}); check that ` +
      `${cachePath} is the denort-${target}.zip of Deno ${denoVersion(cachePath)} and that ` +
      "`unzip` is installed, or set DENORT_BIN";
  }
  return [headline, ...causes].join(": ") || `deno compile exited without a message`;
}

function denoVersion(cachePath: string): string {
  return /[\\/]v([^\\/]+)[\\/]denort-/.exec(cachePath)?.[1] ?? Deno.version.deno;
}

/** Where the runtime of one target comes from. */
export type RuntimeSource = "DENORT_BIN" | "cache" | "download" | "none";

/** The outcome of one target. */
export interface TargetResult {
  readonly target: Target;
  readonly ok: boolean;
  /** The binary written, when `ok`. */
  readonly path?: string;
  /** Where its runtime came from (or would have). */
  readonly runtime: RuntimeSource;
  /** Why it failed, in one line, when not `ok`. */
  readonly error?: string;
}

/** The outcome of {@link compile}. */
export interface CompileReport {
  readonly commit: string;
  readonly results: readonly TargetResult[];
  /** The lines of `SHA256SUMS` written (empty when nothing was built). */
  readonly checksums: readonly string[];
}

/** Options for {@link compile}. */
export interface CompileOptions {
  /** Targets to build; default all of {@link TARGETS}. */
  targets?: readonly Target[];
  /** Where the binaries and `SHA256SUMS` go; default `dist/` in the repository. */
  outDir?: string;
  /** Never download: a target whose runtime is neither in `DENORT_BIN` nor cached fails. */
  offline?: boolean;
  /** The repository to build; default this one. */
  repo?: string;
  /** Called with a line of progress; default `console.error`. */
  log?: (line: string) => void;
}

async function denoDir(): Promise<string> {
  const out = await command(Deno.execPath(), ["info", "--json"], { cwd: "/" });
  if (out.code !== 0) throw new Error(`deno info --json failed: ${out.stderr.trim()}`);
  return (JSON.parse(out.stdout) as { denoDir: string }).denoDir;
}

async function readHead(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const buf = new Uint8Array(4096);
  const n = await file.read(buf);
  return buf.subarray(0, n ?? 0);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/**
 * Type-checks the program once, then compiles it for each target in turn with
 * `deno compile -P=seclake` from a stamped staging copy. Every target is tried even when one
 * fails; each old artifact in `outDir` is deleted first so a failed target leaves none behind.
 * Writes `SHA256SUMS` over what is in `outDir` afterwards. Throws only when the program does
 * not type-check or `DENORT_BIN` is unusable.
 */
export async function compile(options: CompileOptions = {}): Promise<CompileReport> {
  const repo = options.repo ?? REPO;
  const outDir = options.outDir ?? join(repo, "dist");
  const targets = options.targets ?? TARGETS;
  const log = options.log ?? ((line: string) => console.error(line));
  const deno = Deno.execPath();
  const version = Deno.version.deno;

  let denortBin: { path: string; target: Target } | undefined;
  const denortPath = Deno.env.get("DENORT_BIN");
  if (denortPath) {
    const head = await readHead(denortPath).catch((e) => {
      throw new Error(`DENORT_BIN ${denortPath} cannot be read: ${(e as Error).message}`);
    });
    const kind = detectBinaryTarget(head);
    if (kind.kind === "zip") {
      throw new Error(
        `DENORT_BIN ${denortPath} is a ZIP archive; unpack it and point DENORT_BIN at the denort executable inside, or copy the archive into the Deno cache instead`,
      );
    }
    if (kind.kind === "unknown") {
      throw new Error(`DENORT_BIN ${denortPath} is not a denort executable: ${kind.detail}`);
    }
    denortBin = { path: denortPath, target: kind.target };
    log(`DENORT_BIN ${denortPath}: runtime for ${kind.target}`);
  }

  const cacheDir = await denoDir();
  const commit = await gitCommit(repo);
  const stage = await stageSources({ commit, kind: "compile" }, repo);
  const lockFlags = ["--frozen-lockfile", ...(options.offline ? ["--cached-only"] : [])];
  try {
    const dropped = await pruneImports(stage);
    if (dropped.length > 0) {
      log(`Not embedded (not imported by the program): ${dropped.join(", ")}`);
    }
    log(`Checking main.ts (commit ${commit})`);
    const check = await command(deno, ["check", ...lockFlags, "main.ts"], { cwd: stage });
    if (check.code !== 0) {
      throw new Error(`The program does not type-check:\n${(check.stderr + check.stdout).trim()}`);
    }
    await Deno.mkdir(outDir, { recursive: true });
    for (const t of TARGETS) await Deno.remove(join(outDir, outputName(t))).catch(() => {});

    const results: TargetResult[] = [];
    for (const target of targets) {
      const output = join(outDir, outputName(target));
      const cachePath = denortCachePath(cacheDir, version, target);
      const useBin = denortBin?.target === target;
      const runtime: RuntimeSource = useBin
        ? "DENORT_BIN"
        : await exists(cachePath)
        ? "cache"
        : options.offline
        ? "none"
        : "download";
      if (runtime === "none") {
        const error = `no Deno runtime for ${target}: ${cachePath} is missing` +
          (denortBin ? ` and DENORT_BIN is for ${denortBin.target}` : " and DENORT_BIN is unset") +
          ` (offline, so no download from ${denortUrl(version, target)})`;
        results.push({ target, ok: false, runtime, error });
        log(`FAIL ${target}`);
        continue;
      }
      log(`Compiling ${relative(repo, output) || output} (runtime from ${runtime})`);
      const run = await command(
        deno,
        [
          "compile",
          `--permission-set=${PERMISSION_SET}`,
          V8_FLAGS_OPTION,
          "--no-check",
          "--exclude-unused-npm",
          // The decode worker is loaded with `new Worker(url)`, which deno compile does not follow.
          ...WORKER_MODULES.flatMap((m) => ["--include", m]),
          ...lockFlags,
          "--target",
          target,
          "--output",
          output,
          "main.ts",
        ],
        useBin
          ? { cwd: stage, env: { DENORT_BIN: denortBin!.path } }
          : { cwd: stage, clearEnv: ["DENORT_BIN"] },
      );
      if (run.code === 0 && await exists(output)) {
        results.push({ target, ok: true, path: output, runtime });
        log(`ok   ${target}: ${output}`);
      } else {
        await Deno.remove(output).catch(() => {});
        const error = explainFailure(run.stderr + "\n" + run.stdout, target, cachePath);
        results.push({ target, ok: false, runtime, error });
        log(`FAIL ${target}`);
      }
    }
    const checksums = await writeChecksums(outDir);
    return { commit, results, checksums };
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
}

/** The options of `deno task compile` (the release workflow may pass only these). */
export const COMPILE_OPTIONS = {
  target: { type: "string", multiple: true },
  "out-dir": { type: "string" },
  offline: { type: "boolean", default: false },
} as const;

/** Runs the command line; returns the exit code (0 all built, 1 a target failed, 2 usage). */
export async function cli(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: COMPILE_OPTIONS, strict: true }));
  } catch (e) {
    console.error(
      `${(e as Error).message}\nUsage: deno task compile ` +
        `[--target TARGET|native]... [--out-dir DIR] [--offline]`,
    );
    return 2;
  }
  const targets: Target[] = [];
  for (const t of values.target ?? []) {
    const target = t === "native" ? Deno.build.target : t;
    if (!isTarget(target)) {
      console.error(
        `Unknown target ${JSON.stringify(t)}: use native or one of ${TARGETS.join(", ")}`,
      );
      return 2;
    }
    targets.push(target);
  }
  try {
    const report = await compile({
      targets: targets.length > 0 ? targets : undefined,
      outDir: values["out-dir"],
      offline: values.offline,
    });
    const failed = report.results.filter((r) => !r.ok);
    console.error(
      `\nseclake ${report.commit}: ${report.results.length - failed.length} built, ` +
        `${failed.length} failed`,
    );
    for (const r of report.results) {
      console.error(r.ok ? `  ok    ${basename(r.path!)}` : `  FAIL  ${r.target}: ${r.error}`);
    }
    if (report.checksums.length > 0) console.error(`SHA256SUMS:\n${report.checksums.join("\n")}`);
    return failed.length === 0 ? 0 : 1;
  } catch (e) {
    console.error((e as Error).message);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await cli(Deno.args));
