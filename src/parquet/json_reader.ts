/**
 * The fast decoding path: turns a Parquet object straight into the JSON text of each event,
 * without building one object per row. Per row group it decodes every leaf column into its
 * values and definition/repetition levels (hyparquet's page decoders), then assembles each row's
 * JSON from the levels, following the same value and shape policy as `shape.ts` (every LIST an
 * array whatever its layout, MAP an object, null fields left out, present structs kept even when
 * empty). `tests/differential_test.ts` checks it against the object path on every fixture and
 * public sample.
 * @module
 */
import { parquetSchema } from "hyparquet";
import type { AsyncBuffer, DecodedArray, FileMetaData, SchemaTree } from "hyparquet";
import type { ColumnDecoder } from "hyparquet/src/types.js";
import { parquetHeader } from "hyparquet/src/column.js";
import { convert, convertWithDictionary, DEFAULT_PARSERS } from "hyparquet/src/convert.js";
import { decompressPage, readDataPage, readDataPageV2 } from "hyparquet/src/datapage.js";
import { readPlain } from "hyparquet/src/plain.js";
import { compressors } from "hyparquet-compressors";
import { CollectorError, isCollectorError } from "../errors.ts";
import { toJson } from "../transform/json.ts";
import { scalar, TIMESTAMP_PARSERS } from "../transform/values.ts";
import { readMetadata } from "./reader.ts";

/** A slice of consecutive events of one object, as JSON text. */
export interface JsonSlice {
  /** Index of the first event of the slice in the object. */
  readonly rowStart: number;
  readonly json: string[];
}

/** Options for {@link readEventJson}. */
export interface ReadEventJsonOptions {
  signal?: AbortSignal;
  /** Rows to skip at the start of the object. Default 0. */
  startRow?: number;
  /** Events per slice. Default 1000. */
  sliceRows?: number;
  /** Names the object in errors. */
  name?: string;
  /** JSON members added at the end of every event, e.g. `"@devo_pulling_id":"1"`. */
  append?: string;
}

const PARSERS = { ...DEFAULT_PARSERS, ...TIMESTAMP_PARSERS };

/** One leaf column of one row group, decoded. */
interface Leaf {
  maxDef: number;
  /** Definition levels, or undefined when every entry is at maxDef. */
  def?: ArrayLike<number>;
  /** Repetition levels, or undefined when the column is not repeated. */
  rep?: ArrayLike<number>;
  /** JSON text of each value (undefined where the policy leaves the value out). */
  values: (string | undefined)[];
  /** Level cursor. */
  i: number;
  /** Value cursor. */
  v: number;
}

/** A compiled schema node. */
interface Plan {
  kind: "leaf" | "struct" | "list" | "map";
  /** `"name":` */
  keyJson: string;
  optional: boolean;
  /** Definition level at which this node is present. */
  def: number;
  /** Leaf indices under this node (in order); `first` is leaves[0]. */
  leaves: number[];
  children: Plan[];
  /** list/map: the repeated node: its definition and repetition levels. */
  repDef: number;
  repLevel: number;
  /** list: how one element is emitted. */
  element?: Plan;
  /** map: key and value plans. */
  key?: Plan;
  value?: Plan;
  /** list: the element is a one-field struct (legacy `array` / `_tuple` group) to re-wrap. */
  wrapKeyJson?: string;
}

const isRepeated = (n: SchemaTree) => n.element.repetition_type === "REPEATED";
const isOptional = (n: SchemaTree) => n.element.repetition_type === "OPTIONAL";

