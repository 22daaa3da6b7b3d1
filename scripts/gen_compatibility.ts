/**
 * Writes `docs/compatibility.md`: which Parquet writers and features the collector reads exactly,
 * from the interoperability corpus (`tests/interop/`): each file is read on the fast path and the
 * reference path and compared with DuckDB's rows under the value policy. The features of a file
 * are those its writer was asked for plus those its metadata shows (codecs, page versions,
 * encodings, row group sizes, physical and logical types), so the table cannot claim what no file
 * holds. `tests/interop_test.ts` fails when the document is stale.
 *
 *   deno task compatibility
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parquetMetadata, parquetSchema } from "hyparquet";
import type { SchemaTree } from "hyparquet";
import { readPageHeader } from "../src/parquet/page_header.ts";
import { corpus, fastLines, firstDifference, referenceLines } from "../tests/helpers/interop.ts";
import type { CorpusFile } from "../tests/helpers/interop.ts";

/** The repository's root folder. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** The generated document, relative to {@link ROOT}. */
export const COMPATIBILITY_DOC = "docs/compatibility.md";

/** What one corpus file gave on each path. */
export interface FileResult {
  readonly file: CorpusFile;
  /** Declared and observed features. */
  readonly features: readonly string[];
  /** The first difference from the oracle on each path; undefined when equal. */
  readonly reference?: string;
  readonly fast?: string;
  /** Events read (those of the reference path). */
  readonly events: number;
}

/** Features seen in a file's metadata and page headers. */
export function observedFeatures(bytes: Uint8Array): string[] {
  const out = new Set<string>();
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const md = parquetMetadata(buf as ArrayBuffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const rg of md.row_groups) {
    const rows = Number(rg.num_rows);
    if (rows === 1) out.add("row groups of 1 row");
    if (rows > 65_536) out.add("row group > 65,536 rows");
    for (const c of rg.columns) {
      const m = c.meta_data;
      if (!m) continue;
      out.add(m.codec === "LZ4" ? "LZ4 (Hadoop)" : m.codec);
      for (const e of m.encodings ?? []) {
        if (e === "PLAIN_DICTIONARY" || e === "RLE_DICTIONARY") out.add("dictionary");
        if (e.startsWith("DELTA_") || e === "BYTE_STREAM_SPLIT") out.add(e);
      }
      // The first data page's version, and how many pages the chunk has.
      let off = Number(m.dictionary_page_offset || m.data_page_offset);
      const end = off + Number(m.total_compressed_size);
      let pages = 0;
      while (off < end) {
        const h = readPageHeader(view, off);
        if (h.type === 0) out.add("page v1");
        if (h.type === 3) out.add("page v2");
        if (h.type === 0 || h.type === 3) pages++;
        off += h.headerBytes + h.compressed;
      }
      if (pages >= 10) out.add("many pages per column chunk");
    }
  }
  const walk = (n: SchemaTree, depth: number, parent: SchemaTree | undefined) => {
    const e = n.element;
    const ct = e.converted_type;
    const lt = e.logical_type;
    if (e.type === "INT96") out.add("INT96");
    if (ct === "DECIMAL" || lt?.type === "DECIMAL") out.add(`DECIMAL in ${e.type}`);
    if (ct === "DATE" || lt?.type === "DATE") out.add("DATE");
    if (ct === "TIME_MILLIS" || ct === "TIME_MICROS" || lt?.type === "TIME") out.add("TIME");
    if (lt?.type === "TIMESTAMP") {
      out.add(`TIMESTAMP (${lt.unit}${lt.isAdjustedToUTC ? ", UTC" : ""})`);
    } else if (ct === "TIMESTAMP_MILLIS") out.add("TIMESTAMP (MILLIS)");
    else if (ct === "TIMESTAMP_MICROS") out.add("TIMESTAMP (MICROS)");
    if (lt?.type === "FLOAT16") out.add("FLOAT16");
    if (lt?.type === "UUID") out.add("UUID");
    if (ct === "JSON") out.add("JSON");
    if (e.type === "BYTE_ARRAY" && ct === undefined && lt === undefined) {
      out.add("byte arrays without annotation");
    }
    if (e.type === "INT64" && ct === undefined && lt === undefined) out.add("INT64");
    if (ct === "MAP" || lt?.type === "MAP") out.add("MAP");
    if (ct === "LIST" || lt?.type === "LIST") {
      const rep = n.children[0];
      const three = rep && rep.children.length === 1 && rep.element.name !== "array" &&
        rep.element.name !== `${e.name}_tuple`;
      out.add(three ? "LIST (three levels)" : "LIST (legacy two levels)");
      const element = three ? rep!.children[0]! : rep;
      if (element && element.children.length > 0) {
        const inner = element.element;
        if (inner.converted_type === "LIST" || inner.logical_type?.type === "LIST") {
          out.add("lists of lists");
        } else if (!(inner.converted_type === "MAP" || inner.logical_type?.type === "MAP")) {
          out.add("lists of structs");
        }
      }
    }
    const annotated = (x: SchemaTree | undefined) =>
      x !== undefined && (x.element.converted_type !== undefined ||
        x.element.logical_type !== undefined);
    if (e.repetition_type === "REPEATED" && depth > 0 && !annotated(parent)) {
      out.add("repeated fields without LIST");
    }
    if (
      n.children.length > 0 && depth > 0 && !annotated(n) && !annotated(parent) &&
      e.repetition_type !== "REPEATED"
    ) out.add("structs");
    for (const c of n.children) walk(c, depth + 1, n);
  };
  walk(parquetSchema(md), 0, undefined);
  return [...out];
}

