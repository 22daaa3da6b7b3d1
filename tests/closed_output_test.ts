/**
 * The console output whose reader goes away (`seclake run ... | head -1`): the collector says so
 * in one line and stops as on SIGTERM, instead of failing every object with a broken pipe.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { V8_FLAGS_OPTION } from "../scripts/compile.ts";
import { REPO, writeLakeConfig } from "./helpers/collector.ts";
import { writeDemoLake } from "./lib/ocsf_fixtures.ts";

Deno.test("a closed standard output stops the run with one line, no error per object", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-closed-stdout-" });
  try {
    await writeDemoLake(join(dir, "lake"));
    const config = await writeLakeConfig(dir, "  console_1:\n    type: console");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=seclake", V8_FLAGS_OPTION, "--quiet", "main.ts", "run", "-c", config],
      cwd: REPO,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    // Read the first line, as `head -1` does, then go away.
    const reader = child.stdout.getReader();
    let first = "";
    while (!first.includes("\n")) {
      const { value, done } = await reader.read();
      assert.ok(!done, "the collector wrote a line");
      first += new TextDecoder().decode(value);
    }
    await reader.cancel();
    const status = await child.status;
    const log = await stderr;

    assert.match(first, /^<\d+>/, "a Devo line came first");
    const closed = log.split("\n").filter((l) => /standard output was closed/.test(l));
    assert.equal(closed.length, 1, log);
    assert.match(closed[0]!, /WARNING \[output\] Output console_1: standard output was closed/);
    assert.doesNotMatch(log, /DataError|Broken pipe|BrokenPipe|ERROR/, log);
    assert.match(log, /Run finished/);
    assert.equal(status.signal, null, "not killed by SIGPIPE");
    assert.ok(status.code === 0 || status.code === 1, `exit ${status.code}`);

    // What was not delivered is not marked done: a second run, read to the end, delivers it.
    const again = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=seclake", V8_FLAGS_OPTION, "--quiet", "main.ts", "run", "-c", config],
      cwd: REPO,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const lines = new TextDecoder().decode(again.stdout).split("\n").filter((l) => l !== "");
    assert.equal(again.code, 0, new TextDecoder().decode(again.stderr));
    assert.ok(lines.length > 0, "the second run delivered what the first could not");
    assert.match(new TextDecoder().decode(again.stderr), /Run finished: .* 0 failed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