/** Compiles `root`'s children into plans; leaf indices follow schema (column) order. */
function compile(root: SchemaTree): { fields: Plan[]; leafPaths: string[][] } {
  const leafPaths: string[][] = [];
  const node = (n: SchemaTree, def: number, rep: number, asElement = false): Plan => {
    const optional = isOptional(n);
    const repeated = isRepeated(n) && !asElement;
    const d = def + (optional || isRepeated(n) ? 1 : 0);
    const r = rep + (isRepeated(n) ? 1 : 0);
    const keyJson = JSON.stringify(n.element.name) + ":";
    if (repeated) {
      // A repeated field outside a LIST annotation: a list whose element is the field itself.
      const element = node(n, def, rep, true);
      return {
        kind: "list",
        keyJson,
        optional: false,
        def,
        leaves: element.leaves,
        children: [],
        repDef: d,
        repLevel: r,
        element: { ...element, def: d, optional: false },
      };
    }
    if (n.children.length === 0) {
      const leaves = [leafPaths.length];
      leafPaths.push(n.path);
      return {
        kind: "leaf",
        keyJson,
        optional,
        def: d,
        leaves,
        children: [],
        repDef: 0,
        repLevel: 0,
      };
    }
    const ct = n.element.converted_type;
    const lt = n.element.logical_type?.type;
    const only = n.children[0]!;
    if ((ct === "LIST" || lt === "LIST") && n.children.length === 1 && isRepeated(only)) {
      const rd = d + 1;
      const rl = r + 1;
      let element: Plan;
      let wrapKeyJson: string | undefined;
      if (only.children.length === 1) {
        const inner = only.children[0]!;
        const legacy = only.element.name === "array" ||
          only.element.name === `${n.element.name}_tuple`;
        element = node(inner, rd, rl);
        if (legacy) wrapKeyJson = JSON.stringify(inner.element.name) + ":";
      } else {
        // Two-level: the repeated field itself is the element (primitive or group).
        element = { ...node(only, d, r, true), def: rd, optional: false };
      }
      return {
        kind: "list",
        keyJson,
        optional,
        def: d,
        leaves: element.leaves,
        children: [],
        repDef: rd,
        repLevel: rl,
        element,
        wrapKeyJson,
      };
    }
    if (
      (ct === "MAP" || ct === "MAP_KEY_VALUE" || lt === "MAP") && n.children.length === 1 &&
      isRepeated(only) && only.children.length === 2 &&
      only.children.some((c) => c.element.name === "key") &&
      only.children.every((c) => !isRepeated(c))
    ) {
      const rd = d + 1;
      const rl = r + 1;
      const plans = only.children.map((c) => node(c, rd, rl));
      const ki = only.children.findIndex((c) => c.element.name === "key");
      return {
        kind: "map",
        keyJson,
        optional,
        def: d,
        leaves: plans.flatMap((p) => p.leaves),
        children: [],
        repDef: rd,
        repLevel: rl,
        key: plans[ki],
        value: plans[1 - ki],
      };
    }
    const children = n.children.map((c) => node(c, d, r));
    return {
      kind: "struct",
      keyJson,
      optional,
      def: d,
      leaves: children.flatMap((c) => c.leaves),
      children,
      repDef: 0,
      repLevel: 0,
    };
  };
  const fields = root.children.map((c) => node(c, 0, 0));
  return { fields, leafPaths };
}

/** JSON text of one leaf value, or undefined when the policy leaves it out (null). */
function valueJson(v: unknown): string | undefined {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      return Number.isFinite(v) ? String(v) : undefined;
    case "bigint":
      return v.toString();
    case "boolean":
      return v ? "true" : "false";
    default: {
      const s = scalar(v);
      return s === undefined || s === null ? undefined : toJson(s);
    }
  }
}

/** Assembles rows from decoded leaves. */
class Assembler {
  constructor(private readonly leaves: Leaf[]) {}

  #defAt(li: number): number {
    const l = this.leaves[li]!;
    return l.def ? l.def[l.i]! : l.maxDef;
  }

  #repAt(li: number): number {
    const l = this.leaves[li]!;
    return l.rep && l.i < l.rep.length ? l.rep[l.i]! : 0;
  }

  /** Skips one (null or empty) entry of every leaf under `p`. */
  #skip(p: Plan): void {
    for (const li of p.leaves) this.leaves[li]!.i++;
  }

  /** The JSON of node `p` at the cursors, or undefined when it is null. */
  emit(p: Plan): string | undefined {
    const first = p.leaves[0]!;
    if (p.optional && this.#defAt(first) < p.def) {
      this.#skip(p);
      return undefined;
    }
    switch (p.kind) {
      case "leaf": {
        const l = this.leaves[first]!;
        l.i++;
        return l.values[l.v++];
      }
      case "struct": {
        let s = "{";
        for (const c of p.children) {
          const t = this.emit(c);
          if (t !== undefined) s += (s.length > 1 ? "," : "") + c.keyJson + t;
        }
        return s + "}";
      }
      case "list": {
        if (this.#defAt(first) < p.repDef) {
          this.#skip(p);
          return "[]";
        }
        const el = p.element!;
        let s = "[";
        do {
          let t = this.emit(el);
          if (p.wrapKeyJson !== undefined) t = t === undefined ? "{}" : `{${p.wrapKeyJson}${t}}`;
          s += (s.length > 1 ? "," : "") + (t ?? "null");
        } while (this.#more(first, p.repLevel));
        return s + "]";
      }
      case "map": {
        if (this.#defAt(first) < p.repDef) {
          this.#skip(p);
          return "{}";
        }
        let s = "{";
        do {
          const k = this.emit(p.key!);
          const v = this.emit(p.value!);
          if (v !== undefined && k !== undefined) {
            const key = k.startsWith('"') ? k : JSON.stringify(k);
            s += (s.length > 1 ? "," : "") + key + ":" + v;
          }
        } while (this.#more(first, p.repLevel));
        return s + "}";
      }
    }
  }

  /** Whether the next entry of leaf `li` continues the list at `repLevel`. */
  #more(li: number, repLevel: number): boolean {
    const l = this.leaves[li]!;
    const n = l.def ? l.def.length : l.rep ? l.rep.length : l.values.length;
    return l.i < n && this.#repAt(li) >= repLevel;
  }
}

