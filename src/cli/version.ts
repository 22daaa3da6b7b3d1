/**
 * The collector's version (from `deno.json`), the commit it was built from (stamped at build
 * time, or read from the checkout's `.git` when run from source), the Deno version and the
 * target it runs on.
 * @module
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import meta from "../../deno.json" with { type: "json" };
import { BUILD_INFO } from "./build_info.ts";
import type { BuildInfo } from "./build_info.ts";

/** The version of this build. */
export const VERSION: string = meta.version;

/** What `seclake version` prints. */
export interface VersionInfo {
  /** The collector's version, e.g. `0.1.0`. */
  readonly version: string;
  /** Git commit it was built from, `unknown` when not known. */
  readonly commit: string;
  /** How it was built: `compile`, `bundle` or `source`. */
  readonly build: BuildInfo["kind"];
  /** Version of the Deno runtime running it (`Deno.version.deno`). */
  readonly deno: string;
  /** Target triple of that runtime (`Deno.build.target`). */
  readonly target: string;
}

/**
 * Collects the version facts. A stamped build reports its stamped commit; a source checkout
 * (`deno run main.ts`) reads `HEAD` from the repository's `.git` (files only, no `git` process)
 * and reports `unknown` when that is not possible. `build` overrides the stamped facts (tests).
 */
export async function versionInfo(options: { build?: BuildInfo } = {}): Promise<VersionInfo> {
  const build = options.build ?? BUILD_INFO;
  let commit = build.commit;
  if (commit === "" && build.kind === "source" && import.meta.url.startsWith("file:")) {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    commit = (await readGitHead(root).catch(() => undefined)) ?? "";
  }
  return {
    version: VERSION,
    commit: commit === "" ? "unknown" : commit,
    build: build.kind,
    deno: Deno.version.deno,
    target: Deno.build.target,
  };
}

/** The text `seclake version` prints: `seclake VERSION` then one `key: value` line per fact. */
export function formatVersion(info: VersionInfo): string {
  return [
    `seclake ${info.version}`,
    `commit: ${info.commit}`,
    `build: ${info.build}`,
    `deno: ${info.deno}`,
    `target: ${info.target}`,
  ].join("\n");
}

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * Returns the commit `HEAD` points at in the Git repository whose work tree is `root`, reading
 * `.git` (a folder, or a file `gitdir: PATH` for worktrees), loose refs and `packed-refs`.
 * Resolves `undefined` when there is no repository or the ref is not found.
 */
export async function readGitHead(root: string): Promise<string | undefined> {
  let gitDir = join(root, ".git");
  const stat = await Deno.stat(gitDir).catch(() => undefined);
  if (stat === undefined) return undefined;
  if (stat.isFile) {
    const pointer = /^gitdir:\s*(.+)$/m.exec(await Deno.readTextFile(gitDir))?.[1];
    if (pointer === undefined) return undefined;
    gitDir = resolve(root, pointer.trim());
  }
  const head = (await Deno.readTextFile(join(gitDir, "HEAD"))).trim();
  if (SHA.test(head)) return head;
  const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
  if (ref === undefined) return undefined;
  const commonFile = await Deno.readTextFile(join(gitDir, "commondir")).catch(() => undefined);
  const common = commonFile === undefined ? gitDir : resolve(gitDir, commonFile.trim());
  for (const dir of new Set([gitDir, common])) {
    const loose = await Deno.readTextFile(join(dir, ref)).catch(() => undefined);
    if (loose !== undefined && SHA.test(loose.trim())) return loose.trim();
  }
  const packed = await Deno.readTextFile(join(common, "packed-refs")).catch(() => "");
  for (const line of packed.split("\n")) {
    const [sha, name] = line.trim().split(" ");
    if (name === ref && sha !== undefined && SHA.test(sha)) return sha;
  }
  return undefined;
}
