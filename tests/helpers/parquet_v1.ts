/**
 * Rewrites a Parquet file into the page layout parquet-mr (Security Lake's Avro writer) produces:
 * DATA_PAGE (v1) pages, many per column chunk, split at arbitrary level entries, so a row of a
 * list or map column may continue on the next page; optionally the later pages of a
 * dictionary-encoded chunk written PLAIN, as parquet-mr does when its dictionary grows too big.
 * The rows stay the same: only the pages (and the footer that locates them) change.
 *
 * {@link describePages} reads back what a file's pages really are, and {@link columnValues} each
 * column chunk's levels and values (no row assembly), to check the rewrite.
 * @module
 */
import { gzipSync } from "node:zlib";
import { parquetMetadata } from "hyparquet";
import type {
  ColumnChunk,
  ColumnMetaData,
  CompressionCodec,
  DecodedArray,
  Encoding,
  FileMetaData,
  PageHeader,
  ParquetType,
  RowGroup,
} from "hyparquet";
import type { ColumnDecoder, DataPage, PageEncodingStats } from "hyparquet/src/types.js";
import { parquetHeader } from "hyparquet/src/column.js";
import { decompressPage, readDataPage, readDataPageV2 } from "hyparquet/src/datapage.js";
import { readRleBitPackedHybrid } from "hyparquet/src/encoding.js";
import { readPlain } from "hyparquet/src/plain.js";
import {
  getMaxDefinitionLevel,
  getMaxRepetitionLevel,
  getSchemaPath,
} from "hyparquet/src/schema.js";
import { DEFAULT_PARSERS } from "hyparquet/src/convert.js";
import { compressors as jsCompressors } from "hyparquet-compressors";
import { ByteWriter } from "hyparquet-writer/src/bytewriter.js";
import { writePageHeader } from "hyparquet-writer/src/datapage.js";
import { writeRleBitPackedHybrid } from "hyparquet-writer/src/encoding.js";
import { writeMetadata } from "hyparquet-writer/src/metadata.js";
import { writePlain } from "hyparquet-writer/src/plain.js";
import { snappyCompress } from "hyparquet-writer/src/snappy.js";

/** Codecs the rewrite can write. */
export type V1Codec = "UNCOMPRESSED" | "GZIP" | "SNAPPY";

/** Options of {@link rewriteAsV1}. */
export interface RewriteV1Options {
  /**
   * Level entries (values including nulls and empty lists) per data page. Pages are cut every
   * `pageEntries` entries of the chunk, wherever rows start or end.
   */
  pageEntries: number;
  /**
   * Whether the first page of leaf column `c` holds `1 + (5c + 3) % pageEntries` entries instead,
   * so that the columns of a row group change pages at different rows. Default true.
   */
  stagger?: boolean;
  /** Codec of every rewritten page. Default "UNCOMPRESSED". */
  codec?: V1Codec;
  /**
   * Dictionary-encoded chunks: data pages from this index on (0-based, in the chunk) are written
   * PLAIN with the values taken from the dictionary, as parquet-mr falls back when its
   * dictionary grows too big. A chunk with fewer pages stays dictionary-encoded. Default: never.
   */
  plainFromPage?: number;
  /**
   * Encoding of dictionary-encoded data pages. Default "PLAIN_DICTIONARY" (parquet-mr's v1
   * writer, which also labels the dictionary page so); "RLE_DICTIONARY" labels the dictionary
   * page PLAIN.
   */
  dictionaryEncoding?: "PLAIN_DICTIONARY" | "RLE_DICTIONARY";
  /**
   * Encoding of BOOLEAN data pages: "PLAIN" (bit-packed, parquet-mr's v1 writer; the default)
   * or "RLE" (a 4-byte length, then the RLE / bit-packed hybrid, as hyparquet-writer does).
   */
  booleanEncoding?: "PLAIN" | "RLE";
}

/** How the values of a column chunk are held while it is rewritten. */
interface Chunk {
  rep?: number[];
  def?: number[];
  /** Dictionary indices (when `dictionary` is set) or PLAIN values of the non-null entries. */
  values: unknown[];
  dictionary?: DecodedArray;
  /** The values of the non-null entries, dictionary indices resolved. */
  resolved: unknown[];
  /** Whether the chunk mixes dictionary-encoded and other data pages. */
  mixed: boolean;
}

