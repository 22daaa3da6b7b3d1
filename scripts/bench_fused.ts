/**
 * A prototype for the benchmark's proposals, not used by the collector: the OCSF shape
 * conversion (`parquet/shape.ts` + `transform/values.ts`) and `toJson` fused into one compiled
 * serializer that writes JSON text straight from hyparquet's decoded column values, with no
 * intermediate event object, and, optionally, Node's native zlib/zstd in place of the
 * pure-JavaScript decompressors. It reads like the collector's reader (row group by row group,
 * one top-level column at a time) and writes Devo lines exactly as `bench_decode.ts --stage
 * lines` does, so the two rates compare directly.
 *
 * `--read-column` takes each top-level column with `parquetReadColumn` (one array) instead of
 * `parquetReadObjects` (one `{ column: value }` object per row, then mapped to its value).
 *
 * `--check` first reads the file through the collector's own `readEvents` + `toJson` and then
 * asserts that every line of the prototype carries the identical JSON text.
 *
 * ```sh
 * deno run -A scripts/bench_fused.ts FILE [--native-codecs] [--read-column] [--check]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { parquetReadObjects, parquetSchema } from "hyparquet";
import { parquetReadColumn } from "hyparquet/src/read.js";
import type { SchemaTree } from "hyparquet";
import { compressors as jsCompressors } from "hyparquet-compressors";
import { bufferFromFile, readEvents, readMetadata } from "../src/parquet/reader.ts";
import { toJson } from "../src/transform/json.ts";
import { base64, int64, TIMESTAMP_PARSERS, timestampFromMillis } from "../src/transform/values.ts";
import { NATIVE_COMPRESSORS, procMemory } from "./bench_decode.ts";

/** JSON text of one value, or `undefined` for "leave out" (null, absent). */
type Ser = (v: unknown) => string | undefined;

function scalarJson(v: unknown): string | undefined {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "number":
      return Number.isFinite(v) ? String(v) : undefined;
    case "bigint":
      return String(int64(v));
    case "object":
      if (v === null) return undefined;
      if (v instanceof Date) {
        const t = timestampFromMillis(v.getTime());
        return typeof t === "string" ? JSON.stringify(t) : String(t);
      }
      if (v instanceof Uint8Array) return JSON.stringify(base64(v));
      return undefined;
    default:
      return undefined;
  }
}

const isRepeated = (n: SchemaTree) => n.element.repetition_type === "REPEATED";

function ser(n: SchemaTree): Ser {
  const one = serOne(n);
  return isRepeated(n) ? listOf(one) : one;
}

function listOf(element: Ser): Ser {
  return (v) => {
    if (!Array.isArray(v)) return undefined;
    let s = "[";
    for (let i = 0; i < v.length; i++) {
      if (i > 0) s += ",";
      s += element(v[i]) ?? "null";
    }
    return s + "]";
  };
}

function serOne(n: SchemaTree): Ser {
  const ct = n.element.converted_type;
  const lt = n.element.logical_type?.type;
  if (n.children.length === 0) return scalarJson;
  if ((ct === "LIST" || lt === "LIST") && n.children.length === 1) return serList(n);
  if ((ct === "MAP" || ct === "MAP_KEY_VALUE" || lt === "MAP") && mapLike(n)) {
    return serMap(n.children[0]!.children.find((c) => c.element.name === "value"));
  }
  return serStruct(n);
}

function mapLike(n: SchemaTree): boolean {
  const kv = n.children[0];
  return n.children.length === 1 && kv !== undefined && isRepeated(kv) &&
    kv.children.length === 2 && kv.children.some((c) => c.element.name === "key") &&
    kv.children.every((c) => !isRepeated(c));
}

function serList(n: SchemaTree): Ser {
  const rep = n.children[0]!;
  if (!isRepeated(rep)) return serStruct(n);
  if (rep.children.length === 0) return listOf(scalarJson);
  if (rep.children.length > 1) {
    const element = listOf(serStruct(rep));
    const key = rep.element.name;
    return (v) => {
      if (v === null || v === undefined) return undefined;
      if (Array.isArray(v)) return element(v);
      return element((v as Record<string, unknown>)[key]);
    };
  }
  const only = rep.children[0]!;
  const legacy = rep.element.name === "array" || rep.element.name === `${n.element.name}_tuple`;
  if (legacy) {
    const inner = ser(only);
    const prefix = "{" + JSON.stringify(only.element.name) + ":";
    return listOf((x) => {
      const v = inner(x);
      return v === undefined ? "{}" : prefix + v + "}";
    });
  }
  return listOf(ser(only));
}

function serMap(valueNode: SchemaTree | undefined): Ser {
  const value = valueNode ? ser(valueNode) : scalarJson;
  return (v) => {
    if (v === null || v === undefined || typeof v !== "object") return undefined;
    let s = "{";
    for (const k in v as Record<string, unknown>) {
      const c = value((v as Record<string, unknown>)[k]);
      if (c === undefined) continue;
      s += (s.length === 1 ? "" : ",") + JSON.stringify(k) + ":" + c;
    }
    return s + "}";
  };
}

