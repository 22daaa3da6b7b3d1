/**
 * `deno task bundle`: writes `dist/seclake.js`, the whole collector with every npm package in
 * one JavaScript file that runs with any Deno 2.9 and no package cache, network or
 * configuration file: the fallback for hosts where the compiled binaries cannot be used.
 *
 * Run it with the permission set of `deno.json` spelled out as flags ({@link permissionFlags}),
 * e.g. `deno run --no-remote --no-npm --no-config --no-lock --allow-read ... seclake.js run
 * --config FILE`. Like `deno task compile` it builds from a stamped staging copy (commit, build
 * kind `bundle`) and refreshes `dist/SHA256SUMS`.
 *
 * Usage: `deno task bundle [--out-dir DIR]`.
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  BUNDLE_FILE,
  gitCommit,
  PERMISSION_SET,
  REPO,
  stageSources,
  V8_FLAGS_OPTION,
  writeChecksums,
} from "./compile.ts";

/** One permission of a `deno.json` permission set: on, off, a list, or allow/deny lists. */
export type PermissionValue =
  | boolean
  | string[]
  | { allow?: boolean | string[]; deny?: boolean | string[]; ignore?: boolean | string[] };

/** The permission kinds `deno.json` permission sets may name, in flag order. */
const KINDS = ["read", "write", "net", "env", "sys", "run", "ffi", "import"] as const;

/** The options of `deno task bundle` (the release workflow may pass only these). */
export const BUNDLE_OPTIONS = { "out-dir": { type: "string" } } as const;

/** Reads permission set `name` (default `seclake`) from `repo`'s `deno.json`. */
export async function readPermissionSet(
  name: string = PERMISSION_SET,
  repo: string = REPO,
): Promise<Record<string, PermissionValue>> {
  const config = JSON.parse(await Deno.readTextFile(join(repo, "deno.json"))) as {
    permissions?: Record<string, Record<string, PermissionValue>>;
  };
  const set = config.permissions?.[name];
  if (set === undefined) throw new Error(`deno.json has no permission set ${JSON.stringify(name)}`);
  return set;
}

function flag(prefix: string, kind: string, value: boolean | string[] | undefined): string[] {
  if (value === undefined || value === false) return [];
  if (value === true) return [`--${prefix}-${kind}`];
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
    return value.length === 0 ? [] : [`--${prefix}-${kind}=${value.join(",")}`];
  }
  throw new TypeError(`Permission ${kind} has an unsupported value ${JSON.stringify(value)}`);
}

/**
 * Turns a `deno.json` permission set into the equivalent `deno run` flags, e.g.
 * `{ read: true, sys: ["hostname"] }` → `["--allow-read", "--allow-sys=hostname"]`, so a host
 * without the configuration file runs the bundle with exactly the binary's permissions.
 * Rejects `all` and kinds or values it does not know with a `TypeError`.
 */
export function permissionFlags(set: Record<string, PermissionValue>): string[] {
  for (const key of Object.keys(set)) {
    if (!(KINDS as readonly string[]).includes(key)) {
      throw new TypeError(`Permission ${JSON.stringify(key)} is not supported here`);
    }
  }
  const flags: string[] = [];
  for (const kind of KINDS) {
    const value = set[kind];
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      flags.push(...flag("allow", kind, value.allow));
      flags.push(...flag("deny", kind, value.deny));
      flags.push(...flag("ignore", kind, value.ignore));
    } else {
      flags.push(...flag("allow", kind, value));
    }
  }
  return flags;
}

/** Flags that make `deno run` use nothing but the bundle and the runtime itself. */
export const OFFLINE_RUN_FLAGS: readonly string[] = [
  "--no-remote",
  "--no-npm",
  "--no-config",
  "--no-lock",
];

/**
 * The modules `file` loads at run time that are not `node:` built-ins, as Deno's own module
 * analysis (`deno info --json`) sees them; type-only references (JSDoc `import()` types left in
 * comments) do not count. An empty list means the file runs on the Deno runtime alone.
 */
export async function runtimeImports(file: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", ...OFFLINE_RUN_FLAGS, file],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno info ${file} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; dependencies?: { specifier: string; code?: unknown }[] }[];
  };
  const found = new Set<string>();
  for (const module of info.modules) {
    for (const dep of module.dependencies ?? []) {
      if (dep.code !== undefined && !dep.specifier.startsWith("node:")) found.add(dep.specifier);
    }
  }
  return [...found].sort();
}

/** Options for {@link bundle}. */
export interface BundleOptions {
  /** Where `seclake.js` and `SHA256SUMS` go; default `dist/` in the repository. */
  outDir?: string;
  /** The repository to build; default this one. */
  repo?: string;
}

/**
 * Bundles `main.ts` from a stamped staging copy with `deno bundle --platform deno` into
 * `outDir/seclake.js`, checks the result imports nothing but `node:` built-ins, and refreshes
 * `SHA256SUMS`. Returns the path written; throws with Deno's message when bundling fails.
 */
export async function bundle(options: BundleOptions = {}): Promise<string> {
  const repo = options.repo ?? REPO;
  const outDir = options.outDir ?? join(repo, "dist");
  const output = join(outDir, BUNDLE_FILE);
  const commit = await gitCommit(repo);
  const stage = await stageSources({ commit, kind: "bundle" }, repo);
  try {
    await Deno.mkdir(outDir, { recursive: true });
    await Deno.remove(output).catch(() => {});
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--platform",
        "deno",
        "--frozen-lockfile",
        "--check",
        "--output",
        output,
        "main.ts",
      ],
      cwd: stage,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    if (!out.success) {
      throw new Error(
        `deno bundle failed with code ${out.code}:\n${dec.decode(out.stderr)}${
          dec.decode(out.stdout)
        }`.trim(),
      );
    }
    const foreign = await runtimeImports(output);
    if (foreign.length > 0) {
      await Deno.remove(output).catch(() => {});
      throw new Error(`The bundle is not self-contained; it imports ${foreign.join(", ")}`);
    }
    await writeChecksums(outDir);
    return output;
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
}

/** Runs the command line; returns the exit code (0 written, 1 failed, 2 usage). */
export async function cli(args: string[]): Promise<number> {
  let outDir: string | undefined;
  try {
    outDir = parseArgs({ args, options: BUNDLE_OPTIONS, strict: true })
      .values["out-dir"];
  } catch (e) {
    console.error(`${(e as Error).message}\nUsage: deno task bundle [--out-dir DIR]`);
    return 2;
  }
  try {
    const path = await bundle({ outDir });
    const flags = permissionFlags(await readPermissionSet());
    const size = (await Deno.stat(path)).size;
    console.error(
      `Wrote ${path} (${(size / 1024 / 1024).toFixed(1)} MiB). Run it with:\n` +
        `  deno run ${
          [...OFFLINE_RUN_FLAGS, ...flags, V8_FLAGS_OPTION].join(" ")
        } ${path} run --config FILE`,
    );
    return 0;
  } catch (e) {
    console.error((e as Error).message);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await cli(Deno.args));
