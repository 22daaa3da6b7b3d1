/**
 * Bounded work for hostile Parquet objects. hyparquet trusts what a file declares: a page's
 * uncompressed size, its number of values, the length of each run of repeated values, the size a
 * compressed page inflates to. A few crafted bytes can therefore make it allocate gigabytes or
 * loop for minutes. This module checks those declarations before hyparquet acts on them:
 *
 * - the footer: its length must fit in the object, under {@link ParquetLimits.maxFooterBytes},
 *   and under an eighth of the object ({@link FOOTER_FLOOR_BYTES} always), so that a footer
 *   naming the same bytes thousands of times is refused before it is parsed;
 * - the metadata: schema depth and width, rows per row group, each column chunk's declared
 *   uncompressed size and byte range, and each row group's uncompressed bytes against its
 *   compressed bytes ({@link rowGroupCap});
 * - every page, as its column chunk arrives ({@link ReadGuard.buffer}): header fields, the
 *   uncompressed size, the number of values (a dictionary's against the bytes that must hold
 *   them), the runs of the level and dictionary-index streams (a run longer than what is left of
 *   its page is cut, in place, where the page ends),
 *   the bytes a DELTA_BYTE_ARRAY page expands to, and the pages of a row group against its cap;
 * - decompression ({@link ReadGuard.compressors}): output is capped at the declared size while
 *   inflating (`node:zlib` with `maxOutputLength`), so a compression bomb stops at once. Pages
 *   inflated while checking are kept until hyparquet asks for them, so nothing is inflated twice.
 *
 * The page guard is in `read_guard.ts`, bounded inflation in `inflate.ts`, the page header
 * reader in `page_header.ts`. Every violation is a `CollectorError` (`DataError` 601, 604, 605 or 606). {@link outputBudget}
 * bounds the events an object may produce, which the object processor applies (`DataError` 611).
 * @module
 */
import type { AsyncBuffer, ColumnMetaData, FileMetaData, RowGroup, SchemaTree } from "hyparquet";
import { fail } from "./limit_error.ts";

const MiB = 1024 * 1024;
/** Most values one column chunk may declare (its decoders allocate arrays of that length). */
export const MAX_COLUMN_VALUES = 1 << 26;
const GiB = 1024 * MiB;

/** The caps applied to one object. {@link limitsFor} derives them from `max_object_bytes`. */
export interface ParquetLimits {
  /** Largest footer (Thrift metadata) accepted. Default 64 MiB. */
  readonly maxFooterBytes: number;
  /** Deepest schema nesting (the root is depth 0). Default 32. */
  readonly maxSchemaDepth: number;
  /** Most leaf columns. Default 10,000. */
  readonly maxColumns: number;
  /**
   * Most rows in one row group: the larger of 65,536 and 4 per compressed byte of the row group,
   * and never more than this. Default 16,777,216.
   */
  readonly maxRowGroupRows: number;
  /** Largest uncompressed size of one column chunk (declared, and the sum of its pages). */
  readonly maxColumnChunkBytes: number;
  /** Largest uncompressed size of one page (declared, and what it inflates to). */
  readonly maxPageBytes: number;
  /** Most values (including nulls) in one page. Default 4,194,304. */
  readonly maxPageValues: number;
  /**
   * Most bytes decoding one row group may need (see {@link rowGroupMemory}): the memory budget
   * leaves no more for a row group decoded alone (`DataError` 613). Default: no budget.
   */
  readonly maxRowGroupMemoryBytes?: number;
}

/**
 * Least uncompressed bytes a row group may always hold, whatever its compressed size; above
 * it, a row group may hold {@link MAX_ROW_GROUP_RATIO} times its compressed bytes.
 */
export const ROW_GROUP_FLOOR_BYTES = 32 * MiB;
/**
 * Most uncompressed bytes per compressed byte of a row group above {@link ROW_GROUP_FLOOR_BYTES}.
 * Files of mainstream writers stay under ~100 (highly repetitive text under ZSTD); typical OCSF
 * row groups under 10.
 */
export const MAX_ROW_GROUP_RATIO = 200;
/**
 * Largest uncompressed page: a page's JSON is at most 6 bytes per byte (control characters
 * escaped as `\u00XX`), so its text stays under 384 MiB.
 */
