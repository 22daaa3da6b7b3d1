// Development only (run under Node): writes the interoperability corpus into OUT_DIR with
// writers of other projects, then reads every file back with DuckDB, the oracle, and writes
// OUT_DIR/manifest.json: each file, its writer, the features it exercises, and the oracle's rows
// under the collector's value policy.
//
//   node tests/interop/generate.mjs OUT_DIR [SAMPLE_FILE...]
//
// Sample files (written elsewhere, e.g. the public Security Lake samples) get oracle rows too.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { openOracle, oracleRows } from "./oracle.mjs";
import { writeArrow } from "./writers/arrow.mjs";
import { writeDuckdb } from "./writers/duckdb.mjs";
import { writeHyparquet } from "./writers/hyparquet.mjs";
import { writeParquetjs } from "./writers/parquetjs.mjs";
import { writePolars } from "./writers/polars.mjs";

const [dir, ...samples] = process.argv.slice(2);
if (!dir) {
  console.error("usage: node generate.mjs OUT_DIR [SAMPLE_FILE...]");
  process.exit(2);
}
mkdirSync(dir, { recursive: true });

const writers = {
  duckdb: writeDuckdb,
  arrow: writeArrow,
  polars: writePolars,
  parquetjs: writeParquetjs,
  "hyparquet-writer": writeHyparquet,
};
/** What every file of a writer holds, besides what each file asks for. */
const COMMON = {
  duckdb: [
    "nulls in every column",
    "empty and null lists",
    "null list elements",
    "maps with null values",
    "non-UTF-8 binary",
  ],
  arrow: [
    "nulls in every column",
    "empty and null lists",
    "null list elements",
    "maps with null values",
    "non-UTF-8 binary",
  ],
  polars: ["nulls in every column", "empty and null lists"],
  parquetjs: ["nulls in every column", "empty lists", "non-UTF-8 binary"],
  "hyparquet-writer": ["nulls in every column"],
};
const only = process.env.INTEROP_WRITERS?.split(",");
const files = [];
for (const [name, write] of Object.entries(writers)) {
  if (only && !only.includes(name)) continue;
  for (const f of await write(dir)) {
    files.push({ ...f, features: [...COMMON[name], ...f.features] });
  }
}
for (const s of samples) {
  files.push({
    file: s,
    writer: "parquet-mr (public samples)",
    features: [],
    sample: true,
  });
}

const conn = await openOracle();
const manifest = [];
for (const f of files) {
  // A file DuckDB cannot read names the file of the same rows that it reads instead.
  const { lines, notes } = await oracleRows(conn, f.oracleFile ?? f.file);
  if (f.oracleFile) {
    notes.push(
      `DuckDB cannot read this file: the oracle is ${basename(f.oracleFile)}`,
    );
  }
  const oracle = `${manifest.length}-${basename(f.file)}.oracle.jsonl`;
  writeFileSync(`${dir}/${oracle}`, lines.length ? lines.join("\n") + "\n" : "");
  // Names inside `dir` are relative, so that the folder can be moved once complete.
  const file = f.sample ? f.file : basename(f.file);
  const oracleFile = f.oracleFile && basename(f.oracleFile);
  manifest.push({ ...f, file, oracleFile, rows: lines.length, oracle, notes });
}
writeFileSync(`${dir}/manifest.json`, JSON.stringify(manifest, null, 1));
console.log(`${manifest.length} files`);