/** Decodes every page of one column chunk. */
function decodeChunk(
  bytes: Uint8Array,
  decoder: ColumnDecoder,
  maxDef: number,
  maxRep: number,
  numValues: number,
): Leaf {
  const reader = {
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    offset: 0,
  };
  let dictionary: DecodedArray | undefined;
  let dictionaryJson: (string | undefined)[] | undefined;
  const def = maxDef > 0 ? new Uint8Array(numValues) : undefined;
  const rep = maxRep > 0 ? new Uint8Array(numValues) : undefined;
  const values: (string | undefined)[] = [];
  let count = 0;
  let anyNull = false;
  while (count < numValues && reader.offset < bytes.length) {
    const header = parquetHeader(reader);
    const body = bytes.subarray(reader.offset, reader.offset + header.compressed_page_size);
    reader.offset += header.compressed_page_size;
    if (header.type === "DICTIONARY_PAGE") {
      const page = decompressPage(
        body,
        Number(header.uncompressed_page_size),
        decoder.codec,
        compressors,
      );
      const r = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
      const dict = readPlain(
        r,
        decoder.type,
        header.dictionary_page_header!.num_values,
        decoder.element.type_length,
      );
      dictionary = convert(dict, decoder);
      dictionaryJson = undefined;
      continue;
    }
    let levels;
    let encoding;
    let n: number;
    if (header.type === "DATA_PAGE") {
      const daph = header.data_page_header!;
      const page = decompressPage(
        body,
        Number(header.uncompressed_page_size),
        decoder.codec,
        compressors,
      );
      levels = readDataPage(page, daph, decoder);
      encoding = daph.encoding;
      n = daph.num_values;
    } else if (header.type === "DATA_PAGE_V2") {
      const daph2 = header.data_page_header_v2!;
      levels = readDataPageV2(body, header, decoder);
      encoding = daph2.encoding;
      n = daph2.num_values;
    } else {
      continue; // index pages
    }
    if (count + n > numValues) throw new Error("page holds more values than its column chunk");
    const { definitionLevels: d, repetitionLevels: r, dataPage } = levels;
    if (def) {
      if (!d || d.length === 0) def.fill(maxDef, count, count + n);
      else {
        for (let i = 0; i < n; i++) def[count + i] = d[i]!;
        anyNull = true;
      }
    }
    if (rep && r.length) { for (let i = 0; i < n; i++) rep[count + i] = r[i]!; }
    if (dictionary && encoding.endsWith("_DICTIONARY")) {
      // Each dictionary entry is serialized once, not once per row.
      const dj = dictionaryJson ??= Array.from(dictionary as ArrayLike<unknown>, valueJson);
      for (let i = 0; i < dataPage.length; i++) values.push(dj[dataPage[i] as number]);
    } else {
      const page = convertWithDictionary(dataPage, dictionary, encoding, decoder);
      for (let i = 0; i < page.length; i++) values.push(valueJson(page[i]));
    }
    count += n;
  }
  if (count !== numValues) {
    throw new Error(`column chunk ends after ${count} of ${numValues} values`);
  }
  return { maxDef, def: anyNull ? def : undefined, rep, values, i: 0, v: 0 };
}

