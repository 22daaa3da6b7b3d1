/**
 * Live-path selection and tagging: `include_sources`, `accounts` and `devo_tag_map` applied to a
 * lake-shaped folder, through the collector process.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeDemoLake } from "./lib/ocsf_fixtures.ts";
import { runCollectorProcess } from "./helpers/collector.ts";
import { parseDevoLine } from "./helpers/devo_line.ts";
import { partitionOf } from "../src/source/partition.ts";

Deno.test("include_sources filters objects and devo_tag_map picks each source's tag", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-select-" });
  try {
    const lake = await writeDemoLake(join(dir, "lake"));
    const sources = new Set(lake.files.map((f) => partitionOf(f.key).source!));
    assert.ok(sources.size >= 2, "the demo lake has several sources");
    const [kept, tagged] = [...sources];
    const expected = lake.files.filter((f) =>
      partitionOf(f.key).source === kept ||
      partitionOf(f.key).source === tagged
    );
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(
      config,
      `globals:
  persistence: { directory_name: ./state }
outputs:
  console_1: { type: console }
inputs:
  lake:
    type: directory
    directory: ./lake
    services:
      events:
        include_sources: [${kept}, ${tagged}]
        devo_tag_map: { ${tagged}: my.app.tagged.events, default: my.app.default.events }
`,
    );
    const run = await runCollectorProcess(["run", "--config", config]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split("\n").filter((l) => l);
    assert.equal(lines.length, expected.reduce((t, f) => t + f.rows, 0));
    const tags = new Map<string, number>();
    for (const l of lines) {
      const { tag } = parseDevoLine(l);
      tags.set(tag, (tags.get(tag) ?? 0) + 1);
    }
    const rowsOf = (s: string) =>
      lake.files.filter((f) => partitionOf(f.key).source === s).reduce((t, f) => t + f.rows, 0);
    assert.deepEqual(
      Object.fromEntries(tags),
      { "my.app.tagged.events": rowsOf(tagged!), "my.app.default.events": rowsOf(kept!) },
    );
    assert.match(run.stderr, /source_excluded/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
