import assert from "node:assert/strict";
import { EventFitter } from "./event_fitter.ts";
import type { ProcessObjectOptions } from "./object_processor.ts";

Deno.test("EventFitter.lines: an oversized line is named by its row, rows dropped before it counted", () => {
  const fitter = new EventFitter("s3://b/k", {
    maxEventBytes: 40,
    oversizedEvents: "quarantine",
  } as ProcessObjectOptions, "");
  const lines = new TextEncoder().encode(
    `H:{"a":1}\nH:{"a":"${"x".repeat(60)}"}\n`,
  );
  // Lines of rows 100 and 107 (rows 101 to 106 dropped).
  assert.throws(
    () => fitter.lines(lines, 100, 2, [], Uint32Array.of(0, 7)),
    /Event at row 107 of s3:\/\/b\/k/,
  );
  // Without dropped rows, the second line is row 101.
  assert.throws(() => fitter.lines(lines, 100, 2), /Event at row 101 of/);
});