function chunkRange(
  col: { dictionary_page_offset?: bigint; data_page_offset: bigint; total_compressed_size: bigint },
): [number, number] {
  const data = Number(col.data_page_offset);
  const dict = col.dictionary_page_offset === undefined
    ? undefined
    : Number(col.dictionary_page_offset);
  const start = dict !== undefined && dict > 0 && dict < data ? dict : data;
  return [start, start + Number(col.total_compressed_size)];
}

/** Yields the events of `file` as JSON text, in row order, one row group decoded at a time. */
export async function* readEventJson(
  file: AsyncBuffer,
  options: ReadEventJsonOptions = {},
): AsyncGenerator<JsonSlice> {
  const { signal, startRow = 0, sliceRows = 1000, name = "object" } = options;
  const tail = options.append ? options.append + "}" : "}";
  const metadata: FileMetaData = await readMetadata(file, name);
  let fields: Plan[];
  let leafPaths: string[][];
  let schemaLeaves: { path: SchemaTree[] }[];
  try {
    const root = parquetSchema(metadata);
    ({ fields, leafPaths } = compile(root));
    schemaLeaves = leafPaths.map((p) => ({ path: pathTo(root, p) }));
  } catch (e) {
    throw wrap(e, name);
  }
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const rows = Number(group.num_rows);
    const groupEnd = groupStart + rows;
    if (groupEnd <= startRow || rows === 0) {
      groupStart = groupEnd;
      continue;
    }
    signal?.throwIfAborted();
    let leaves: Leaf[];
    try {
      const ranges = group.columns.map((c) => chunkRange(c.meta_data!));
      const lo = Math.min(...ranges.map((r) => r[0]));
      const hi = Math.max(...ranges.map((r) => r[1]));
      if (lo < 0 || hi > file.byteLength || hi - lo > file.byteLength) {
        throw new Error(
          `row group byte range ${lo}-${hi} lies outside the ${file.byteLength}-byte object`,
        );
      }
      const bytes = new Uint8Array(await file.slice(lo, hi));
      leaves = group.columns.map((c, i) => {
        const md = c.meta_data!;
        const path = schemaLeaves[i]!.path;
        const element = path.at(-1)!.element;
        const decoder: ColumnDecoder = {
          pathInSchema: md.path_in_schema,
          type: md.type,
          element,
          schemaPath: path,
          codec: md.codec,
          parsers: PARSERS,
          compressors,
          utf8: true,
        };
        let maxDef = 0;
        let maxRep = 0;
        for (const n of path.slice(1)) {
          if (n.element.repetition_type !== "REQUIRED") maxDef++;
          if (n.element.repetition_type === "REPEATED") maxRep++;
        }
        const [s, e] = ranges[i]!;
        return decodeChunk(
          bytes.subarray(s - lo, e - lo),
          decoder,
          maxDef,
          maxRep,
          Number(md.num_values),
        );
      });
    } catch (e) {
      if (isCollectorError(e)) throw e;
      throw wrap(e, name);
    }
    const asm = new Assembler(leaves);
    const emitRow = (): string => {
      let s = "{";
      for (const f of fields) {
        const t = asm.emit(f);
        if (t !== undefined) s += (s.length > 1 ? "," : "") + f.keyJson + t;
      }
      return s.length > 1 && tail.length > 1 ? s + "," + tail : s + tail;
    };
    try {
      let row = groupStart;
      for (; row < startRow; row++) emitRow();
      while (row < groupEnd) {
        signal?.throwIfAborted();
        const end = Math.min(groupEnd, row + sliceRows);
        const json: string[] = new Array(end - row);
        for (let j = 0; j < json.length; j++) json[j] = emitRow();
        yield { rowStart: row, json };
        row = end;
      }
    } catch (e) {
      if (isCollectorError(e) || (e instanceof DOMException && e.name === "AbortError")) throw e;
      throw wrap(e, name);
    }
    groupStart = groupEnd;
  }
}

function pathTo(root: SchemaTree, names: string[]): SchemaTree[] {
  const out = [root];
  let n = root;
  for (const name of names) {
    n = n.children.find((c) => c.element.name === name)!;
    out.push(n);
  }
  return out;
}

function wrap(e: unknown, name: string): CollectorError {
  const msg = e instanceof Error ? e.message : String(e);
  return new CollectorError(
    /unsupported|not supported/i.test(msg) ? "PARQUET_UNSUPPORTED" : "PARQUET_INVALID",
    `Cannot decode Parquet ${name}: ${msg}`,
    { cause: e, context: { object: name } },
  );
}