const bitWidth = (max: number) => 32 - Math.clz32(max);

function compress(codec: V1Codec, bytes: Uint8Array): Uint8Array {
  switch (codec) {
    case "UNCOMPRESSED":
      return bytes;
    case "GZIP":
      return new Uint8Array(gzipSync(bytes));
    case "SNAPPY":
      return snappyCompress(bytes);
  }
}

/** Where a column chunk's pages start (the dictionary page, when there is one). */
function chunkStart(md: ColumnMetaData): number {
  const data = Number(md.data_page_offset);
  const dict = md.dictionary_page_offset === undefined
    ? undefined
    : Number(md.dictionary_page_offset);
  return dict !== undefined && dict > 0 && dict < data ? dict : data;
}

/** Leaf `md`'s decoder as hyparquet's page readers want it. */
function decoderFor(metadata: FileMetaData, md: ColumnMetaData): ColumnDecoder {
  const schemaPath = getSchemaPath(metadata.schema, md.path_in_schema);
  return {
    pathInSchema: md.path_in_schema,
    type: md.type,
    element: schemaPath.at(-1)!.element,
    schemaPath,
    codec: md.codec,
    parsers: DEFAULT_PARSERS,
    compressors: jsCompressors,
  };
}

/** Reads every page of one column chunk into levels and raw values (indices or PLAIN values). */
function readChunk(file: Uint8Array, md: ColumnMetaData, decoder: ColumnDecoder): Chunk {
  const maxRep = getMaxRepetitionLevel(decoder.schemaPath);
  const maxDef = getMaxDefinitionLevel(decoder.schemaPath);
  const start = chunkStart(md);
  const end = start + Number(md.total_compressed_size);
  const reader = {
    view: new DataView(file.buffer, file.byteOffset, file.byteLength),
    offset: start,
  };
  const chunk: Chunk = {
    rep: maxRep > 0 ? [] : undefined,
    def: maxDef > 0 ? [] : undefined,
    values: [],
    resolved: [],
    mixed: false,
  };
  let kind: "dictionary" | "plain" | "rle" | undefined;
  let entries = 0;
  while (entries < Number(md.num_values) && reader.offset < end) {
    const header = parquetHeader(reader);
    const body = file.subarray(reader.offset, reader.offset + header.compressed_page_size);
    reader.offset += header.compressed_page_size;
    if (header.type === "DICTIONARY_PAGE") {
      const page = decompressPage(body, header.uncompressed_page_size, md.codec, jsCompressors);
      chunk.dictionary = readPlain(
        { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 },
        md.type,
        header.dictionary_page_header!.num_values,
        decoder.element.type_length,
      );
      continue;
    }
    let page: DataPage;
    let encoding: Encoding;
    let n: number;
    if (header.type === "DATA_PAGE_V2") {
      page = readDataPageV2(body, header, decoder);
      encoding = header.data_page_header_v2!.encoding;
      n = header.data_page_header_v2!.num_values;
    } else if (header.type === "DATA_PAGE") {
      const bytes = decompressPage(body, header.uncompressed_page_size, md.codec, jsCompressors);
      page = readDataPage(bytes, header.data_page_header!, decoder);
      encoding = header.data_page_header!.encoding;
      n = header.data_page_header!.num_values;
    } else continue;
    const pageKind = encoding === "PLAIN_DICTIONARY" || encoding === "RLE_DICTIONARY"
      ? "dictionary"
      : encoding === "PLAIN"
      ? "plain"
      : encoding === "RLE" && md.type === "BOOLEAN"
      ? "rle"
      : undefined;
    if (pageKind === undefined) {
      throw new Error(`cannot rewrite ${md.path_in_schema.join(".")}: ${encoding} pages`);
    }
    if (kind !== undefined && pageKind !== kind) chunk.mixed = true;
    kind = pageKind;
    const dict = pageKind === "dictionary" ? chunk.dictionary : undefined;
    if (pageKind === "dictionary" && !dict) throw new Error("dictionary page missing");
    const { repetitionLevels: r, definitionLevels: d, dataPage } = page;
    if (chunk.rep) {
      if (r.length !== n) throw new Error("repetition levels missing");
      for (let i = 0; i < n; i++) chunk.rep.push(r[i]!);
    }
    if (chunk.def) {
      // hyparquet drops the levels of a v1 page without nulls.
      for (let i = 0; i < n; i++) chunk.def.push(d?.length ? d[i]! : maxDef);
    }
    for (let i = 0; i < dataPage.length; i++) {
      const v = dataPage[i];
      chunk.values.push(v);
      chunk.resolved.push(dict ? dict[v as number] : v);
    }
    entries += n;
  }
  if (entries !== Number(md.num_values)) {
    throw new Error(`${md.path_in_schema.join(".")}: read ${entries} of ${md.num_values} values`);
  }
  if (kind !== "dictionary") chunk.dictionary = undefined;
  return chunk;
}

