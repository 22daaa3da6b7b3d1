/**
 * One data page of a column chunk as the column cursor decodes it, from the header the page guard
 * checked (`page_header.ts`): the page's streams opened to be decoded a piece at a time for the
 * encodings that dominate, and hyparquet's page decoders, given the same header in their own
 * shape, for the others.
 * @module
 */
import type { ColumnDecoder, DataPage, Encoding } from "./hyparquet.ts";
import type { PageHeader as HyparquetPageHeader } from "./hyparquet.ts";
import {
  convert,
  convertWithDictionary,
  decompressPage,
  readDataPage,
  readDataPageV2,
  readPlain,
} from "./hyparquet.ts";
import type { DecodedArray } from "hyparquet";
import { dictionaryJson, valuesJson } from "./dictionary_json.ts";
import type { DictionaryJson } from "./dictionary_json.ts";
import { Hybrid } from "./hybrid.ts";
import { bitWidth, NO_DICTIONARY, NO_OFFSETS, segment, wordsOf } from "./column_pieces.ts";
import type { PageLeft, Segment } from "./column_pieces.ts";
import type { PageHeader } from "./page_header.ts";

/** The format's encodings by number (`Encoding` in parquet.thrift); unknown numbers have none. */
const ENCODINGS: readonly Encoding[] = [
  "PLAIN",
  "GROUP_VAR_INT",
  "PLAIN_DICTIONARY",
  "RLE",
  "BIT_PACKED",
  "DELTA_BINARY_PACKED",
  "DELTA_LENGTH_BYTE_ARRAY",
  "DELTA_BYTE_ARRAY",
  "RLE_DICTIONARY",
  "BYTE_STREAM_SPLIT",
  "ALP",
];

/** Name of encoding number `n`; undefined (typed as an encoding, as hyparquet has it) if unknown. */
function encodingName(n: number | undefined): Encoding {
  return ENCODINGS[n ?? -1] as Encoding;
}

/** The encoding of the values of a data page (v1 or v2) the guard checked. */
export function pageEncoding(h: PageHeader): Encoding {
  return encodingName(h.type === 0 ? h.data!.encoding : h.v2!.encoding);
}

/**
 * `h`, a data page's header as the guard read and checked it, in the shape hyparquet's page
 * decoders take (`is_compressed` true when left out, as the format says).
 */
export function decoderHeader(h: PageHeader): HyparquetPageHeader {
  const d = h.data;
  const v2 = h.v2;
  return {
    type: h.type === 0 ? "DATA_PAGE" : "DATA_PAGE_V2",
    uncompressed_page_size: h.uncompressed,
    compressed_page_size: h.compressed,
    data_page_header: d && {
      num_values: d.numValues!,
      encoding: encodingName(d.encoding),
      definition_level_encoding: encodingName(d.defEncoding),
      repetition_level_encoding: encodingName(d.repEncoding),
    },
    data_page_header_v2: v2 && {
      num_values: v2.numValues!,
      num_nulls: v2.numNulls!,
      num_rows: v2.numRows!,
      encoding: encodingName(v2.encoding),
      definition_levels_byte_length: v2.defLength!,
      repetition_levels_byte_length: v2.repLength!,
      is_compressed: v2.isCompressed ?? true,
    },
  };
}

/** What decoding a data page needs to know of its column. */
export interface PageColumn {
  readonly decoder: ColumnDecoder;
  readonly maxDef: number;
  readonly maxRep: number;
  readonly text: boolean;
  /** For INT64 timestamps written from their integers (see `column_pieces.ts`). */
  readonly tsDiv?: bigint;
  /** INT64 integers with no conversion, written from their bits. */
  readonly plainInt64: boolean;
}

/** The column's dictionary, once its dictionary page was read (`size` -1 before). */
export interface PageDictionary {
  readonly json?: DictionaryJson;
  readonly size: number;
  /** Converted entries (non-text columns). */
  readonly values?: DecodedArray;
}

/**
 * Reads a dictionary page the guard checked: text entries each written as JSON once (base64 for
 * `binary` text), other entries converted and then written as JSON once.
 */
export function readDictionary(
  col: PageColumn,
  binary: boolean,
  h: PageHeader,
  body: Uint8Array,
): PageDictionary {
  const decoder = col.decoder;
  const page = decompressPage(body, h.uncompressed, decoder.codec, decoder.compressors);
  const count = h.dictionary!.numValues!;
  if (col.text) return { json: dictionaryJson(page, count, binary), size: count };
  const r = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
  const dict = readPlain(r, decoder.type, count, decoder.element.type_length);
  // hyparquet reads byte arrays as views of the page's buffer, past the page if told to.
  if (r.offset > page.length) throw new RangeError("dictionary runs past its page");
  const values = convert(dict, decoder);
  return { json: valuesJson(values), size: dict.length, values };
}

