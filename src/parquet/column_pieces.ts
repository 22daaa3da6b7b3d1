/**
 * The pieces a column cursor holds between calls: what is left of a data page read in pieces,
 * the segments of decoded values, and what a column's type says of how it is written (text
 * copied as bytes, INT64 as two words, timestamps scaled).
 * @module
 */
import type { ColumnDecoder } from "./hyparquet.ts";
import { convert } from "./hyparquet.ts";
import type { DecodedArray } from "hyparquet";
import type { DictionaryJson } from "./dictionary_json.ts";
import { Hybrid } from "./hybrid.ts";

/** What is left to decode of a data page read in pieces (dictionary-encoded, or PLAIN text). */
export interface PageLeft {
  /** Entries not decoded yet. */
  left: number;
  rep?: Hybrid;
  def?: Hybrid;
  /** Dictionary-encoded: the indices, their width, and the dictionary the page refers to. */
  idx?: Hybrid;
  width: number;
  json: DictionaryJson;
  size: number;
  /** PLAIN text: the inflated page and where its next value starts. */
  page: Uint8Array;
  view: DataView;
  off: number;
}

/** Least bytes read at a time when a column chunk is read in windows. */
export const WINDOW = 1 << 20;
/** Bytes read to find a page header. */
export const HEADER_BYTES = 64 * 1024;

/** Values converted at once from a page of numbers, timestamps and other non-text types. */
export const BLOCK = 1024;

/** The values of one data page. */
export type Segment =
  /** Text, PLAIN: value k is `buf[start[k] .. start[k] + len[k]]`. */
  | { kind: "plain"; n: number; buf: Uint8Array; start: Int32Array; len: Int32Array }
  /** Dictionary-encoded: each entry's JSON was written once, entry e at `at[e]..at[e+1]`. */
  | { kind: "dict"; n: number; idx: ArrayLike<number>; json: DictionaryJson }
  /** Text decoded by hyparquet (other encodings). */
  | { kind: "bytes"; n: number; values: Uint8Array[] }
  /**
   * INT64 timestamps: value k is `raw[k] / div` epoch milliseconds; for milliseconds, `words`
   * (when not empty) is `raw` as 32-bit halves, read without making a bigint.
   */
  | { kind: "ts"; n: number; raw: BigInt64Array; div: bigint; words: Int32Array }
  /** INT64 integers that no conversion applies to; `words` as for timestamps. */
  | { kind: "i64"; n: number; raw: BigInt64Array; words: Int32Array }
  /** Other types: `raw` converted a block at a time (or `block` converted whole). */
  | {
    kind: "values";
    n: number;
    raw?: DecodedArray;
    block: DecodedArray;
    blockStart: number;
  };

export const NO_BYTES = new Uint8Array(0);
export const NO_OFFSETS = new Int32Array(0);
export const NO_DICTIONARY: DictionaryJson = { bytes: NO_BYTES, at: NO_OFFSETS, omit: undefined };

/**
 * `s` with every field of every kind of segment, in one order: the segments of all kinds share
 * one object shape, so the per-value code that reads them stays monomorphic.
 */
export function segment<T extends Segment>(s: T): T {
  const all = {
    kind: s.kind,
    n: s.n,
    buf: NO_BYTES,
    start: NO_OFFSETS,
    len: NO_OFFSETS,
    idx: undefined as ArrayLike<number> | undefined,
    json: NO_DICTIONARY,
    values: [] as Uint8Array[],
    raw: undefined as DecodedArray | undefined,
    div: 1n,
    words: NO_OFFSETS,
    block: [] as DecodedArray,
    blockStart: 0,
  };
  return Object.assign(all, s) as unknown as T;
}

/**
 * Whether a column is text that can be copied as UTF-8 bytes (no conversion applies). JSON
 * documents are text too: sent as the string they are, never parsed.
 */
export function isTextColumn(decoder: ColumnDecoder): boolean {
  const e = decoder.element;
  if (e.type !== "BYTE_ARRAY") return false;
  const ct = e.converted_type;
  const lt = e.logical_type?.type;
  if (ct !== undefined && ct !== "UTF8" && ct !== "ENUM" && ct !== "JSON") return false;
  if (lt !== undefined && lt !== "STRING" && lt !== "ENUM" && lt !== "JSON") return false;
  return true;
}

export const bitWidth = (max: number) => 32 - Math.clz32(max);

/** Whether typed arrays are little-endian here, as Parquet's numbers are. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** `raw` as the low and high 32-bit halves of each value, or empty where that cannot be done. */
export function wordsOf(raw: BigInt64Array): Int32Array {
  return LITTLE_ENDIAN ? new Int32Array(raw.buffer, raw.byteOffset, raw.length * 2) : NO_OFFSETS;
}

/** Whether INT64 values of the column are written as they are (no conversion applies). */
export function plainInt64(decoder: ColumnDecoder): boolean {
  const e = decoder.element;
  const ct = e.converted_type;
  const lt = e.logical_type;
  return e.type === "INT64" && (ct === undefined || ct === "INT_64") &&
    (lt === undefined || (lt.type === "INTEGER" && lt.isSigned));
}

/**
 * For an INT64 timestamp column that hyparquet converts with the timestamp parsers, what divides
 * its values into milliseconds (1, 1,000 or 1,000,000); else undefined.
 */
export function timestampDivisor(decoder: ColumnDecoder): bigint | undefined {
  const e = decoder.element;
  if (e.type !== "INT64") return undefined;
  const ct = e.converted_type;
  if (ct === "TIMESTAMP_MILLIS") return 1n;
  if (ct === "TIMESTAMP_MICROS") return 1000n;
  const lt = e.logical_type;
  if (ct !== undefined || lt?.type !== "TIMESTAMP") return undefined;
  return lt.unit === "MILLIS" ? 1n : lt.unit === "MICROS" ? 1000n : 1_000_000n;
}

/** Value `k` of a non-text segment, converted by the value policy. */
export function valueOf(
  seg: Segment & { kind: "values" },
  k: number,
  decoder: ColumnDecoder,
): unknown {
  if (!seg.raw) return seg.block[k];
  if (k < seg.blockStart || k >= seg.blockStart + seg.block.length) {
    seg.blockStart = k - (k % BLOCK);
    seg.block = convert(seg.raw.slice(seg.blockStart, seg.blockStart + BLOCK), decoder);
  }
  return seg.block[k - seg.blockStart];
}
