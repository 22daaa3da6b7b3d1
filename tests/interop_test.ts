/**
 * Parquet from other writers, proven against an independent reader. The corpus is written at
 * test time by DuckDB, arrow-rs (parquet-wasm), Polars, parquetjs and hyparquet-writer (run under
 * Node from `tests/interop/`, installed there from its lock file on first use), and joined by the
 * public Security Lake samples (parquet-mr). Every file is read on the fast path and the
 * reference path with the default limits, and its events must equal the rows DuckDB's
 * `read_parquet` reads from it under the value policy. `docs/compatibility.md` is generated from
 * the same results and must be up to date.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  COMPATIBILITY_DOC,
  compatibilityResults,
  renderCompatibility,
  ROOT,
} from "../scripts/gen_compatibility.ts";
import type { FileResult } from "../scripts/gen_compatibility.ts";
import { fastLines, firstDifference, referenceLines } from "./helpers/interop.ts";

/** The features the corpus must hold, each in at least one file read exactly. */
const REQUIRED_FEATURES = [
  "page v1",
  "page v2",
  "dictionary",
  "dictionary off",
  "many pages per column chunk",
  "row groups of 1 row",
  "row group > 65,536 rows",
  "UNCOMPRESSED",
  "SNAPPY",
  "GZIP",
  "ZSTD",
  "BROTLI",
  "LZ4_RAW",
  "LZ4 (Hadoop)",
  "DELTA_BINARY_PACKED",
  "DELTA_LENGTH_BYTE_ARRAY",
  "DELTA_BYTE_ARRAY",
  "BYTE_STREAM_SPLIT",
  "INT96",
  "DECIMAL in INT32",
  "DECIMAL in INT64",
  "DECIMAL in FIXED_LEN_BYTE_ARRAY",
  "DATE",
  "TIME",
  "TIMESTAMP (MILLIS, UTC)",
  "TIMESTAMP (MICROS)",
  "TIMESTAMP (NANOS, UTC)",
  "TIMESTAMP (NANOS)",
  "nulls in every column",
  "empty and null lists",
  "lists of lists",
  "lists of structs",
  "LIST (three levels)",
  "LIST (legacy two levels)",
  "repeated fields without LIST",
  "MAP",
  "maps with null values",
  "strings > 64 KiB",
  "non-UTF-8 binary",
];

let results: Promise<FileResult[]> | undefined;
const all = () => (results ??= compatibilityResults());

Deno.test("every corpus file's events equal the oracle's rows, on both paths", async () => {
  const r = await all();
  const failed = r.filter((x) => x.reference !== undefined || x.fast !== undefined);
  assert.deepEqual(
    failed.map((x) => `${x.file.file}\n reference: ${x.reference}\n fast: ${x.fast}`),
    [],
  );
  const writers = new Set(r.filter((x) => !x.file.sample).map((x) => x.file.writer));
  assert.ok(writers.size >= 5, `writers: ${[...writers].join(", ")}`);
  assert.ok(r.every((x) => x.events === x.file.rows));
  for (const feature of REQUIRED_FEATURES) {
    assert.ok(r.some((x) => x.features.includes(feature)), `no corpus file holds ${feature}`);
  }
});

Deno.test("where DuckDB departs from the format (legacy `array` lists), the test says so and follows the format", async () => {
  const r = await all();
  const samples = r.filter((x) => x.file.sample);
  if (samples.length === 0) return; // the public samples are not beside the repository
  const noted = samples.filter((x) =>
    x.file.notes.some((n) => n.includes("legacy list group 'array'"))
  );
  assert.ok(noted.length > 0, "no sample noted DuckDB's reading of `array` lists");
  // The group is the element: each element is an object holding the field.
  const eks = noted.find((x) => x.file.file.includes("/EKS/"));
  if (eks) {
    const text = await Deno.readTextFile(eks.file.oracle);
    assert.match(text, /"groups":\[\{"name":"/);
  }
});

Deno.test("pages decoded a few entries at a time, and chunks read in windows, give the oracle's rows", async () => {
  const r = await all();
  // One file of each writer, the richest (most features).
  const pick = new Map<string, FileResult>();
  for (const x of r) {
    const best = pick.get(x.file.writer);
    if (!best || x.features.length > best.features.length) pick.set(x.file.writer, x);
  }
  for (const x of pick.values()) {
    const oracle = (await Deno.readTextFile(x.file.oracle)).split("\n").filter((l) => l);
    assert.equal(firstDifference(await fastLines(x.file.file, 0, 7), oracle), undefined);
    assert.equal(firstDifference(await referenceLines(x.file.file), oracle), undefined);
  }
});

Deno.test("docs/compatibility.md is up to date", async () => {
  const r = await all();
  if (!r.some((x) => x.file.sample)) return; // generated with the public samples
  const current = await Deno.readTextFile(join(ROOT, COMPATIBILITY_DOC)).catch(() => "(missing)");
  assert.ok(
    current === renderCompatibility(r),
    `${COMPATIBILITY_DOC} is stale: run deno task compatibility`,
  );
});