/** Level entries of each data page of leaf column `column` holding `n` entries. */
function pageSizes(n: number, column: number, options: RewriteV1Options): number[] {
  const k = options.pageEntries;
  if (!(Number.isInteger(k) && k > 0)) throw new RangeError(`pageEntries must be positive: ${k}`);
  const sizes: number[] = [];
  let first = options.stagger === false ? k : 1 + (5 * column + 3) % k;
  for (let at = 0; at < n;) {
    const size = Math.min(first, n - at);
    sizes.push(size);
    at += size;
    first = k;
  }
  return sizes;
}

/** Appends `levels` as a v1 level stream: 4-byte length, then the RLE / bit-packed hybrid. */
function writeLevels(out: ByteWriter, levels: number[], max: number): void {
  const w = new ByteWriter();
  writeRleBitPackedHybrid(w, levels, bitWidth(max));
  out.appendUint32(w.offset);
  out.appendBytes(w.getBytes());
}

/** Writes one column chunk as a dictionary page (if any) and v1 data pages; returns its meta. */
function writeChunk(
  out: ByteWriter,
  chunk: Chunk,
  md: ColumnMetaData,
  decoder: ColumnDecoder,
  column: number,
  options: RewriteV1Options,
): ColumnMetaData {
  const codec = options.codec ?? "UNCOMPRESSED";
  const dictEncoding = options.dictionaryEncoding ?? "PLAIN_DICTIONARY";
  const type: ParquetType = md.type;
  const typeLength = decoder.element.type_length;
  const maxRep = getMaxRepetitionLevel(decoder.schemaPath);
  const maxDef = getMaxDefinitionLevel(decoder.schemaPath);
  const start = out.offset;
  let uncompressed = 0;
  const stats = new Map<string, PageEncodingStats>();
  const count = (page_type: PageEncodingStats["page_type"], encoding: Encoding) => {
    const key = `${page_type}/${encoding}`;
    const s = stats.get(key) ?? { page_type, encoding, count: 0 };
    s.count++;
    stats.set(key, s);
  };
  const page = (header: Omit<PageHeader, "compressed_page_size">, body: Uint8Array) => {
    const compressed = compress(codec, body);
    const at = out.offset;
    // hyparquet-writer types its arguments with its own (older) hyparquet's types.
    const full = { ...header, compressed_page_size: compressed.length };
    writePageHeader(out, full as Parameters<typeof writePageHeader>[1]);
    uncompressed += out.offset - at + body.length;
    out.appendBytes(compressed);
  };
  let dictionary_page_offset: bigint | undefined;
  const dict = chunk.dictionary;
  if (dict) {
    dictionary_page_offset = BigInt(out.offset);
    const body = new ByteWriter();
    writePlain(body, dict, type, typeLength);
    const encoding = dictEncoding === "PLAIN_DICTIONARY" ? "PLAIN_DICTIONARY" : "PLAIN";
    page({
      type: "DICTIONARY_PAGE",
      uncompressed_page_size: body.offset,
      dictionary_page_header: { num_values: dict.length, encoding },
    }, body.getBytes().slice());
    count("DICTIONARY_PAGE", encoding);
  }
  const data_page_offset = BigInt(out.offset);
  const n = Number(md.num_values);
  let entry = 0;
  let value = 0;
  for (const [p, size] of pageSizes(n, column, options).entries()) {
    const body = new ByteWriter();
    if (chunk.rep) writeLevels(body, chunk.rep.slice(entry, entry + size), maxRep);
    let present = size;
    if (chunk.def) {
      const def = chunk.def.slice(entry, entry + size);
      writeLevels(body, def, maxDef);
      present = def.filter((d) => d === maxDef).length;
    }
    const values = chunk.values.slice(value, value + present);
    let encoding: Encoding;
    if (dict && !(options.plainFromPage !== undefined && p >= options.plainFromPage)) {
      // parquet-mr: the bit width of the largest index of the dictionary, always written.
      encoding = dictEncoding;
      const width = bitWidth(Math.max(0, dict.length - 1));
      body.appendUint8(width);
      writeRleBitPackedHybrid(body, values as number[], width);
    } else if (dict) {
      encoding = "PLAIN";
      writePlain(body, (values as number[]).map((i) => dict[i]) as DecodedArray, type, typeLength);
    } else if (type === "BOOLEAN" && options.booleanEncoding === "RLE") {
      encoding = "RLE";
      writeLevels(body, values.map((b) => (b ? 1 : 0)), 1);
    } else {
      encoding = "PLAIN";
      writePlain(body, values as DecodedArray, type, typeLength);
    }
    page({
      type: "DATA_PAGE",
      uncompressed_page_size: body.offset,
      data_page_header: {
        num_values: size,
        encoding,
        definition_level_encoding: "RLE",
        repetition_level_encoding: "RLE",
      },
    }, body.getBytes().slice());
    count("DATA_PAGE", encoding);
    entry += size;
    value += present;
  }
  if (value !== chunk.values.length) {
    throw new Error(`${md.path_in_schema.join(".")}: wrote ${value} of ${chunk.values.length}`);
  }
  const encodings = [...new Set([...stats.values()].map((s) => s.encoding))];
  if (maxRep > 0 || maxDef > 0) encodings.push("RLE");
  return {
    type,
    encodings: [...new Set(encodings)],
    path_in_schema: md.path_in_schema,
    codec: codec as CompressionCodec,
    num_values: md.num_values,
    total_uncompressed_size: BigInt(uncompressed),
    total_compressed_size: BigInt(out.offset - start),
    key_value_metadata: md.key_value_metadata,
    data_page_offset,
    dictionary_page_offset,
    // Statistics, size statistics and bloom filters are left out: nothing here reads them.
    encoding_stats: [...stats.values()],
  };
}

