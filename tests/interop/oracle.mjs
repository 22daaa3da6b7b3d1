// The oracle: each Parquet file read by DuckDB's read_parquet, its rows written as JSON lines
// under the collector's value policy (see the module comment of src/transform/values.ts and
// src/parquet/shape.ts). Where DuckDB departs from the Parquet format specification, the rows
// follow the specification and the departure is reported.
import { DuckDBInstance } from "@duckdb/node-api";

/** Reads the flat schema of `file` as DuckDB reports it, into a tree. */
async function schemaTree(conn, file) {
  const r = await conn.runAndReadAll(
    `SELECT name, type, repetition_type, num_children, converted_type, logical_type
     FROM parquet_schema('${file}')`,
  );
  const rows = r.getRowObjects().map((o) => ({
    name: String(o.name),
    type: o.type === null ? null : String(o.type),
    repetition: o.repetition_type === null ? null : String(o.repetition_type),
    children: Number(o.num_children ?? 0),
    converted: o.converted_type === null ? null : String(o.converted_type),
    logical: o.logical_type === null ? null : String(o.logical_type),
  }));
  let i = 0;
  const build = () => {
    const e = rows[i++];
    const node = { ...e, kids: [] };
    for (let k = 0; k < e.children; k++) node.kids.push(build());
    return node;
  };
  return build();
}

const repeated = (n) => n.repetition === "REPEATED";
const isList = (n) =>
  n.kids.length === 1 &&
  (n.converted === "LIST" || /^ListType/.test(n.logical ?? ""));
const isMap = (n) =>
  (n.converted === "MAP" || n.converted === "MAP_KEY_VALUE" ||
    /^MapType/.test(n.logical ?? "")) &&
  n.kids.length === 1 && repeated(n.kids[0]) && n.kids[0].kids.length === 2;

/** Unit of a TIME leaf: the divisor from microseconds (DuckDB's TIME) to the file's unit. */
function timeUnit(n) {
  const l = n.logical ?? "";
  if (n.converted === "TIME_MILLIS" || /MILLIS=Milli/i.test(l)) return "ms";
  if (n.converted === "TIME_MICROS" || /MICROS=Micro/i.test(l)) return "us";
  if (/NANOS=Nano/i.test(l)) return "ns";
  return "us";
}

const bytesToBase64 = (b) => Buffer.from(b).toString("base64");

