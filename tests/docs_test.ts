/**
 * The reference documents are generated from the tables in code and must be up to date, and the
 * generated example configuration must load.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { GENERATED, generateDocs, ROOT } from "../scripts/gen_docs.ts";
import { parseConfig } from "../src/config/load.ts";
import { catalogueEntries } from "../src/errors.ts";

Deno.test("docs/configuration.md, docs/errors.md and config.example.yaml are up to date", async () => {
  for (const [path, text] of Object.entries(await generateDocs())) {
    const current = await Deno.readTextFile(join(ROOT, path)).catch(() => "(missing)");
    assert.ok(current === text, `${path} is stale: run deno task docs`);
  }
});

Deno.test("docs/errors.md has a heading for every catalogue entry", async () => {
  const text = await Deno.readTextFile(join(ROOT, GENERATED.errors));
  for (const e of catalogueEntries()) {
    assert.ok(text.includes(`### ${e.family} ${e.id}: ${e.message}`), `${e.code} missing`);
  }
});

Deno.test("config.example.yaml loads and lists the settings of the schema", async () => {
  const text = await Deno.readTextFile(join(ROOT, GENERATED.example));
  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
    AWS_SECRET_ACCESS_KEY: "example-secret",
  };
  const config = parseConfig(text, {
    env: (n) => env[n],
    baseDir: "/srv/seclake",
    checkFiles: false,
  });
  assert.equal(config.outputs[0]!.type, "devo_platform");
  assert.equal(config.outputs[0]!.chain, "/srv/seclake/certs/chain.crt");
  assert.equal(config.inputs[0]!.queue_name, "AmazonSecurityLake-00000000-0000-Main-Queue");
  assert.equal(config.globals.max_in_flight_bytes, 256 * 1024 * 1024);
  for (
    const key of ["historical_poll_datetime", "reset_persistence_auth", "obfuscation", "role_arn"]
  ) {
    assert.match(text, new RegExp(`# ${key}:`), `${key} is shown commented out`);
  }
});
