/**
 * A column's dictionary as JSON bytes, made once per dictionary page: each entry escaped (or
 * written as its value's JSON) and its offsets, so that a dictionary-encoded value is written
 * by copying its bytes.
 * @module
 */
import type { DecodedArray } from "hyparquet";
import { toJson } from "../transform/json.ts";
import { scalar } from "../transform/values.ts";
import { ByteOut } from "./json_bytes.ts";

/** The JSON text of every entry of a dictionary, in one buffer. */
export interface DictionaryJson {
  bytes: Uint8Array;
  at: Int32Array;
  /** Entries left out by the value policy (1), for a dictionary of non-text values. */
  omit: Uint8Array | undefined;
}

/**
 * Reads where `start.length` PLAIN byte arrays (each a 4-byte length, then its bytes) lie from
 * `off` in `page`: value k is `page[start[k] .. start[k] + len[k]]`, read without a view per
 * value. Returns the offset after them; value k running past the page fails as `${what} k`.
 */
export function plainArrays(
  page: Uint8Array,
  view: DataView,
  off: number,
  start: Int32Array,
  len: Int32Array,
  what: string,
): number {
  for (let k = 0; k < start.length; k++) {
    if (off + 4 > page.length) throw new RangeError(`${what} ${k} runs past its page`);
    const l = view.getUint32(off, true);
    off += 4;
    if (off + l > page.length) throw new RangeError(`${what} ${k} runs past its page`);
    start[k] = off;
    len[k] = l;
    off += l;
  }
  return off;
}

/**
 * The offset after `count` PLAIN byte arrays from `off` in `page`, read as {@link plainArrays}
 * reads them (and failing as it fails), without noting where each lies.
 */
export function skipPlainArrays(
  page: Uint8Array,
  view: DataView,
  off: number,
  count: number,
  what: string,
): number {
  for (let k = 0; k < count; k++) {
    if (off + 4 > page.length) throw new RangeError(`${what} ${k} runs past its page`);
    off += 4 + view.getUint32(off, true);
    if (off > page.length) throw new RangeError(`${what} ${k} runs past its page`);
  }
  return off;
}

/**
 * Escapes each entry of a text dictionary page (PLAIN byte arrays) once, into one buffer;
 * `binary` entries (no text annotation) that are not UTF-8 as base64.
 */
export function dictionaryJson(page: Uint8Array, count: number, binary: boolean): DictionaryJson {
  const start = new Int32Array(count);
  const len = new Int32Array(count);
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  plainArrays(page, view, 0, start, len, "dictionary entry");
  const o = new ByteOut(1024);
  const at = new Int32Array(count + 1);
  for (let e = 0; e < count; e++) {
    o.jsonUtf8(page, start[e]!, start[e]! + len[e]!, binary);
    at[e + 1] = o.pos;
  }
  return { bytes: o.buf.slice(0, o.pos), at, omit: undefined };
}

/**
 * Writes each entry of a dictionary of converted non-text values once, as {@link writeValue}
 * does, and marks the entries the policy leaves out ({@link omitted}).
 */
export function valuesJson(dict: DecodedArray): DictionaryJson {
  const o = new ByteOut(1024);
  const at = new Int32Array(dict.length + 1);
  const omit = new Uint8Array(dict.length);
  for (let e = 0; e < dict.length; e++) {
    const v = dict[e];
    if (omitted(v)) omit[e] = 1;
    else writeValue(o, v);
    at[e + 1] = o.pos;
  }
  return { bytes: o.buf.slice(0, o.pos), at, omit };
}

/** An array for `n` dictionary indices of `width` bits. */
export function indexArray(width: number, n: number): Uint8Array | Uint16Array | Int32Array {
  return width <= 8 ? new Uint8Array(n) : width <= 16 ? new Uint16Array(n) : new Int32Array(n);
}

/** Whether a converted (non-text) value is left out by the policy (null, NaN, unsupported). */
export function omitted(v: unknown): boolean {
  switch (typeof v) {
    case "string":
    case "bigint":
    case "boolean":
      return false;
    case "number":
      return !Number.isFinite(v);
    default: {
      const x = scalar(v);
      return x === undefined || x === null;
    }
  }
}

/** Writes a converted (non-text) value that is not {@link omitted}. */
export function writeValue(o: ByteOut, v: unknown): void {
  switch (typeof v) {
    case "string":
      return o.jsonString(v);
    case "number":
      return Number.isSafeInteger(v) ? o.int(v) : o.ascii(String(v));
    case "bigint": {
      const n = Number(v);
      return Number.isSafeInteger(n) ? o.int(n) : o.ascii(v.toString());
    }
    case "boolean":
      return o.ascii(v ? "true" : "false");
    default:
      return o.text(toJson(scalar(v)!));
  }
}
