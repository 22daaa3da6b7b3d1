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
 * Every violation is a `CollectorError` (`DataError` 601, 604, 605 or 606). {@link outputBudget}
 * bounds the events an object may produce, which the object processor applies (`DataError` 611).
 * @module
 */
import { brotliDecompressSync, gunzipSync, zstdDecompressSync } from "node:zlib";
import { parquetSchema } from "hyparquet";
import type { AsyncBuffer, Compressors, FileMetaData, SchemaTree } from "hyparquet";
import { compressors as jsCompressors } from "hyparquet-compressors";
import { CollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";

const MiB = 1024 * 1024;
/** Most values one column chunk may declare (its decoders allocate arrays of that length). */
const MAX_COLUMN_VALUES = 1 << 26;
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

/** The most uncompressed bytes a row group of `compressed` bytes may hold. */
export function rowGroupCap(compressed: number): number {
  return Math.max(ROW_GROUP_FLOOR_BYTES, MAX_ROW_GROUP_RATIO * compressed);
}

function fail(code: ErrorCode, name: string, what: string, context: object = {}): never {
  throw new CollectorError(code, `Cannot decode Parquet ${name}: ${what}`, {
    context: { object: name, ...context },
  });
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

// ---- column chunks ---------------------------------------------------------------------------

const TYPE_BITS: Record<string, number> = {
  BOOLEAN: 1,
  INT32: 32,
  FLOAT: 32,
  INT64: 64,
  DOUBLE: 64,
  INT96: 96,
  BYTE_ARRAY: 32, // each value starts with a 4-byte length
};

/** What the page checks need to know about one column chunk. */
interface Chunk {
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
  checked: boolean;
  /** Uncompressed bytes of the pages checked so far. */
  total: number;
}

/**
 * Checks one object's metadata and then its pages as they are read. Create it once the metadata
 * is known; read through {@link buffer} with {@link compressors}; call {@link release} after each
 * read to drop inflated pages hyparquet did not ask for.
 */
export class ReadGuard {
  readonly #limits: ParquetLimits;
  readonly #name: string;
  readonly #chunks: Chunk[] = [];
  readonly #byStart = new Map<number, Chunk>();
  readonly #inflated = new Map<string, { input: Uint8Array; output: Uint8Array }[]>();
  readonly #compressors: Compressors;
  /** Per row group: the most uncompressed bytes its pages may hold, and what they held so far. */
  readonly #groupCaps: number[] = [];
  readonly #groupTotals: number[] = [];
  /** Pages inflated by hyparquet's request without a check first (0 when every chunk arrived whole). */
  unchecked = 0;

  /**
   * Checks `metadata` of an object of `byteLength` bytes against `limits`; throws `DataError`
   * 601, 605 or 606 on the first violation.
   */
  constructor(metadata: FileMetaData, byteLength: number, limits: ParquetLimits, name: string) {
    this.#limits = limits;
    this.#name = name;
    checkSchemaShape(metadata, limits, name);
    const root = parquetSchema(metadata);
    const leaves = new Map<string, SchemaTree[]>();
    collectLeaves(root, [root], leaves, limits, name);
    if (leaves.size > limits.maxColumns) {
      fail(
        "PARQUET_SCHEMA_LIMIT",
        name,
        `schema has ${leaves.size} columns, more than the ${limits.maxColumns} accepted`,
      );
    }
    for (const [g, group] of (metadata.row_groups ?? []).entries()) {
      const rows = Number(group.num_rows);
      let compressed = 0;
      let uncompressed = 0;
      for (const c of group.columns ?? []) {
        compressed += Number(c.meta_data?.total_compressed_size);
        uncompressed += Number(c.meta_data?.total_uncompressed_size);
      }
      const groupCap = rowGroupCap(compressed);
      this.#groupCaps.push(groupCap);
      this.#groupTotals.push(0);
      if (!(uncompressed <= groupCap)) {
        fail(
          "PARQUET_LIMIT",
          name,
          `row group ${g} declares ${uncompressed} uncompressed bytes in ${compressed} compressed bytes (at most ${groupCap} accepted)`,
          { row_group: g },
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
      for (const c of group.columns ?? []) {
        const m = c.meta_data;
        if (!m) continue; // hyparquet refuses it
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
        this.#chunks.push({
          group: g,
          start,
          end,
          codec: String(m.codec),
          type: String(m.type),
          valueBits: m.type === "FIXED_LEN_BYTE_ARRAY" ? 8 * typeLength : TYPE_BITS[m.type] ?? 8,
          maxDef,
          maxRep,
          path,
          checked: false,
          total: 0,
        });
      }
    }
    this.#chunks.sort((a, b) => a.start - b.start);
    for (const c of this.#chunks) this.#byStart.set(c.start, c);
    this.#compressors = this.#makeCompressors();
  }

  /** `file`, with every column chunk checked page by page as it arrives (see the module). */
  buffer(file: AsyncBuffer): AsyncBuffer {
    return {
      byteLength: file.byteLength,
      slice: async (start: number, end = file.byteLength): Promise<ArrayBuffer> => {
        const buf = await file.slice(start, end);
        const stop = start + buf.byteLength;
        for (const c of this.#chunks) {
          if (c.start >= stop) break;
          if (c.checked || c.start < start || c.end > stop) continue;
          this.#checkChunk(c, new Uint8Array(buf, c.start - start, c.end - c.start));
          c.checked = true;
        }
        return buf;
      },
    };
  }

  /** Decompressors that stop at the declared size and reuse pages inflated by the checks. */
  get compressors(): Compressors {
    return this.#compressors;
  }

  /** Drops inflated pages nobody asked for (call after each read). */
  release(): void {
    this.#inflated.clear();
  }

  #makeCompressors(): Compressors {
    const out: Compressors = {};
    for (const codec of ["SNAPPY", "GZIP", "BROTLI", "ZSTD", "LZ4", "LZ4_RAW"] as const) {
      out[codec] = (input: Uint8Array, outputLength: number): Uint8Array => {
        const kept = this.#take(input, outputLength);
        if (kept) return kept;
        this.unchecked++;
        return this.#inflate(codec, input, outputLength);
      };
    }
    return out;
  }

  #inflate(codec: string, input: Uint8Array, outputLength: number): Uint8Array {
    if (!(outputLength >= 0 && outputLength <= this.#limits.maxPageBytes)) {
      fail(
        "PARQUET_LIMIT",
        this.#name,
        `a page declares ${outputLength} uncompressed bytes (at most ${this.#limits.maxPageBytes} accepted)`,
      );
    }
    // A page of no bytes (Polars writes empty dictionaries as one LZ4 token, which
    // hyparquet-compressors refuses): nothing to inflate.
    if (outputLength === 0) return new Uint8Array(0);
    // One output chunk of the declared size (up to 8 MiB, so that a page lying about its size
    // costs no more up front): node:zlib otherwise inflates in 16 KiB chunks and joins them.
    // GZIP pages decode ~5% faster.
    const opts = {
      maxOutputLength: Math.max(1, outputLength),
      chunkSize: Math.min(Math.max(64, outputLength), 8 * 1024 * 1024),
    };
    let out: Uint8Array;
    try {
      switch (codec) {
        case "GZIP":
          out = gunzipSync(input, opts);
          break;
        case "ZSTD":
          out = zstdDecompressSync(input, opts);
          break;
        case "BROTLI":
          out = brotliDecompressSync(input, opts);
          break;
        default: {
          const f = jsCompressors[codec as keyof Compressors];
          if (!f) {
            fail("PARQUET_UNSUPPORTED", this.#name, `compression codec ${codec} not supported`);
          }
          out = f(input, outputLength);
        }
      }
    } catch (e) {
      if (e instanceof CollectorError) throw e;
      const tooLarge = (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
      throw new CollectorError(
        tooLarge ? "PARQUET_LIMIT" : "PARQUET_INVALID",
        `Cannot decode Parquet ${this.#name}: ${codec} page ${
          tooLarge
            ? `inflates to more than its declared ${outputLength} bytes`
            : `cannot be decompressed (${e instanceof Error ? e.message : String(e)})`
        }`,
        { cause: e, context: { object: this.#name } },
      );
    }
    if (out.length !== outputLength) {
      fail(
        "PARQUET_INVALID",
        this.#name,
        `${codec} page inflates to ${out.length} bytes, not the ${outputLength} its header declares`,
      );
    }
    return out;
  }

  #key(input: Uint8Array, outputLength: number): string {
    const n = input.length;
    return `${outputLength}:${n}:${n ? input[0]! | input[n >> 1]! << 8 | input[n - 1]! << 16 : 0}`;
  }

  #keep(input: Uint8Array, output: Uint8Array): void {
    const key = this.#key(input, output.length);
    const list = this.#inflated.get(key);
    if (list) list.push({ input, output });
    else this.#inflated.set(key, [{ input, output }]);
  }

  #take(input: Uint8Array, outputLength: number): Uint8Array | undefined {
    const key = this.#key(input, outputLength);
    const list = this.#inflated.get(key);
    if (!list) return undefined;
    for (let i = 0; i < list.length; i++) {
      if (sameBytes(list[i]!.input, input)) {
        const { output } = list[i]!;
        list.splice(i, 1);
        if (list.length === 0) this.#inflated.delete(key);
        return output;
      }
    }
    return undefined;
  }

  /** Checks the pages of one column chunk, the way hyparquet will walk them. */
  #checkChunk(c: Chunk, bytes: Uint8Array): void {
    this.#restart(c);
    let off = 0;
    while (off < bytes.length - 1) off = this.#checkPage(c, bytes, off);
  }

  /**
   * Checks the page at byte `off` of `bytes`, a window of the column chunk that starts at
   * `chunkStart` in the object, beginning at byte `base` of the chunk; the window must hold the
   * whole page or reach the chunk's end. The page is inflated once, for the decoder to take
   * through {@link compressors}. For readers that walk a chunk's pages one at a time, so that no
   * more than the page being decoded is held inflated. Call it for the pages in order, from the
   * chunk's first byte. Returns where the next page starts in `bytes`.
   */
  checkPage(chunkStart: number, bytes: Uint8Array, off: number, base = 0): number {
    const c = this.#byStart.get(chunkStart);
    if (c === undefined) {
      fail("PARQUET_INVALID", this.#name, `no column chunk starts at byte ${chunkStart}`);
    }
    if (base + off === 0) this.#restart(c);
    return this.#checkPage(c, bytes, off, base);
  }

  /** A chunk checked again from its start (read once more) counts once in its row group. */
  #restart(c: Chunk): void {
    this.#groupTotals[c.group]! -= c.total;
    c.total = 0;
  }

  #checkPage(c: Chunk, bytes: Uint8Array, off: number, base = 0): number {
    const limits = this.#limits;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const where = (what: string) => `column ${c.path}: ${what}`;
    let h: PageHeader;
    try {
      h = readPageHeader(view, off);
    } catch (e) {
      throw new CollectorError(
        "PARQUET_INVALID",
        `Cannot decode Parquet ${this.#name}: ${
          where(
            `page header at byte ${c.start + base + off} is damaged (${
              e instanceof Error ? e.message : e
            })`,
          )
        }`,
        { cause: e, context: { object: this.#name, column: c.path } },
      );
    }
    const bodyStart = off + h.headerBytes;
    const { compressed, uncompressed } = h;
    if (!(compressed >= 0 && bodyStart + compressed <= bytes.length)) {
      fail(
        "PARQUET_INVALID",
        this.#name,
        where(`page size ${compressed} runs past its column chunk`),
      );
    }
    if (!(uncompressed >= 0 && uncompressed <= limits.maxPageBytes)) {
      fail(
        "PARQUET_LIMIT",
        this.#name,
        where(
          `a page declares ${uncompressed} uncompressed bytes (at most ${limits.maxPageBytes} accepted)`,
        ),
      );
    }
    c.total += uncompressed;
    const group = (this.#groupTotals[c.group]! += uncompressed);
    if (group > this.#groupCaps[c.group]!) {
      fail(
        "PARQUET_LIMIT",
        this.#name,
        where(
          `the pages of row group ${c.group} hold more than ${this.#groupCaps[
            c.group
          ]!} uncompressed bytes`,
        ),
      );
    }
    if (c.total > limits.maxColumnChunkBytes) {
      fail(
        "PARQUET_LIMIT",
        this.#name,
        where(`pages hold more than ${limits.maxColumnChunkBytes} uncompressed bytes`),
      );
    }
    const body = bytes.subarray(bodyStart, bodyStart + compressed);
    // Required fields left out make hyparquet compute offsets from `undefined` (NaN) and
    // read the same byte forever.
    const missing = h.type === 0
      ? !h.data || h.data.numValues === undefined || h.data.encoding === undefined
      : h.type === 2
      ? !h.dictionary || h.dictionary.numValues === undefined
      : h.type === 3
      ? !h.v2 || [
        h.v2.numValues,
        h.v2.numNulls,
        h.v2.numRows,
        h.v2.encoding,
        h.v2.defLength,
        h.v2.repLength,
      ].includes(undefined)
      : false;
    if (missing) {
      fail("PARQUET_INVALID", this.#name, where(`a page header lacks required fields`));
    }
    if (h.type === 2) this.#checkDictionary(c, h, body, where);
    else if (h.type === 0) this.#checkDataPage(c, h, body, where);
    else if (h.type === 3) this.#checkDataPageV2(c, h, body, where);
    return bodyStart + compressed;
  }

  #values(n: number | undefined, what: string, where: (w: string) => string): number {
    const v = n ?? 0;
    if (!(v >= 0 && v <= this.#limits.maxPageValues)) {
      fail(
        "PARQUET_LIMIT",
        this.#name,
        where(`${what} declares ${v} values (at most ${this.#limits.maxPageValues} accepted)`),
      );
    }
    return v;
  }

  #checkDictionary(
    c: Chunk,
    h: PageHeader,
    body: Uint8Array,
    where: (w: string) => string,
  ): void {
    const n = this.#values(h.dictionary?.numValues, "a dictionary page", where);
    const fits = Math.floor((h.uncompressed * 8) / c.valueBits);
    if (n > fits) {
      fail(
        "PARQUET_LIMIT",
        this.#name,
        where(`a dictionary page declares ${n} ${c.type} values in ${h.uncompressed} bytes`),
      );
    }
    // Inflated now, with its size capped, and kept for hyparquet.
    if (c.codec !== "UNCOMPRESSED") this.#page(c, body, h.uncompressed);
  }

  #page(c: Chunk, input: Uint8Array, outputLength: number): Uint8Array {
    if (c.codec === "UNCOMPRESSED") return input;
    const out = this.#inflate(c.codec, input, outputLength);
    this.#keep(input, out);
    return out;
  }

  #checkDataPage(c: Chunk, h: PageHeader, body: Uint8Array, where: (w: string) => string): void {
    const n = this.#values(h.data?.numValues, "a data page", where);
    if (c.codec === "UNCOMPRESSED" && body.length !== h.uncompressed) return; // hyparquet refuses it
    const page = this.#page(c, body, h.uncompressed);
    const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
    let off = 0;
    // Values the page holds (not null): what hyparquet reads its value stream for.
    let present = n;
    const levels = (max: number, what: string, target?: number) => {
      if (max === 0) return;
      if (off + 4 > page.length) return;
      const length = view.getUint32(off, true);
      const matches = this.#runs(view, off + 4, bitWidth(max), n, what, where, target);
      if (target !== undefined) present = matches;
      off += 4 + length;
    };
    levels(c.maxRep, "repetition levels");
    levels(c.maxDef, "definition levels", c.maxDef);
    this.#checkValues(c, h.data!.encoding, view, off, present, false, where);
  }

  #checkDataPageV2(c: Chunk, h: PageHeader, body: Uint8Array, where: (w: string) => string): void {
    const v2 = h.v2!;
    const n = this.#values(v2.numValues, "a data page", where);
    const nulls = v2.numNulls ?? 0;
    const rows = v2.numRows ?? 0;
    const rep = v2.repLength ?? 0;
    const def = v2.defLength ?? 0;
    if (!(nulls >= 0 && nulls <= n && rows >= 0 && rows <= n)) {
      fail(
        "PARQUET_INVALID",
        this.#name,
        where(`a data page declares ${n} values, ${nulls} nulls and ${rows} rows`),
      );
    }
    if (!(rep >= 0 && def >= 0 && rep + def <= body.length && rep + def <= h.uncompressed)) {
      fail("PARQUET_INVALID", this.#name, where("a data page's level lengths exceed the page"));
    }
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    if (c.maxRep > 0) this.#runs(view, 0, bitWidth(c.maxRep), n, "repetition levels", where);
    if (c.maxDef > 0) this.#runs(view, rep, bitWidth(c.maxDef), n, "definition levels", where);
    const valuesLength = h.uncompressed - rep - def;
    let values = body.subarray(rep + def);
    if (v2.isCompressed !== false && valuesLength) values = this.#page(c, values, valuesLength);
    const vview = new DataView(values.buffer, values.byteOffset, values.byteLength);
    this.#checkValues(c, v2.encoding, vview, 0, n - nulls, true, where);
  }

  /**
   * Checks the value stream of a data page the way hyparquet reads it: dictionary indices
   * (a bit width, then runs), RLE booleans (a 4-byte length, then runs) and DELTA_BYTE_ARRAY.
   */
  #checkValues(
    c: Chunk,
    encoding: number | undefined,
    view: DataView,
    off: number,
    n: number,
    v2: boolean,
    where: (w: string) => string,
  ): void {
    if (off >= view.byteLength) return;
    const dictionary = encoding === 2 || encoding === 8;
    if (v2 ? encoding === 3 : (dictionary || encoding === 3) && c.type === "BOOLEAN") {
      this.#runs(view, off + 4, 1, n, "values", where);
    } else if (dictionary || (!v2 && encoding === 3)) {
      const width = view.getUint8(off);
      if (width > 32) {
        fail("PARQUET_INVALID", this.#name, where(`dictionary indices of ${width} bits`));
      }
      if (width > 0 || v2) this.#runs(view, off + 1, width, n, "dictionary indices", where);
    } else if (encoding === 5 || encoding === 6) {
      // DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY: a bad header makes hyparquet loop forever.
      this.#deltaHeader(view, off, where);
    } else if (encoding === 7) {
      this.#checkDeltaByteArray(view, off, n, where);
    }
  }

  /**
   * Checks the header of a DELTA_BINARY_PACKED stream as the format requires it: a block size
   * that is a positive multiple of 128, split in miniblocks of a multiple of 32 values. Returns
   * the header's fields and where the first block starts.
   */
  #deltaHeader(view: DataView, off: number, where: (w: string) => string) {
    let h;
    try {
      const r = new ThriftReader(view, off);
      const blockSize = r.varint();
      const miniblocks = r.varint();
      r.varint();
      r.zigzag();
      h = { blockSize, miniblocks, next: r.off };
    } catch {
      return undefined; // hyparquet stops with a range error
    }
    const { blockSize, miniblocks } = h;
    if (
      !(blockSize > 0 && blockSize % 128 === 0 && miniblocks > 0 &&
        (blockSize / miniblocks) % 32 === 0)
    ) {
      fail(
        "PARQUET_INVALID",
        this.#name,
        where(`a delta-encoded page has blocks of ${blockSize} values in ${miniblocks} miniblocks`),
      );
    }
    return h;
  }

  /**
   * Walks a run-length / bit-packed hybrid stream as hyparquet will read it for an array of
   * `limit` values. A run longer than what is left of the page is legal (DuckDB writes them) but
   * hyparquet writes every value of an RLE run, whatever the array's length, and reads every byte
   * a bit-packed run declares: such a run's header is rewritten in place, with as many bytes as
   * before, to end where the page's values end, so that every decoder reads exactly what the page
   * needs. Refuses only a run that could loop without reading (an empty bit-packed run). Returns
   * how many of the `limit` values equal `target` (0 without one), so far as the stream holds them.
   */
  #runs(
    view: DataView,
    start: number,
    width: number,
    limit: number,
    what: string,
    where: (w: string) => string,
    target = -1,
  ): number {
    let off = start;
    let seen = 0;
    let matches = 0;
    const bytesPerRle = (width + 7) >> 3;
    while (seen < limit) {
      if (off >= view.byteLength) return matches; // hyparquet stops with a range error
      const r = readVarIntAt(view, off);
      if (r === undefined) return matches;
      const header = r.value;
      const headerStart = off;
      off = r.next;
      const left = limit - seen;
      if (header & 1) {
        let groups = header >>> 1;
        if (groups === 0) {
          fail("PARQUET_LIMIT", this.#name, where(`${what}: an empty bit-packed run`));
        }
        if (groups * 8 > left + 7) {
          groups = Math.ceil(left / 8);
          writePaddedVarInt(view, headerStart, r.next, (groups << 1) | 1);
        }
        const count = groups * 8;
        if (target >= 0) matches += countPacked(view, off, width, Math.min(count, left), target);
        off += Math.ceil((count * width) / 8);
        seen += count;
      } else {
        let count = header >>> 1;
        if (count > left) {
          count = left;
          writePaddedVarInt(view, headerStart, r.next, count * 2);
        }
        if (target >= 0 && off + bytesPerRle <= view.byteLength) {
          let value = 0;
          for (let i = 0; i < bytesPerRle; i++) value |= view.getUint8(off + i) << (i << 3);
          if (value === target) matches += count;
        }
        off += bytesPerRle;
        seen += count;
      }
    }
    return matches;
  }

  /** DELTA_BYTE_ARRAY copies each value's prefix from the one before: bound what it expands to. */
  #checkDeltaByteArray(view: DataView, off: number, n: number, where: (w: string) => string): void {
    const prefix = new Int32Array(n);
    const suffix = new Int32Array(n);
    let next: number | undefined;
    try {
      if (!this.#deltaHeader(view, off, where)) return;
      next = deltaInt32(view, off, n, prefix);
      if (next !== undefined && this.#deltaHeader(view, next, where)) {
        next = deltaInt32(view, next, n, suffix);
      } else next = undefined;
    } catch (e) {
      if (e instanceof CollectorError) throw e;
      return; // hyparquet fails on it the same way
    }
    if (next === undefined) return;
    let total = 0;
    let last = 0;
    for (let i = 0; i < n; i++) {
      const p = prefix[i]!;
      const s = suffix[i]!;
      if (p < 0 || s < 0 || p > last) return; // hyparquet fails on it
      last = p + s;
      total += last;
      if (total > this.#limits.maxPageBytes) {
        fail(
          "PARQUET_LIMIT",
          this.#name,
          where(`a DELTA_BYTE_ARRAY page expands to more than ${this.#limits.maxPageBytes} bytes`),
        );
      }
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // The same bytes of the same buffer, as when the check and the read see one chunk's bytes.
  if (a.buffer === b.buffer && a.byteOffset === b.byteOffset) return true;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function bitWidth(value: number): number {
  return 32 - Math.clz32(value);
}

function collectLeaves(
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

// ---- Thrift compact protocol: just enough to read page headers --------------------------------

/** The page header fields the checks use. `type`: 0 data, 1 index, 2 dictionary, 3 data v2. */
export interface PageHeader {
  headerBytes: number;
  type: number;
  uncompressed: number;
  compressed: number;
  data?: { numValues?: number; encoding?: number };
  dictionary?: { numValues?: number };
  v2?: {
    numValues?: number;
    numNulls?: number;
    numRows?: number;
    encoding?: number;
    defLength?: number;
    repLength?: number;
    isCompressed?: boolean;
  };
}

type Thrift = Map<number, number | boolean | Thrift | undefined>;

class ThriftReader {
  off: number;
  constructor(readonly view: DataView, start: number) {
    this.off = start;
  }

  byte(): number {
    return this.view.getUint8(this.off++);
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      if (shift < 32) result |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7;
    }
    throw new Error("varint longer than 10 bytes");
  }

  zigzag(): number {
    const n = this.varint();
    return (n >>> 1) ^ -(n & 1);
  }

  struct(depth: number): Thrift {
    if (depth > 8) throw new Error("structures nested too deeply");
    const out: Thrift = new Map();
    let fid = 0;
    for (;;) {
      const b = this.byte();
      const type = b & 0x0f;
      if (type === 0) return out;
      const delta = b >> 4;
      fid = delta ? fid + delta : this.zigzag();
      out.set(fid, this.value(type, depth));
    }
  }

  value(type: number, depth: number): number | boolean | Thrift | undefined {
    switch (type) {
      case 1:
        return true;
      case 2:
        return false;
      case 3:
        return this.view.getInt8(this.off++);
      case 4:
      case 5:
        return this.zigzag();
      case 6:
        this.varint(); // i64: not needed
        return undefined;
      case 7:
        this.off += 8;
        return undefined;
      case 8: {
        const n = this.varint();
        if (n < 0 || this.off + n > this.view.byteLength) throw new Error(`binary of ${n} bytes`);
        this.off += n;
        return undefined;
      }
      case 9:
      case 10: {
        const b = this.byte();
        let size = b >> 4;
        const elem = b & 0x0f;
        if (size === 15) size = this.varint();
        if (size < 0 || size > this.view.byteLength - this.off) throw new Error(`list of ${size}`);
        for (let i = 0; i < size; i++) {
          if (elem === 1 || elem === 2) this.off++;
          else this.value(elem, depth + 1);
        }
        return undefined;
      }
      case 11: {
        const size = this.varint();
        if (size < 0 || size > this.view.byteLength - this.off) throw new Error(`map of ${size}`);
        if (size === 0) return undefined;
        const kv = this.byte();
        for (let i = 0; i < size; i++) {
          this.value(kv >> 4, depth + 1);
          this.value(kv & 0x0f, depth + 1);
        }
        return undefined;
      }
      case 12:
        return this.struct(depth + 1);
      default:
        throw new Error(`unknown field type ${type}`);
    }
  }
}

const num = (v: unknown) => (typeof v === "number" ? v : undefined);

/**
 * Reads the page header at `start` (Thrift compact protocol): the fields the checks use and the
 * header's length. Throws a plain `Error` when it is damaged. Exported for tools and tests.
 */
export function readPageHeader(view: DataView, start: number): PageHeader {
  const r = new ThriftReader(view, start);
  const h = r.struct(0);
  const sub = (id: number) => {
    const s = h.get(id);
    return s instanceof Map ? s : undefined;
  };
  const dp = sub(5);
  const dict = sub(7);
  const v2 = sub(8);
  return {
    headerBytes: r.off - start,
    type: num(h.get(1)) ?? -1,
    uncompressed: num(h.get(2)) ?? -1,
    compressed: num(h.get(3)) ?? -1,
    data: dp && { numValues: num(dp.get(1)), encoding: num(dp.get(2)) },
    dictionary: dict && { numValues: num(dict.get(1)) },
    v2: v2 && {
      numValues: num(v2.get(1)),
      numNulls: num(v2.get(2)),
      numRows: num(v2.get(3)),
      encoding: num(v2.get(4)),
      defLength: num(v2.get(5)),
      repLength: num(v2.get(6)),
      isCompressed: typeof v2.get(7) === "boolean" ? v2.get(7) as boolean : undefined,
    },
  };
}

/**
 * Writes `value` as a ULEB128 varint filling exactly the bytes `start..end` of `view` (with
 * redundant continuation bytes where it needs fewer), over a varint that held a larger value.
 */
function writePaddedVarInt(view: DataView, start: number, end: number, value: number): void {
  let v = value;
  for (let i = start; i < end; i++) {
    view.setUint8(i, (v & 0x7f) | (i < end - 1 ? 0x80 : 0));
    v = Math.floor(v / 128);
  }
}

/** How many of the `count` bit-packed values of `width` bits from byte `off` equal `target`. */
function countPacked(
  view: DataView,
  off: number,
  width: number,
  count: number,
  target: number,
): number {
  const mask = (1 << width) - 1;
  let matches = 0;
  let bit = off * 8;
  const end = view.byteLength * 8;
  for (let k = 0; k < count; k++, bit += width) {
    if (bit + width > end) break;
    let b = bit >>> 3;
    let have = 8 - (bit & 7);
    let v = view.getUint8(b++) >>> (bit & 7);
    while (have < width) {
      v |= view.getUint8(b++) << have;
      have += 8;
    }
    if ((v & mask) === target) matches++;
  }
  return matches;
}

/** hyparquet's varint, bit for bit (shifts past 31 wrap), for the run walker. */
function readVarIntAt(view: DataView, start: number): { value: number; next: number } | undefined {
  let result = 0;
  let shift = 0;
  let off = start;
  for (;;) {
    if (off >= view.byteLength) return undefined;
    const b = view.getUint8(off++);
    result |= (b & 0x7f) << shift;
    if (!(b & 0x80)) return { value: result, next: off };
    shift += 7;
  }
}

/**
 * Decodes `count` DELTA_BINARY_PACKED INT32 values into `out`, as hyparquet does; returns the
 * offset after them, or undefined when the stream ends early (hyparquet fails on it too).
 */
function deltaInt32(
  view: DataView,
  start: number,
  count: number,
  out: Int32Array,
): number | undefined {
  const r = new ThriftReader(view, start);
  const blockSize = r.varint();
  const miniblocks = r.varint();
  r.varint();
  let value = r.zigzag();
  if (count === 0) return r.off;
  if (!(blockSize > 0 && miniblocks > 0 && blockSize % miniblocks === 0)) return undefined;
  const perMiniblock = blockSize / miniblocks;
  let i = 0;
  out[i++] = value;
  while (i < count) {
    const minDelta = r.zigzag();
    const widths = r.off;
    let off = widths + miniblocks;
    for (let m = 0; m < miniblocks && i < count; m++) {
      if (widths + m >= view.byteLength) return undefined;
      const width = view.getUint8(widths + m);
      if (width > 32) return undefined;
      const end = off + (perMiniblock * width) / 8;
      let bitOffset = 0;
      for (let j = 0; j < perMiniblock && i < count; j++) {
        let residual = 0;
        let read = 0;
        while (read < width) {
          if (off >= view.byteLength) return undefined;
          const take = Math.min(8 - bitOffset, width - read);
          residual |= ((view.getUint8(off) >>> bitOffset) & ((1 << take) - 1)) << read;
          read += take;
          bitOffset += take;
          if (bitOffset === 8) {
            bitOffset = 0;
            off++;
          }
        }
        value = (value + minDelta + residual) | 0;
        out[i++] = value;
      }
      off = end;
    }
    r.off = off;
  }
  return r.off;
}
