/**
 * `deno task demo`: runs the main job with no AWS and no Devo. Writes a small OCSF lake (several
 * classes, GZIP and ZSTD, nested columns, a few thousand events) into a temporary folder, runs the
 * collector over it with a `directory` input and the console output, then cleans up.
 * @module
 */
import { join } from "node:path";
import { main } from "../src/cli/main.ts";
import { writeDemoLake } from "../tests/lib/ocsf_fixtures.ts";

/** Runs the demo; returns the collector's exit code. */
export async function demo(): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "seclake-demo-" });
  try {
    const lake = await writeDemoLake(join(dir, "lake"));
    console.error(
      `Demo lake: ${lake.files.length} files, ${lake.totalRows} events, in ${join(dir, "lake")}`,
    );
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(
      config,
      [
        "globals:",
        "  name: seclake-demo",
        "  persistence: { type: filesystem, directory_name: ./state }",
        "outputs:",
        "  console_1: { type: console }",
        "inputs:",
        "  demo_lake:",
        "    type: directory",
        "    directory: ./lake",
        "",
      ].join("\n"),
    );
    return await main(["run", "--config", config]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  Deno.exit(await demo());
}
