/**
 * The log lines of a run say what happened, in order: statistics lines of overlapping pull
 * cycles in the order the cycles started, a cycle with a failed message not ending "Data
 * collection completed", counts of 1 in the singular, and output retries naming their output.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCollectorProcess, writeLakeConfig } from "./helpers/collector.ts";
import { writeDemoLake } from "./lib/ocsf_fixtures.ts";

Deno.test("a run whose output refuses every connection: true, ordered, tidy log lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-log-lines-" });
  try {
    await writeDemoLake(join(dir, "lake"));
    const config = await writeLakeConfig(
      dir,
      `  relay_1:
    type: relay
    config: { address: 127.0.0.1, port: 1, retries: 2 }`,
    );
    const run = await runCollectorProcess(["run", "--config", config]);
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stderr.split("\n");

    const stats = lines.filter((l) => l.includes("Statistics for this pull cycle"));
    const ids = stats.map((l) => Number(/@devo_pulling_id=(\d+)/.exec(l)![1]));
    assert.ok(ids.length >= 3, run.stderr);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      `in the order the cycles started:\n${stats.join("\n")}`,
    );
    // Every cycle with a message received read objects that could not be delivered.
    const withObjects = stats.filter((l) => !/Number of objects read: 0;/.test(l));
    assert.ok(withObjects.length > 0);
    for (const l of withObjects) {
      assert.match(l, /Data collection failed for \d+ messages?\. Elapsed time/, l);
    }
    assert.ok(!run.stderr.includes("Data collection failed for 1 messages"));

    assert.doesNotMatch(run.stderr, /\b1 (messages|objects|events)\b/);
    assert.match(run.stderr, /Pull started \(@devo_pulling_id=\d+\): 1 message$/m);

    const retries = lines.filter((l) => l.includes("[output]") && l.includes("retrying"));
    assert.ok(retries.length > 0, run.stderr);
    for (const l of retries) {
      assert.match(
        l,
        /WARNING \[output\] Output relay_1: DeliveryError 500: .* \(attempt 1 of 2\); retrying$/,
      );
    }
    assert.doesNotMatch(run.stderr, /attempt 2 of 2/, "the last attempt is no retry");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