export const MAX_PAGE_BYTES = 64 * MiB;
/** A footer may always be this large; above it, at most 1/8 of the object. */
export const FOOTER_FLOOR_BYTES = 1 * MiB;

/**
 * The caps for objects of at most `maxObjectBytes`: a column chunk may hold 4 times the
 * object's bytes uncompressed (at least 64 MiB, at most 4 GiB); a page at most
 * {@link MAX_PAGE_BYTES} of that.
 */
export function limitsFor(maxObjectBytes: number): ParquetLimits {
  if (!(maxObjectBytes > 0)) {
    throw new RangeError(`maxObjectBytes must be a positive number: got ${maxObjectBytes}`);
  }
  const chunk = Math.min(4 * GiB, Math.max(64 * MiB, 4 * maxObjectBytes));
  return {
    maxFooterBytes: 64 * MiB,
    maxSchemaDepth: 32,
    maxColumns: 10_000,
    maxRowGroupRows: 1 << 24,
    maxColumnChunkBytes: chunk,
    maxPageBytes: Math.min(chunk, MAX_PAGE_BYTES),
    maxPageValues: 1 << 22,
  };
}

/** Caps for objects up to 1 GiB (the default `max_object_bytes`). */
export const DEFAULT_LIMITS: ParquetLimits = limitsFor(GiB);

/** Bytes of events one object may always produce, whatever its size. */
export const OUTPUT_FLOOR_BYTES = 256 * MiB;
/**
 * Bytes of events per byte of object above {@link OUTPUT_FLOOR_BYTES}. Security Lake's objects
 * expand 10 to 40 times from Parquet to JSON lines (the interoperability corpus and the public
 * samples: at most 41 times, for strings repeated thousands of times under ZSTD).
 */
export const OUTPUT_RATIO = 100;

/** The most bytes of events an object of `objectBytes` bytes may produce. */
export function outputBudget(objectBytes: number): number {
  return Math.max(OUTPUT_FLOOR_BYTES, OUTPUT_RATIO * objectBytes);
}

/**
 * The memory decoding a row group needs at most, from what its footer declares: its compressed
 * bytes (read) plus its pages' uncompressed bytes (inflated; a writer that puts one page in each
 * column chunk makes the reader hold them all at once).
 */
export function rowGroupMemory(compressed: number, uncompressed: number): number {
  return compressed + uncompressed;
}

/** The most uncompressed bytes a row group of `compressed` bytes may hold. */
export function rowGroupCap(compressed: number): number {
  return Math.max(ROW_GROUP_FLOOR_BYTES, MAX_ROW_GROUP_RATIO * compressed);
}

/**
 * Checks the footer length at the end of `tail` (the last bytes of an object of `byteLength`
 * bytes) before the footer is read: it must fit between the leading and trailing `PAR1` and stay
 * under `maxFooterBytes`. A tail that does not end in `PAR1` is left to the metadata reader.
 */
export function checkFooterLength(
  tail: ArrayBuffer,
  byteLength: number,
  limits: ParquetLimits,
  name: string,
): void {
  if (tail.byteLength < 8) return;
  const view = new DataView(tail);
  if (view.getUint32(tail.byteLength - 4, true) !== 0x31524150) return;
  const length = view.getUint32(tail.byteLength - 8, true);
  if (length > byteLength - 12) {
    fail(
      "PARQUET_FOOTER_INVALID",
      name,
      `footer length ${length} exceeds the object's ${byteLength} bytes`,
      { footer_bytes: length, object_bytes: byteLength },
    );
  }
  const relative = Math.max(FOOTER_FLOOR_BYTES, Math.floor(byteLength / 8));
  if (length > relative && length <= limits.maxFooterBytes) {
    fail(
      "PARQUET_FOOTER_INVALID",
      name,
      `footer length ${length} is more than an eighth of the object's ${byteLength} bytes (at most ${relative} accepted)`,
      { footer_bytes: length, object_bytes: byteLength },
    );
  }
  if (length > limits.maxFooterBytes) {
    fail(
      "PARQUET_FOOTER_INVALID",
      name,
      `footer length ${length} exceeds the ${limits.maxFooterBytes} bytes accepted`,
      { footer_bytes: length },
    );
  }
}

/**
 * An AsyncBuffer whose first read of the object's end checks the footer length (see
 * {@link checkFooterLength}) before the metadata reader acts on it.
 */