/** Reads every corpus file on both paths and compares it with the oracle. */
export async function compatibilityResults(): Promise<FileResult[]> {
  const out: FileResult[] = [];
  for (const f of await corpus()) {
    const oracle = (await Deno.readTextFile(f.oracle)).split("\n").filter((l) => l !== "");
    const attempt = async (read: () => Promise<string[]>) => {
      try {
        const lines = await read();
        return { lines, diff: firstDifference(lines, oracle) };
      } catch (e) {
        return { lines: [], diff: `error: ${e instanceof Error ? e.message : e}` };
      }
    };
    const ref = await attempt(() => referenceLines(f.file));
    const fast = await attempt(() => fastLines(f.file));
    const features = new Set([...f.features, ...observedFeatures(await Deno.readFile(f.file))]);
    out.push({
      file: f,
      features: [...features].sort(),
      reference: ref.diff,
      fast: fast.diff,
      events: ref.lines.length,
    });
  }
  return out;
}

const SAMPLE_WRITER = "parquet-mr (public samples)";

/** The document for `results`. */
export function renderCompatibility(results: readonly FileResult[]): string {
  const writers = [...new Set(results.map((r) => r.file.writer))].sort((a, b) =>
    a === SAMPLE_WRITER ? 1 : b === SAMPLE_WRITER ? -1 : a.localeCompare(b)
  );
  const features = [...new Set(results.flatMap((r) => r.features))].sort((a, b) =>
    a.localeCompare(b)
  );
  const ok = (r: FileResult) => r.reference === undefined && r.fast === undefined;
  const lines: string[] = [
    "# Parquet compatibility",
    "",
    "<!-- Generated by `deno task compatibility` from the interoperability corpus; do not edit. -->",
    "",
    "Which writers' files the collector reads exactly. Each file of the corpus is written at test",
    "time by the writer named (run under Node from `tests/interop/`; the public Security Lake",
    "samples are parquet-mr's), read on both of the collector's paths (the fast path that writes",
    "JSON from column data, and the reference path that builds row objects), and compared row by",
    "row with what DuckDB's `read_parquet` reads from it, under the value policy below.",
    "",
    "A feature is listed for a writer when at least one of its files holds it, as asked of the",
    "writer or as its metadata shows. **exact**: every such file's events equal the oracle's rows",
    "on both paths. **differs**: at least one does not (the file list says how). **—**: no file of",
    "that writer holds the feature (the writer does not write it, or the corpus does not ask).",
    "",
    "## Value policy the comparison applies",
    "",
    "- Integers beyond 2^53 keep every digit; NaN and infinities become null; null fields, null",
    "  map values and null struct members are left out; null list elements stay null.",
    "- TIMESTAMP (milliseconds, microseconds, nanoseconds, UTC-adjusted or not), INT96 and DATE",
    "  become RFC 3339 UTC text with milliseconds, rounded down; TIME stays the stored integer.",
    "- DECIMAL becomes the nearest JSON number; FLOAT16 a number; UUID its hyphenated text.",
    "- Byte arrays without a text annotation are text when they are UTF-8, else base64; JSON",
    "  documents are sent as the string they are.",
    "- Every LIST becomes an array, whatever its layout, following the format's",
    "  backward-compatibility rules; MAP becomes an object.",
    "",
    "Where DuckDB departs from the format specification the comparison follows the",
    "specification: DuckDB reads a legacy list whose repeated group is named `array` (or",
    "`<list>_tuple`) and has one field as a list of that field's values, while rule 3 of",
    "LogicalTypes.md's backward-compatibility rules makes the group itself the element.",
    "",
    "## Writers × features",
    "",
    `| feature | ${writers.join(" | ")} |`,
    `|---|${writers.map(() => "---").join("|")}|`,
  ];
  for (const feature of features) {
    const cells = writers.map((w) => {
      const files = results.filter((r) => r.file.writer === w && r.features.includes(feature));
      if (files.length === 0) return "—";
      return files.every(ok) ? "exact" : "differs";
    });
    lines.push(`| ${feature} | ${cells.join(" | ")} |`);
  }
  lines.push("", "## Files", "");
  lines.push("| writer | file | events | both paths | notes |", "|---|---|---|---|---|");
  const name = (r: FileResult) =>
    r.file.sample ? r.file.file.replace(/.*\/samples\/parquet\//, "samples/") : r.file.file
      .replace(/.*\//, "");
  for (const r of results) {
    const notes = [...r.file.notes];
    if (r.reference) notes.push(`reference path: ${r.reference.split("\n")[0]}`);
    if (r.fast) notes.push(`fast path: ${r.fast.split("\n")[0]}`);
    lines.push(
      `| ${r.file.writer} | ${name(r)} | ${r.events} | ${ok(r) ? "exact" : "differs"} | ${
        notes.join("; ").replaceAll("|", "\\|")
      } |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

if (import.meta.main) {
  const text = renderCompatibility(await compatibilityResults());
  await Deno.writeTextFile(join(ROOT, COMPATIBILITY_DOC), text);
  console.log(`wrote ${COMPATIBILITY_DOC}`);
}
