/**
 * Runs the collector as the binary would run: `main.ts` in a subprocess under the permission
 * set declared in `deno.json` (`-P=seclake`), never with `--allow-all`.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { V8_FLAGS_OPTION } from "../../scripts/compile.ts";

/** The repository root. */
export const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** What a collector process did. */
export interface CollectorRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main.ts ARGS` with the binary's permission set and waits for it to exit. */
export async function runCollectorProcess(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CollectorRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=seclake", V8_FLAGS_OPTION, "--quiet", "main.ts", ...args],
    cwd: REPO,
    env: { NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, options.timeoutMs ?? 120_000);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Writes `dir/config.yaml` for a run over the `directory` input at `dir/lake`, its state in
 * `dir/state`, to `outputs` (the YAML under `outputs:`, each line indented two spaces); returns
 * its path.
 */
export async function writeLakeConfig(dir: string, outputs: string): Promise<string> {
  const config = join(dir, "config.yaml");
  await Deno.writeTextFile(
    config,
    `globals:
  persistence: { directory_name: ${join(dir, "state")} }
outputs:
${outputs}
inputs:
  lake:
    type: directory
    directory: ${join(dir, "lake")}
`,
  );
  return config;
}
