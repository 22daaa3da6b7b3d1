/**
 * Obfuscation patterns run on values from outside, so none may take more than linear time: they
 * run in V8's linear-time engine, which every launcher enables (the V8 flag is in
 * `scripts/compile.ts` V8_FLAGS and the deno.json tasks); patterns that engine cannot run are
 * refused when the configuration is loaded, and so is every pattern in a process started
 * without the flag.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { validateConfig } from "../src/config/load.ts";
import { Obfuscator } from "../src/transform/obfuscate.ts";
import { V8_FLAGS } from "../scripts/compile.ts";
import { REPO } from "./helpers/collector.ts";
import { obfuscationConfig } from "./helpers/obfuscation_config.ts";

/** The email pattern docs/obfuscation.md shows. */
const EMAIL = "[\\w.+-]+@[\\w-]+\\.[\\w.]+";
const FLAG = "--enable-experimental-regexp-engine";

function config(pattern: string): string {
  return obfuscationConfig(`- { string_patterns: ['${pattern}'], method: mask }`);
}

Deno.test("the documented email pattern masks a 100 KB hostile value completely and at once", async () => {
  const rules = validateConfig(config(EMAIL)).config!.inputs[0]!.services.events.obfuscation;
  const obfuscator = new Obfuscator(rules);
  // 100,000 letters without an @: a backtracking engine retries from every position (13 s).
  const letters = "a".repeat(100_000);
  // The same with one address in the middle, and one made of 50,000-letter parts.
  const long = "b".repeat(50_000);
  const mixed = `${"x".repeat(50_000)} bob@example.com ${"y".repeat(50_000)}`;
  const event = {
    unmapped: { letters, mixed, huge: `${long}@${long}.com` },
  };
  const t0 = performance.now();
  obfuscator.apply(event);
  const ms = performance.now() - t0;
  assert.equal(event.unmapped.letters, letters, "no address, nothing changed");
  assert.equal(
    event.unmapped.mixed,
    `${"x".repeat(50_000)} ****SANITIZED**** ${"y".repeat(50_000)}`,
  );
  assert.equal(event.unmapped.huge, "****SANITIZED****");
  assert.deepEqual(obfuscator.stats, { fieldsObfuscated: 2, eventsTouched: 1 });
  // A guard only, far above the linear engine's milliseconds and far below backtracking's
  // seconds; the assertions above are the test.
  assert.ok(ms < 3000, `${ms.toFixed(0)} ms`);
  await Promise.resolve();
});

Deno.test("patterns the linear-time engine cannot run are refused at configuration time (SetupError 43), saying why", () => {
  const cases: [string, RegExp][] = [
    ["(\\w+)@\\1", /a backreference/],
    ["(?<=user=)\\w+", /a lookahead or lookbehind/],
    ["\\w+(?=@corp)", /a lookahead or lookbehind/],
    ["[0-9a-f]{32}", /a counted repetition above 16 \(write \[0-9a-f\]\{32\} as/],
  ];
  for (const [pattern, why] of cases) {
    const result = validateConfig(config(pattern.replace(/'/g, "''")));
    assert.equal(result.errors.length, 1, pattern);
    const e = result.errors[0]!;
    assert.equal(e.family, "SetupError");
    assert.equal(e.id, 43, `${pattern}: ${e.message}`);
    assert.equal(e.code, "CONFIG_REGEX_NOT_LINEAR");
    assert.match(e.message, /string_patterns\[0\] is refused: it uses /);
    assert.match(e.message, why);
    assert.match(e.message, /cannot run in linear time/);
  }
  // The documented examples pass.
  for (const ok of [EMAIL, "\\b\\d{3}-\\d{2}-\\d{4}\\b", "\\b\\d{1,3}(\\.\\d{1,3}){3}\\b"]) {
    assert.deepEqual(validateConfig(config(ok)).errors.map((e) => e.message), [], ok);
  }
});

Deno.test("every launcher passes the linear-time engine's V8 flag; without it, patterns are refused (SetupError 44, exit 78)", async () => {
  assert.ok(V8_FLAGS.includes(FLAG), "compiled into the binary and given to the tests' helpers");
  const deno = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  for (const task of ["run", "demo", "test"]) {
    assert.match(deno.tasks[task], new RegExp(`--v8-flags=\\S*${FLAG}`), task);
  }
  const install = await Deno.readTextFile(join(REPO, "docs/install.md"));
  for (const line of install.split("\n").filter((l) => /deno run .*seclake\.js run/.test(l))) {
    assert.match(line, new RegExp(FLAG), line);
  }
  // `deno run main.ts` by hand, without the flag: the configuration is refused.
  const dir = await Deno.makeTempDir({ prefix: "seclake-patterns-" });
  try {
    const path = join(dir, "config.yaml");
    await Deno.writeTextFile(path, config(EMAIL));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=seclake", "--quiet", "main.ts", "run", "--config", path],
      cwd: REPO,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 78, stderr);
    assert.match(
      stderr,
      /SetupError 44: .*string_patterns\[0\] needs linear-time regular expressions, and this process was started without V8's linear-time regular expression engine: start seclake with --v8-flags=--enable-experimental-regexp-engine/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
