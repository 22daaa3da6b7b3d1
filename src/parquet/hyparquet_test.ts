import assert from "node:assert/strict";
import * as internals from "./hyparquet.ts";

Deno.test("the hyparquet internals the fast path uses are there, as functions and tables", async () => {
  const functions = [
    "convert",
    "convertWithDictionary",
    "decompressPage",
    "readDataPage",
    "readDataPageV2",
    "readPlain",
    "readVarInt",
  ] as const;
  for (const name of functions) assert.equal(typeof internals[name], "function", name);
  assert.equal(typeof internals.DEFAULT_PARSERS.timestampFromMilliseconds, "function");
  // They are internals: the version that has them is pinned.
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(config.imports.hyparquet, "npm:hyparquet@1.33.0");
});