/**
 * Rewrites `file` (any Parquet file whose pages are PLAIN or dictionary-encoded, e.g. one
 * written by hyparquet-writer) into v1 data pages of `options.pageEntries` level entries, with
 * the same schema, row groups and rows. Offset and column indexes are dropped (the pages they
 * described are gone), as are column statistics.
 */
export function rewriteAsV1(file: Uint8Array, options: RewriteV1Options): Uint8Array {
  const metadata = parquetMetadata(file.slice().buffer);
  const out = new ByteWriter(file.length * 2);
  out.appendBytes(new TextEncoder().encode("PAR1"));
  const row_groups: RowGroup[] = metadata.row_groups.map((group) => {
    const groupStart = out.offset;
    let total = 0n;
    const columns = group.columns.map((c, i): ColumnChunk => {
      const md = c.meta_data!;
      const decoder = decoderFor(metadata, md);
      const chunk = readChunk(file, md, decoder);
      if (chunk.mixed) {
        throw new Error(`cannot rewrite ${md.path_in_schema.join(".")}: mixed encodings`);
      }
      const meta = writeChunk(out, chunk, md, decoder, i, options);
      total += meta.total_uncompressed_size;
      return {
        file_path: c.file_path,
        file_offset: meta.dictionary_page_offset ?? meta.data_page_offset,
        meta_data: meta,
      };
    });
    return {
      columns,
      total_byte_size: total,
      num_rows: group.num_rows,
      sorting_columns: group.sorting_columns,
      file_offset: BigInt(groupStart),
      total_compressed_size: BigInt(out.offset - groupStart),
    };
  });
  const rewritten: FileMetaData = { ...metadata, row_groups };
  writeMetadata(out, rewritten as unknown as Parameters<typeof writeMetadata>[1]);
  out.appendBytes(new TextEncoder().encode("PAR1"));
  return out.getBytes().slice();
}

/** The levels and values of one column chunk, as {@link columnValues} read them. */
export interface ChunkValues {
  rowGroup: number;
  path: string;
  /** Repetition levels (repeated columns). */
  rep?: number[];
  /** Definition levels (optional columns). */
  def?: number[];
  /** The values of the entries at the maximum definition level, dictionaries resolved. */
  values: unknown[];
}