/** Whether `bytes` are valid UTF-8. */
function utf8(bytes) {
  try {
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function isoMillis(ms) {
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? Number(ms) : d.toISOString();
}

/** Integer division rounding down, as the collector's timestamp policy does. */
const floorDiv = (v, d) => (v % d < 0n ? v / d - 1n : v / d);

/**
 * Converts one DuckDB value of schema node `n` (undefined when not known) to the collector's
 * policy. Returns undefined for "left out". `notes` collects departures of the oracle.
 */
function convert(v, n, path, notes) {
  if (v === null || v === undefined) return undefined;
  const kind = v.constructor?.name;
  switch (typeof v) {
    case "boolean":
    case "string":
      return v;
    case "number":
      return Number.isFinite(v) ? v : null;
    case "bigint":
      return v >= BigInt(Number.MIN_SAFE_INTEGER) &&
          v <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v)
        : v;
  }
  switch (kind) {
    case "DuckDBTimestampValue":
    case "DuckDBTimestampTZValue":
      return isoMillis(floorDiv(v.micros, 1000n));
    case "DuckDBTimestampMillisecondsValue":
      return isoMillis(v.millis);
    case "DuckDBTimestampNanosecondsValue":
      return isoMillis(floorDiv(v.nanos, 1000000n));
    case "DuckDBTimestampSecondsValue":
      return isoMillis(v.seconds * 1000n);
    case "DuckDBDateValue":
      return isoMillis(BigInt(v.days) * 86400000n);
    case "DuckDBTimeValue": {
      const unit = n ? timeUnit(n) : "us";
      const raw = unit === "ms" ? v.micros / 1000n : unit === "ns" ? v.micros * 1000n : v.micros;
      return convert(raw, undefined, path, notes);
    }
    case "DuckDBDecimalValue":
      return Number(v.toString());
    case "DuckDBBlobValue":
      // Bytes without a text annotation: text when they are UTF-8, else base64.
      return utf8(v.bytes) && n?.type !== "FIXED_LEN_BYTE_ARRAY"
        ? new TextDecoder("utf-8", { ignoreBOM: true }).decode(v.bytes)
        : bytesToBase64(v.bytes);
    case "DuckDBUUIDValue":
      return v.toString();
    case "DuckDBListValue":
    case "DuckDBArrayValue":
      return list(v.items, n, path, notes);
    case "DuckDBStructValue": {
      const out = {};
      for (const [k, x] of Object.entries(v.entries)) {
        const child = n?.kids.find((c) => c.name === k);
        const c = convert(x, child, `${path}.${k}`, notes);
        if (c !== undefined && c !== null) out[k] = c;
      }
      return out;
    }
    case "DuckDBMapValue": {
      const valueNode = n && isMap(n) ? n.kids[0].kids.find((c) => c.name === "value") : undefined;
      const out = {};
      for (const { key, value } of v.entries) {
        const c = convert(value, valueNode, `${path}.value`, notes);
        const k = convert(key, undefined, path, notes);
        if (c !== undefined && c !== null) out[String(k)] = c;
      }
      return out;
    }
  }
  throw new Error(`${path}: no conversion for a ${kind ?? typeof v}`);
}

/** A LIST value: its elements, following the backward-compatibility rules for its layout. */
function list(items, n, path, notes) {
  let element;
  let wrap;
  if (n && isList(n)) {
    const rep = n.kids[0];
    if (!repeated(rep)) element = undefined;
    else if (rep.kids.length === 0) element = rep;
    else if (rep.kids.length > 1) element = rep;
    else if (rep.name === "array" || rep.name === `${n.name}_tuple`) {
      // Rule 3 of LogicalTypes.md's backward-compatibility rules: a repeated group named
      // `array` (or `<list>_tuple`) with one field is the element. DuckDB reads the field's
      // values as the elements instead: each is wrapped in the group it belongs to.
      element = rep.kids[0];
      wrap = rep.kids[0].name;
      notes.add(
        `${path}: DuckDB reads the legacy list group '${rep.name}' as its field's values; ` +
          "the format's rule 3 makes the group the element",
      );
    } else element = rep.kids[0];
  } else if (n && repeated(n)) {
    element = n.kids.length === 0 ? { ...n, repetition: "REQUIRED" } : { ...n, repetition: null };
  }
  return items.map((x) => {
    const c = convert(x, element, `${path}[]`, notes);
    if (wrap === undefined) return c ?? null;
    return c === undefined || c === null ? {} : { [wrap]: c };
  });
}

/** JSON text with bigints as their digits. */
export function jsonText(v) {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return `[${v.map(jsonText).join(",")}]`;
  if (v !== null && typeof v === "object") {
    return `{${
      Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x)}`)
        .join(",")
    }}`;
  }
  return JSON.stringify(v);
}

/** Opens one DuckDB connection for {@link oracleRows}. */
export async function openOracle() {
  const instance = await DuckDBInstance.create(":memory:", { threads: "2" });
  return await instance.connect();
}

/**
 * The rows of `file` under the policy, as JSON lines, and the oracle's departures from the
 * format that were corrected.
 */
export async function oracleRows(conn, file) {
  const root = await schemaTree(conn, file);
  const notes = new Set();
  const lines = [];
  const r = await conn.runAndReadAll(`SELECT * FROM read_parquet('${file}')`);
  const names = r.columnNames();
  for (const row of r.getRowObjects()) {
    const out = {};
    for (const name of names) {
      const node = root.kids.find((k) => k.name === name);
      const c = convert(row[name], node, name, notes);
      if (c !== undefined && c !== null) out[name] = c;
    }
    lines.push(jsonText(out));
  }
  return { lines, notes: [...notes] };
}