export function footerCheckedBuffer(
  file: AsyncBuffer,
  limits: ParquetLimits,
  name: string,
): AsyncBuffer {
  return {
    byteLength: file.byteLength,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const buf = await file.slice(start, end);
      if ((end ?? file.byteLength) >= file.byteLength) {
        checkFooterLength(buf, file.byteLength, limits, name);
      }
      return buf;
    },
  };
}

/**
 * Checks the schema's depth and width from the flat element list, without recursion, before
 * anything builds the schema tree (which recurses once per level).
 */
export function checkSchemaShape(
  metadata: FileMetaData,
  limits: ParquetLimits,
  name: string,
): void {
  const schema = metadata.schema ?? [];
  const open: number[] = []; // children still expected, per open group
  let leaves = 0;
  for (let i = 0; i < schema.length; i++) {
    if (open.length > limits.maxSchemaDepth) {
      fail(
        "PARQUET_SCHEMA_LIMIT",
        name,
        `schema nests deeper than ${limits.maxSchemaDepth} levels (at ${schema[i]?.name})`,
      );
    }
    if (open.length > 0) open[open.length - 1]!--;
    const children = Number(schema[i]?.num_children ?? 0);
    if (children > 0) open.push(children);
    else if (i > 0 && ++leaves > limits.maxColumns) {
      fail("PARQUET_SCHEMA_LIMIT", name, `schema has more than ${limits.maxColumns} columns`);
    }
    while (open.length > 0 && open[open.length - 1]! <= 0) open.pop();
  }
}

/** Collects the leaf columns under `node` by dotted path, checking schema depth and width. */
export function collectLeaves(
  node: SchemaTree,
  path: SchemaTree[],
  out: Map<string, SchemaTree[]>,
  limits: ParquetLimits,
  name: string,
): void {
  if (path.length - 1 > limits.maxSchemaDepth) {
    fail(
      "PARQUET_SCHEMA_LIMIT",
      name,
      `schema nests deeper than ${limits.maxSchemaDepth} levels (at ${node.path.join(".")})`,
    );
  }
  if (node.children.length === 0 && path.length > 1) {
    out.set(node.path.join("."), path);
    if (out.size > limits.maxColumns) {
      fail("PARQUET_SCHEMA_LIMIT", name, `schema has more than ${limits.maxColumns} columns`);
    }
    return;
  }
  for (const child of node.children) collectLeaves(child, [...path, child], out, limits, name);
}

/** What a column chunk's metadata declares, as the page checks use it. */
export interface DeclaredChunk {
  /** Index of its row group. */
  readonly group: number;
  readonly start: number;
  readonly end: number;
  readonly codec: string;
  readonly type: string;
  /** Bits one PLAIN value takes at least. */
  readonly valueBits: number;
  readonly maxDef: number;
  readonly maxRep: number;
  readonly path: string;
}

const TYPE_BITS: Record<string, number> = {
  BOOLEAN: 1,
  INT32: 32,
  FLOAT: 32,
  INT64: 64,
  DOUBLE: 64,
  INT96: 96,
  BYTE_ARRAY: 32, // each value starts with a 4-byte length
};

/**
 * The compressed and uncompressed bytes of `group`'s column chunks, as declared; NaN when a
 * column chunk has no metadata.
 */
export function declaredBytes(group: RowGroup): { compressed: number; uncompressed: number } {
  let compressed = 0;
  let uncompressed = 0;
  for (const c of group.columns ?? []) {
    compressed += Number(c.meta_data?.total_compressed_size);
    uncompressed += Number(c.meta_data?.total_uncompressed_size);
  }
  return { compressed, uncompressed };
}

/**
 * Checks what row group `g` declares as a whole: its uncompressed bytes against its compressed
 * bytes, and its rows. Returns the most uncompressed bytes its pages may hold (`cap`) and the
 * bytes it needs to decode, as declared (`need`, {@link rowGroupMemory}).
 */