/**
 * Every column chunk's levels and values, read page by page with hyparquet's page decoders (no
 * row assembly): two files hold the same rows exactly when these are equal.
 */
export function columnValues(file: Uint8Array): ChunkValues[] {
  const metadata = parquetMetadata(file.slice().buffer);
  return metadata.row_groups.flatMap((group, rowGroup) =>
    group.columns.map((c): ChunkValues => {
      const md = c.meta_data!;
      const { rep, def, resolved } = readChunk(file, md, decoderFor(metadata, md));
      return { rowGroup, path: md.path_in_schema.join("."), rep, def, values: resolved };
    })
  );
}

/** One page of a column chunk, as {@link describePages} found it. */
export interface PageInfo {
  type: PageHeader["type"];
  /** Where the page (its header) starts in the file, and its bytes with the header. */
  offset: number;
  bytes: number;
  encoding?: Encoding;
  /** Level entries (data pages). */
  entries: number;
  /** Repetition level of the page's first entry (repeated columns); > 0: it continues a row. */
  firstRep?: number;
  /** Entries that start a row (repetition level 0): 0 for a page wholly inside one row. */
  rowStarts: number;
  /** Whether every entry of the data page is null or empty (definition level below the max). */
  allNull: boolean;
}

/** The pages of one column chunk. */
export interface ChunkInfo {
  rowGroup: number;
  path: string;
  codec: CompressionCodec;
  maxRep: number;
  maxDef: number;
  pages: PageInfo[];
}

/** Reads the page headers and levels of every column chunk of `file`. */
export function describePages(file: Uint8Array): ChunkInfo[] {
  const metadata = parquetMetadata(file.slice().buffer);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const chunks: ChunkInfo[] = [];
  for (const [rowGroup, group] of metadata.row_groups.entries()) {
    for (const c of group.columns) {
      const md = c.meta_data!;
      const decoder = decoderFor(metadata, md);
      const maxRep = getMaxRepetitionLevel(decoder.schemaPath);
      const maxDef = getMaxDefinitionLevel(decoder.schemaPath);
      const start = chunkStart(md);
      const end = start + Number(md.total_compressed_size);
      const reader = { view, offset: start };
      const pages: PageInfo[] = [];
      while (reader.offset < end) {
        const offset = reader.offset;
        const header = parquetHeader(reader);
        const body = file.subarray(reader.offset, reader.offset + header.compressed_page_size);
        reader.offset += header.compressed_page_size;
        const info: PageInfo = {
          type: header.type,
          offset,
          bytes: reader.offset - offset,
          entries: 0,
          rowStarts: 0,
          allNull: false,
        };
        pages.push(info);
        if (header.type === "DICTIONARY_PAGE") {
          info.encoding = header.dictionary_page_header!.encoding;
        } else if (header.type === "DATA_PAGE_V2") {
          const h = header.data_page_header_v2!;
          info.encoding = h.encoding;
          info.entries = h.num_values;
          info.allNull = h.num_nulls === h.num_values;
          info.rowStarts = h.num_rows;
          if (maxRep > 0) info.firstRep = readDataPageV2(body, header, decoder).repetitionLevels[0];
        } else if (header.type === "DATA_PAGE") {
          const h = header.data_page_header!;
          info.encoding = h.encoding;
          info.entries = h.num_values;
          const page = decompressPage(body, header.uncompressed_page_size, md.codec, jsCompressors);
          const r = {
            view: new DataView(page.buffer, page.byteOffset, page.byteLength),
            offset: 0,
          };
          if (maxRep > 0) {
            const rep = new Array<number>(h.num_values);
            readRleBitPackedHybrid(r, bitWidth(maxRep), rep);
            info.firstRep = rep[0];
            info.rowStarts = rep.filter((r) => r === 0).length;
          } else info.rowStarts = h.num_values;
          if (maxDef > 0) {
            const def = new Array<number>(h.num_values);
            readRleBitPackedHybrid(r, bitWidth(maxDef), def);
            info.allNull = def.every((d) => d < maxDef);
          }
        }
      }
      if (reader.offset !== end) throw new Error(`${md.path_in_schema.join(".")}: pages overrun`);
      chunks.push({
        rowGroup,
        path: md.path_in_schema.join("."),
        codec: md.codec,
        maxRep,
        maxDef,
        pages,
      });
    }
  }
  return chunks;
}
