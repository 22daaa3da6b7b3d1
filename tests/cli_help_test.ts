/**
 * Every command answers `--help` and `-h` with its own usage on standard output and exit 0, and
 * every command reports a mistake on its line in one style: `SetupError 90`, what was wrong, then
 * the command's usage line, exit 2, never the argument parser's own wording.
 */
import assert from "node:assert/strict";
import { COMMAND_HELP } from "../src/cli/usage.ts";
import type { CommandName } from "../src/cli/usage.ts";
import { runCollectorProcess } from "./helpers/collector.ts";

const COMMANDS = Object.keys(COMMAND_HELP) as CommandName[];

Deno.test("every command lists itself in the command table", () => {
  assert.deepEqual([...COMMANDS].sort(), ["backfill", "check", "decode", "help", "run", "version"]);
});

for (const command of COMMANDS) {
  Deno.test(`seclake ${command} --help and -h print its usage, exit 0`, async () => {
    for (const flag of ["--help", "-h"]) {
      const run = await runCollectorProcess([command, flag]);
      assert.equal(run.code, 0, `${command} ${flag}: ${run.stderr}`);
      assert.equal(run.stderr, "", `${command} ${flag} wrote to standard error`);
      assert.ok(
        run.stdout.startsWith(`Usage: ${COMMAND_HELP[command].usage}\n`),
        `${command} ${flag} printed:\n${run.stdout}`,
      );
      assert.ok(run.stdout.includes(COMMAND_HELP[command].text.trim().split("\n")[0]!));
    }
  });

  Deno.test(`seclake ${command} with an unknown option: the usage line, exit 2`, async () => {
    const run = await runCollectorProcess([command, "--no-such-option"]);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, "");
    assert.equal(
      run.stderr.trim(),
      `SetupError 90: seclake ${command} has no option --no-such-option; usage: ${
        COMMAND_HELP[command].usage
      }`,
    );
  });
}

Deno.test("--help after -- is an argument, not a request for help", async () => {
  const run = await runCollectorProcess(["check", "--", "--help"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /^SetupError 90: seclake check takes no argument "--help"; usage: /);
});

Deno.test("an option without its value, and a value for a flag, in the same style", async () => {
  const missing = await runCollectorProcess(["run", "--config"]);
  assert.equal(missing.code, 2);
  assert.equal(
    missing.stderr.trim(),
    `SetupError 90: --config needs a value; usage: ${COMMAND_HELP.run.usage}`,
  );
  const flag = await runCollectorProcess(["check", "--json=yes", "--config", "x.yaml"]);
  assert.equal(flag.code, 2);
  assert.equal(
    flag.stderr.trim(),
    `SetupError 90: --json takes no value; usage: ${COMMAND_HELP.check.usage}`,
  );
});

Deno.test("seclake help COMMAND prints that command's help, exit 0", async () => {
  const run = await runCollectorProcess(["help", "backfill"]);
  assert.equal(run.code, 0, run.stderr);
  assert.ok(run.stdout.startsWith(`Usage: ${COMMAND_HELP.backfill.usage}\n`), run.stdout);
  const all = await runCollectorProcess(["help"]);
  assert.equal(all.code, 0, all.stderr);
  for (const command of COMMANDS) {
    assert.ok(all.stdout.includes(COMMAND_HELP[command].usage), command);
  }
});