/**
 * Opens a data page of the encodings that dominate (dictionary indices, PLAIN text): its streams,
 * to be decoded a piece at a time by the cursor; undefined for the others.
 */
export function openPage(
  col: PageColumn,
  dictionary: PageDictionary,
  h: PageHeader,
  body: Uint8Array,
  n: number,
): PageLeft | undefined {
  const decoder = col.decoder;
  const v1 = h.type === 0;
  const encoding = pageEncoding(h);
  const indexed = encoding === "PLAIN_DICTIONARY" || encoding === "RLE_DICTIONARY" ||
    (v1 && encoding === "RLE" && decoder.type !== "BOOLEAN");
  if (!indexed && !(col.text && encoding === "PLAIN")) return undefined;
  let page: Uint8Array;
  let off = 0;
  let rep: Hybrid | undefined;
  let def: Hybrid | undefined;
  if (v1) {
    page = decompressPage(body, h.uncompressed, decoder.codec, decoder.compressors);
    // Each level stream starts with its length.
    const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
    if (col.maxRep > 0) {
      rep = new Hybrid(view, off + 4, bitWidth(col.maxRep));
      off += 4 + view.getUint32(off, true);
    }
    if (col.maxDef > 0) {
      def = new Hybrid(view, off + 4, bitWidth(col.maxDef));
      off += 4 + view.getUint32(off, true);
    }
  } else {
    const v2 = h.v2!;
    const levels = new DataView(body.buffer, body.byteOffset, body.byteLength);
    if (col.maxRep > 0) rep = new Hybrid(levels, 0, bitWidth(col.maxRep));
    if (col.maxDef > 0) def = new Hybrid(levels, v2.repLength!, bitWidth(col.maxDef));
    const lengths = v2.repLength! + v2.defLength!;
    const size = h.uncompressed - lengths;
    page = body.subarray(lengths);
    if (v2.isCompressed !== false && size) {
      page = decompressPage(page, size, decoder.codec, decoder.compressors);
    }
  }
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const left: PageLeft = {
    left: n,
    rep,
    def,
    idx: undefined,
    width: 0,
    json: NO_DICTIONARY,
    size: 0,
    page,
    view,
    off,
  };
  if (indexed) {
    if (dictionary.size < 0) throw new Error("dictionary page missing");
    left.width = view.getUint8(off);
    left.idx = new Hybrid(view, off + 1, left.width);
    left.json = dictionary.json!;
    left.size = dictionary.size;
  }
  return left;
}

/** A data page decoded whole: its levels (absent when all at their maximum) and its values. */
export interface WholePage {
  def?: ArrayLike<number>;
  rep?: ArrayLike<number>;
  seg: Segment;
}

/** Decodes a data page whole with hyparquet's page decoders, for the encodings not opened. */
export function decodeWhole(
  col: PageColumn,
  dictionary: PageDictionary,
  h: PageHeader,
  body: Uint8Array,
): WholePage {
  const decoder = col.decoder;
  const header = decoderHeader(h);
  let levels: DataPage;
  if (h.type === 0) {
    const page = decompressPage(body, h.uncompressed, decoder.codec, decoder.compressors);
    levels = readDataPage(page, header.data_page_header!, decoder);
  } else levels = readDataPageV2(body, header, decoder);
  const { definitionLevels: d, repetitionLevels: r, dataPage } = levels;
  const encoding = pageEncoding(h);
  const n = dataPage.length;
  const tsDiv = col.tsDiv;
  const seg: Segment = col.text
    ? segment({ kind: "bytes", n, values: dataPage as Uint8Array[] })
    : encoding.endsWith("_DICTIONARY") && dictionary.values !== undefined
    ? segment({
      kind: "values",
      n,
      block: convertWithDictionary(dataPage, dictionary.values, encoding, decoder),
      blockStart: 0,
    })
    : tsDiv !== undefined && dataPage instanceof BigInt64Array
    ? segment({
      kind: "ts",
      n,
      raw: dataPage,
      div: tsDiv,
      words: tsDiv === 1n ? wordsOf(dataPage) : NO_OFFSETS,
    })
    : col.plainInt64 && dataPage instanceof BigInt64Array
    ? segment({ kind: "i64", n, raw: dataPage, words: wordsOf(dataPage) })
    : segment({ kind: "values", n, raw: dataPage, block: [], blockStart: 0 });
  return { def: d && d.length ? d : undefined, rep: r && r.length ? r : undefined, seg };
}