export function checkRowGroup(
  g: number,
  group: RowGroup,
  limits: ParquetLimits,
  name: string,
): { cap: number; need: number } {
  const rows = Number(group.num_rows);
  const { compressed, uncompressed } = declaredBytes(group);
  const groupCap = rowGroupCap(compressed);
  if (!(uncompressed <= groupCap)) {
    fail(
      "PARQUET_LIMIT",
      name,
      `row group ${g} declares ${uncompressed} uncompressed bytes in ${compressed} compressed bytes (at most ${groupCap} accepted)`,
      { row_group: g },
    );
  }
  const need = rowGroupMemory(compressed, uncompressed);
  const budget = limits.maxRowGroupMemoryBytes;
  if (budget !== undefined && need > budget) {
    fail(
      "ROW_GROUP_OVER_BUDGET",
      name,
      `row group ${g} needs ${need} bytes to decode (${compressed} compressed, ${uncompressed} uncompressed), more than the ${budget} bytes the memory budget leaves for one row group`,
      { row_group: g, row_group_bytes: need, budget_bytes: budget },
    );
  }
  const maxRows = Math.min(limits.maxRowGroupRows, Math.max(65_536, 4 * compressed));
  if (!(rows >= 0 && rows <= maxRows)) {
    fail(
      "PARQUET_LIMIT",
      name,
      `row group ${g} declares ${group.num_rows} rows in ${compressed} compressed bytes (at most ${maxRows} accepted)`,
      { row_group: g },
    );
  }
  return { cap: groupCap, need };
}

/**
 * Checks what the column chunk `m` of row group `g` declares (sizes, values, where it lies,
 * its place in the schema of `leaves`); returns what its pages will be checked against.
 */
export function checkColumnChunk(
  g: number,
  m: ColumnMetaData,
  leaves: ReadonlyMap<string, SchemaTree[]>,
  byteLength: number,
  limits: ParquetLimits,
  name: string,
): DeclaredChunk {
  const path = (m.path_in_schema ?? []).join(".");
  const declared = Number(m.total_uncompressed_size);
  if (!(declared >= 0 && declared <= limits.maxColumnChunkBytes)) {
    fail(
      "PARQUET_LIMIT",
      name,
      `column ${path} of row group ${g} declares ${m.total_uncompressed_size} uncompressed bytes (at most ${limits.maxColumnChunkBytes} accepted)`,
      { row_group: g, column: path },
    );
  }
  const dict = Number(m.dictionary_page_offset ?? 0);
  if (dict > 0 && dict >= Number(m.data_page_offset)) {
    fail(
      "PARQUET_INVALID",
      name,
      `column ${path} of row group ${g} has its dictionary after its data pages`,
      { row_group: g, column: path },
    );
  }
  const values = Number(m.num_values);
  if (!(values >= 0 && values <= MAX_COLUMN_VALUES)) {
    fail(
      "PARQUET_LIMIT",
      name,
      `column ${path} of row group ${g} declares ${m.num_values} values (at most ${MAX_COLUMN_VALUES} accepted)`,
      { row_group: g, column: path },
    );
  }
  const start = Number(m.dictionary_page_offset || m.data_page_offset);
  const end = start + Number(m.total_compressed_size);
  if (!(start >= 0 && end >= start && end <= byteLength)) {
    fail(
      "PARQUET_INVALID",
      name,
      `column ${path} of row group ${g} lies outside the object (bytes ${start}-${end} of ${byteLength})`,
      { row_group: g, column: path },
    );
  }
  const schemaPath = leaves.get(path);
  if (schemaPath === undefined) {
    fail("PARQUET_INVALID", name, `column ${path} is not in the schema`, { column: path });
  }
  const element = schemaPath[schemaPath.length - 1]!.element;
  let maxDef = 0;
  let maxRep = 0;
  for (const n of schemaPath.slice(1)) {
    if (n.element.repetition_type !== "REQUIRED") maxDef++;
    if (n.element.repetition_type === "REPEATED") maxRep++;
  }
  const typeLength = Number(element.type_length ?? 0);
  if (
    m.type === "FIXED_LEN_BYTE_ARRAY" &&
    !(typeLength > 0 && typeLength <= limits.maxPageBytes)
  ) {
    fail("PARQUET_INVALID", name, `column ${path} has type length ${element.type_length}`);
  }
  return {
    group: g,
    start,
    end,
    codec: String(m.codec),
    type: String(m.type),
    valueBits: m.type === "FIXED_LEN_BYTE_ARRAY" ? 8 * typeLength : TYPE_BITS[m.type] ?? 8,
    maxDef,
    maxRep,
    path,
  };
}