function serStruct(n: SchemaTree): Ser {
  const names = n.children.map((c) => c.element.name);
  const keys = names.map((name) => JSON.stringify(name) + ":");
  const sers = n.children.map(ser);
  return (v) => {
    if (v === null || v === undefined || typeof v !== "object") return undefined;
    const src = v as Record<string, unknown>;
    let s = "{";
    for (let i = 0; i < sers.length; i++) {
      const c = sers[i]!(src[names[i]!]);
      if (c === undefined) continue;
      s += (s.length === 1 ? "" : ",") + keys[i] + c;
    }
    return s + "}";
  };
}

/**
 * Compiles the fused serializer for a file whose schema root is `root`: it takes the decoded
 * values column by column (`columns[c][row]`) and returns the event's JSON text with
 * `suffix` (e.g. `"@devo_pulling_id":"..."`) added as its last member.
 */
export function compileColumnSerializer(
  root: SchemaTree,
  suffix = "",
): (columns: readonly (readonly unknown[])[], row: number) => string {
  const keys = root.children.map((c) => JSON.stringify(c.element.name) + ":");
  const sers = root.children.map(ser);
  return (columns, row) => {
    let s = "{";
    for (let i = 0; i < sers.length; i++) {
      const c = sers[i]!(columns[i]![row]);
      if (c === undefined) continue;
      s += (s.length === 1 ? "" : ",") + keys[i] + c;
    }
    if (suffix) s += (s.length === 1 ? "" : ",") + suffix;
    return s + "}";
  };
}

async function main(args: string[]): Promise<number> {
  const { values: values_, positionals } = parseArgs({
    args,
    options: {
      "native-codecs": { type: "boolean", default: false },
      check: { type: "boolean", default: false },
      "read-column": { type: "boolean", default: false },
    },
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    console.error("Usage: deno run -A scripts/bench_fused.ts FILE [--native-codecs] [--check]");
    return 2;
  }
  const path = positionals[0]!;
  const compressors = values_["native-codecs"] ? NATIVE_COMPRESSORS : jsCompressors;

  let expected: string[] | undefined;
  if (values_.check) {
    expected = [];
    const f = await bufferFromFile(path);
    for await (const slice of readEvents(f, { name: path })) {
      for (const e of slice.events) expected.push(toJson(e));
    }
    f.close();
  }

  const file = await bufferFromFile(path);
  const started = performance.now();
  const metadata = await readMetadata(file, path);
  const schema = parquetSchema(metadata);
  const columns = schema.children.map((c) => c.element.name);
  const pullingId = String(Date.now());
  const suffix = `"@devo_pulling_id":${JSON.stringify(pullingId)}`;
  const serialize = compileColumnSerializer(schema, suffix);
  const prefix = ` bench-host cloud.aws.amazon.security_lake.events: `;
  const encoder = new TextEncoder();
  let events = 0;
  let bytes = 0;
  let text = "";
  let mismatches = 0;
  const send = () => {
    if (text === "") return;
    bytes += encoder.encode(text).length;
    text = "";
  };
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = groupStart + Number(group.num_rows);
    const values: unknown[][] = [];
    for (const column of columns) {
      const options = {
        file,
        metadata,
        rowStart: groupStart,
        rowEnd: groupEnd,
        columns: [column],
        compressors,
        parsers: TIMESTAMP_PARSERS,
      };
      if (values_["read-column"]) {
        // The column's values as one array: no `{ column: value }` object per row.
        values.push(await parquetReadColumn(options) as unknown[]);
      } else {
        const rows = await parquetReadObjects(options);
        values.push(rows.map((r) => r[column]));
      }
    }
    const count = groupEnd - groupStart;
    for (let i = 0; i < count; i += 1000) {
      const header = "<14>" + new Date().toISOString() + prefix;
      const end = Math.min(count, i + 1000);
      for (let j = i; j < end; j++) {
        const json = serialize(values, j);
        if (expected) {
          const want = expected[events + j - i];
          const wantLine = want === "{}"
            ? "{" + suffix + "}"
            : want!.slice(0, -1) + "," + suffix + "}";
          if (json !== wantLine && mismatches++ < 3) {
            console.error(`row ${events + j - i} differs:\n  want ${wantLine}\n  got  ${json}`);
          }
        }
        text += header + json + "\n";
        if (text.length >= 256 * 1024) send();
      }
      events += end - i;
    }
    groupStart = groupEnd;
  }
  send();
  file.close();
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({
    file: path,
    stage: (values_["native-codecs"] ? "fused+native" : "fused") +
      (values_["read-column"] ? "+readColumn" : ""),
    events,
    bytes,
    seconds,
    ...(expected ? { checked: expected.length, mismatches } : {}),
    ...procMemory(),
  }));
  return mismatches === 0 && (!expected || expected.length === events) ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
