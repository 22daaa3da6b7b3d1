/**
 * The OCSF value policy for scalars, owned here and nowhere else: 64-bit integers keep every
 * digit, timestamps become RFC 3339 UTC strings with milliseconds, NaN and Infinity become null,
 * bytes that are not text become base64. Structural rules (lists, maps, structs) are applied by
 * `parquet/shape.ts`, which calls these functions.
 * @module
 */

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** A JSON value as the collector emits it; `bigint` stands for an integer beyond 2^53. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | bigint
  | JsonValue[]
  | { [key: string]: JsonValue };

// Timestamps of one file are close together: the text up to the second is reused.
let cachedSecond = NaN;
let cachedPrefix = "";

/** Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`; out-of-range values stay numbers. */
export function timestampFromMillis(ms: number): string | number {
  if (!Number.isInteger(ms)) {
    if (!Number.isFinite(ms)) return ms;
    ms = Math.floor(ms);
  }
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    const d = new Date(second * 1000);
    if (Number.isNaN(d.getTime())) return ms;
    const iso = d.toISOString();
    // Years beyond 9999 or before 0 have a longer form; do not cache those.
    if (iso.length !== 24) {
      // Just past the last valid time, the second can be valid and the millisecond not.
      const exact = new Date(ms);
      return Number.isNaN(exact.getTime()) ? ms : exact.toISOString();
    }
    cachedSecond = second;
    cachedPrefix = iso.slice(0, 20);
  }
  const milli = ms - second * 1000;
  return cachedPrefix + (milli < 10 ? "00" : milli < 100 ? "0" : "") + milli + "Z";
}

/** Converts a Parquet INT64: a number when exact, else the bigint (serialized with all digits). */
export function int64(v: bigint): number | bigint {
  return v <= MAX_SAFE && v >= MIN_SAFE ? Number(v) : v;
}

/** Applies the scalar policy to one decoded Parquet leaf value. `undefined` means "leave out". */
export function scalar(v: unknown): JsonValue | undefined {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      return Number.isFinite(v) ? v : null;
    case "bigint":
      return int64(v);
    case "undefined":
      return undefined;
    case "object":
      if (v === null) return null;
      if (v instanceof Date) return timestampFromMillis(v.getTime());
      if (v instanceof Uint8Array) return base64(v);
      return undefined;
    default:
      return undefined;
  }
}

/** Standard base64 of bytes. */
export function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * hyparquet parsers that apply the timestamp policy while decoding, so no `Date` objects are
 * built: milliseconds, microseconds and nanoseconds all become RFC 3339 strings with milliseconds.
 */
export const TIMESTAMP_PARSERS = {
  timestampFromMilliseconds: (ms: bigint) => timestampFromMillis(millisOf(ms, 1n)),
  timestampFromMicroseconds: (us: bigint) => timestampFromMillis(millisOf(us, 1000n)),
  timestampFromNanoseconds: (ns: bigint) => timestampFromMillis(millisOf(ns, 1_000_000n)),
};

/** Epoch milliseconds of a timestamp of `perMilli` units per millisecond (1, 1,000, 1,000,000). */
export function millisOf(v: bigint, perMilli: bigint): number {
  if (perMilli === 1n) return Number(v);
  // Floor, not truncation: an instant before 1970 belongs to the millisecond that starts before it.
  const q = v / perMilli;
  return Number(v % perMilli < 0n ? q - 1n : q);
}
