/**
 * The GitHub Actions workflows (.github/workflows): they cannot run here, so they are checked
 * instead. Each passes the workflow validator `@action-validator/cli` (run under Node from
 * `tests/workflows/`, installed there from its lock file on first use), and the release workflow
 * builds exactly the targets `scripts/compile.ts` defines, with the tasks of `deno.json`, options
 * the build scripts accept, the Deno version CI installs, and both image platforms.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { BUNDLE_FILE, CHECKSUMS_FILE, COMPILE_OPTIONS, TARGETS } from "../scripts/compile.ts";
import { BUNDLE_OPTIONS } from "../scripts/bundle.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const TOOL_DIR = join(REPO, "tests", "workflows");
const VALIDATOR = join(TOOL_DIR, "node_modules", "@action-validator", "cli", "cli.mjs");
const WORKFLOWS = join(REPO, ".github", "workflows");
const dec = new TextDecoder();

/** Installs the validator from `tests/workflows/package-lock.json` unless it is there. */
async function ensureValidator(): Promise<void> {
  if (await Deno.stat(VALIDATOR).then(() => true, () => false)) return;
  const out = await new Deno.Command("npm", {
    args: ["ci", "--no-audit", "--no-fund", "--ignore-scripts"],
    cwd: TOOL_DIR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, `npm ci in tests/workflows failed: ${dec.decode(out.stderr)}`);
}

async function validate(path: string): Promise<{ code: number; output: string }> {
  await ensureValidator();
  const out = await new Deno.Command("node", {
    args: [VALIDATOR, path],
    env: { NO_COLOR: "1", FORCE_COLOR: "0" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  steps?: Step[];
  uses?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
}

async function workflow(name: string): Promise<Workflow> {
  return parse(await Deno.readTextFile(join(WORKFLOWS, name))) as Workflow;
}

/** Every `run` line of `job` that runs `deno task TASK`, as its argument list after the task. */
function taskRuns(job: Job, task: string): string[][] {
  return (job.steps ?? []).flatMap((s) =>
    (s.run ?? "").split("\n").map((l) => l.trim().split(/\s+/)).filter((w) =>
      w[0] === "deno" && w[1] === "task" && w[2] === task
    ).map((w) => w.slice(3))
  );
}

/** The option names in `args` (`--name` or `--name=value`). */
function optionNames(args: string[]): string[] {
  return args.filter((a) => a.startsWith("--")).map((a) => a.slice(2).split("=")[0]!);
}

Deno.test("every workflow passes the workflow validator", async () => {
  const names = [...Deno.readDirSync(WORKFLOWS)].map((e) => e.name).sort();
  assert.deepEqual(names, ["ci.yml", "release.yml"]);
  for (const name of names) {
    const run = await validate(join(WORKFLOWS, name));
    assert.equal(run.code, 0, `${name}:\n${run.output}`);
  }
});

Deno.test("the validator refuses a broken workflow", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const broken = join(dir, "broken.yml");
    await Deno.writeTextFile(
      broken,
      (await Deno.readTextFile(join(WORKFLOWS, "ci.yml"))).replace("runs-on:", "run-on:"),
    );
    const run = await validate(broken);
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /runs-on|run-on/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ci runs .ci/run on every pull request", async () => {
  const ci = await workflow("ci.yml");
  assert.ok("pull_request" in ci.on);
  const runs = Object.values(ci.jobs).flatMap((j) => j.steps ?? []).map((s) => s.run ?? "");
  assert.ok(runs.some((r) => r.trim() === "bash .ci/run"), runs.join("\n"));
});

Deno.test("release builds the targets of scripts/compile.ts with deno.json's tasks", async () => {
  const release = await workflow("release.yml");
  const tags = (release.on.push as { tags?: string[] }).tags;
  assert.deepEqual(tags, ["v*"]);
  const tasks = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json"))).tasks;
  const jobs = Object.values(release.jobs);

  const compiles = jobs.flatMap((j) => taskRuns(j, "compile"));
  assert.equal(compiles.length, 1, "one deno task compile");
  assert.ok(tasks.compile, "deno.json defines the compile task");
  const args = compiles[0]!;
  const targets = args.flatMap((a, i) => a === "--target" ? [args[i + 1]!] : []);
  assert.deepEqual(targets, [...TARGETS]);
  for (const o of optionNames(args)) assert.ok(o in COMPILE_OPTIONS, `compile has no --${o}`);

  const bundles = jobs.flatMap((j) => taskRuns(j, "bundle"));
  assert.equal(bundles.length, 1, "one deno task bundle");
  assert.ok(tasks.bundle, "deno.json defines the bundle task");
  for (const o of optionNames(bundles[0]!)) assert.ok(o in BUNDLE_OPTIONS, `bundle has no --${o}`);

  const text = await Deno.readTextFile(join(WORKFLOWS, "release.yml"));
  assert.ok(text.includes(`dist/${CHECKSUMS_FILE}`), "the checksums are attached");
  assert.ok(text.includes(`dist/${BUNDLE_FILE}`), "the bundle is attached");
  assert.ok(text.includes("deno task compile") && text.includes("--out-dir dist"));

  // Checks run first; everything built waits for them.
  const builders = Object.entries(release.jobs).filter(([name]) => name !== "checks");
  for (const [name, job] of builders) {
    const needs = [job.needs ?? []].flat();
    assert.ok(
      needs.includes("checks") ||
        needs.some((n) => [release.jobs[n]?.needs].flat().includes("checks")),
      `${name} runs after the checks`,
    );
  }
  const checks = release.jobs.checks!.steps!.map((s) => s.run ?? "");
  assert.ok(checks.some((r) => r.trim() === "bash .ci/run"));
});

Deno.test("release: provenance of the checksums, image for amd64 and arm64", async () => {
  const release = await workflow("release.yml");
  const provenance = Object.values(release.jobs).find((j) =>
    j.uses?.startsWith("slsa-framework/slsa-github-generator/")
  );
  assert.ok(provenance, "a job makes the build provenance");
  assert.equal(provenance.with?.["upload-assets"], true);

  const steps = Object.values(release.jobs).flatMap((j) => j.steps ?? []);
  const build = steps.find((s) => s.uses?.startsWith("docker/build-push-action@"));
  assert.ok(build, "a step builds the image");
  assert.deepEqual(String(build.with?.platforms).split(","), ["linux/amd64", "linux/arm64"]);
  assert.equal(build.with?.push, true);
  const file = String(build.with?.file);
  await Deno.stat(join(REPO, file)); // the image is built from the repository's own file
});

Deno.test("workflows install the Deno version CI and the container use", async () => {
  const ciRun = await Deno.readTextFile(join(REPO, ".ci", "run"));
  const version = /installing Deno (\d+\.\d+\.\d+)/.exec(ciRun)?.[1];
  assert.ok(version);
  const docker = await Deno.readTextFile(join(REPO, "Dockerfile"));
  assert.match(docker, new RegExp(`ARG DENO_VERSION=${version.replaceAll(".", "\\.")}\\n`));
  for (const name of ["ci.yml", "release.yml"]) {
    const steps = Object.values((await workflow(name)).jobs).flatMap((j) => j.steps ?? []);
    const setups = steps.filter((s) => s.uses?.startsWith("denoland/setup-deno@"));
    assert.ok(setups.length > 0, name);
    for (const s of setups) assert.equal(String(s.with?.["deno-version"]), version, name);
  }
});
