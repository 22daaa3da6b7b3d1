/**
 * Byte-level JSON writing for the fast path: a growable output buffer, JSON string escaping
 * done on UTF-8 bytes (text columns are never turned into JavaScript strings), and integer and
 * timestamp writers that allocate nothing.
 * @module
 */

import { base64, timestampFromMillis } from "../transform/values.ts";

const encoder = new TextEncoder();
const MS_PER_DAY = 86_400_000;
/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the span of the 24-character form. */
const FIRST_MS = -62_167_219_200_000;
const LAST_MS = 253_402_300_799_999;
const decoder = new TextDecoder();
/**
 * Longest range {@link ByteOut.range} copies in a loop. A longer one goes through
 * `TypedArray.set` and a `subarray` view, an object per call: with the loop up to here, dictionary
 * values and map keys (dozens of bytes each) leave no garbage for V8's collector.
 */
const RANGE_LOOP = 512;
const HEX = "0123456789abcdef";

/** A growable byte buffer that lines of JSON are written into. */
export class ByteOut {
  buf: Uint8Array;
  pos = 0;

  /** Starts with `capacity` bytes. */
  constructor(capacity = 1 << 16) {
    this.buf = new Uint8Array(capacity);
  }

  /**
   * Bytes past this offset may be written over when the buffer would grow: they belong to a
   * member too large to keep (see `readEventLines`'s `maxEventBytes`), so the buffer never grows
   * for it. How many were written over is added to {@link dropped}. Default: no such offset.
   */
  cap = Infinity;
  /** Bytes written past {@link cap} and then written over. */
  dropped = 0;

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.pos > this.cap) {
      this.dropped += this.pos - this.cap;
      this.pos = this.cap;
      if (this.pos + n <= this.buf.length) return;
    }
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Writes one byte. */
  byte(b: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Writes bytes. */
  bytes(b: Uint8Array): void {
    const n = b.length;
    if (this.pos + n > this.buf.length) this.ensure(n);
    if (n <= 32) {
      // A loop beats TypedArray.set for the short keys and values that dominate.
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) buf[p++] = b[i]!;
      this.pos = p;
    } else {
      this.buf.set(b, this.pos);
      this.pos += n;
    }
  }

  /** Writes `b[from]` up to `b[to]` (no view of `b` is made for up to 512 bytes). */
  range(b: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (this.pos + n > this.buf.length) this.ensure(n);
    const buf = this.buf;
    if (n <= RANGE_LOOP) {
      let p = this.pos;
      for (let i = from; i < to; i++) buf[p++] = b[i]!;
      this.pos = p;
    } else {
      buf.set(b.subarray(from, to), this.pos);
      this.pos += n;
    }
  }

  /** Writes a string of ASCII characters. */
  ascii(s: string): void {
    this.ensure(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
  }

  /** Writes any string as UTF-8. */
  text(s: string): void {
    this.ensure(s.length * 3);
    this.pos += encoder.encodeInto(s, this.buf.subarray(this.pos)).written;
  }

  /** Writes a safe integer in decimal, as `String(n)` does, without making the string. */
  int(n: number): void {
    if (!Number.isSafeInteger(n)) return this.ascii(String(n));
    if (this.pos + 17 > this.buf.length) this.ensure(17); // sign and 16 digits
    const b = this.buf;
    let p = this.pos;
    if (n < 0) {
      b[p++] = 45;
      n = -n;
    }
    if (n < 100_000_000) {
      p = digits(b, p, n, width(n));
    } else {
      // Two halves below 2^31 each, so the digit loop stays in integer arithmetic.
      const high = Math.floor(n / 100_000_000);
      p = digits(b, p, high, width(high));
      p = digits(b, p, n - high * 100_000_000, 8);
    }
    this.pos = p;
  }

  /**
   * Writes the INT64 `words[2k]` (low half) and `words[2k+1]` (high half) with {@link int};
   * false, writing nothing, when it is not a safe integer. The halves come in, not the number:
   * a double passed to a call would be boxed, an object per value.
   */
  intWords(words: Int32Array, k: number): boolean {
    const v = safeWords(words, k);
    if (v !== v) return false;
    this.int(v);
    return true;
  }

  /** Writes the INT64 epoch milliseconds in `words` (as {@link intWords}) with {@link timestamp}. */
  timestampWords(words: Int32Array, k: number): boolean {
    const v = safeWords(words, k);
    if (v !== v) return false;
    if (v < FIRST_MS || v > LAST_MS) this.timestamp(v);
    else {
      const days = Math.floor(v / MS_PER_DAY);
      this.#dayTime(days, v - days * MS_PER_DAY);
    }
    return true;
  }

  /**
   * Writes epoch milliseconds as the JSON string `"YYYY-MM-DDTHH:MM:SS.mmmZ"`, exactly as
   * `JSON.stringify(timestampFromMillis(ms))` does (`transform/values.ts`, the policy's owner),
   * from integer arithmetic and a cached date, with no string made.
   */
  timestamp(ms: number): void {
    if (!Number.isSafeInteger(ms) || ms < FIRST_MS || ms > LAST_MS) {
      const v = timestampFromMillis(ms);
      return typeof v === "string" ? this.jsonString(v) : this.ascii(JSON.stringify(v));
    }
    const days = Math.floor(ms / MS_PER_DAY);
    this.#dayTime(days, ms - days * MS_PER_DAY);
  }

  /**
   * Writes day `days` (since 1970-01-01) at `t` milliseconds into it, as {@link timestamp}
   * does. Both are small integers, so a call passes them unboxed.
   */
  #dayTime(days: number, t: number): void {
    if (days !== this.#day) {
      this.#day = days;
      civilDate(days, this.#date);
    }
    if (this.pos + 26 > this.buf.length) this.ensure(26);
    const b = this.buf;
    let p = this.pos;
    b[p++] = 34;
    b.set(this.#date, p);
    p += 10;
    b[p++] = 84; // T
    const milli = t % 1000;
    t = (t - milli) / 1000;
    const sec = t % 60;
    t = (t - sec) / 60;
    const min = t % 60;
    const hour = (t - min) / 60;
    b[p++] = 48 + ((hour / 10) | 0);
    b[p++] = 48 + (hour % 10);
    b[p++] = 58;
    b[p++] = 48 + ((min / 10) | 0);
    b[p++] = 48 + (min % 10);
    b[p++] = 58;
    b[p++] = 48 + ((sec / 10) | 0);
    b[p++] = 48 + (sec % 10);
    b[p++] = 46;
    b[p++] = 48 + ((milli / 100) | 0);
    b[p++] = 48 + (((milli / 10) | 0) % 10);
    b[p++] = 48 + (milli % 10);
    b[p++] = 90; // Z
    b[p++] = 34;
    this.pos = p;
  }

  /** The day of {@link #date} (days since 1970-01-01). */
  #day = NaN;
  /** `YYYY-MM-DD` of {@link #day}, as bytes. */
  #date = new Uint8Array(10);

  /** Writes `s` as a JSON string (quotes and escapes), exactly as `JSON.stringify` does. */
  jsonString(s: string): void {
    let plain = true;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 34 || c === 92 || c > 0x7e) {
        plain = false;
        break;
      }
    }
    if (plain) {
      this.ensure(s.length + 2);
      this.buf[this.pos++] = 34;
      for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
      this.buf[this.pos++] = 34;
    } else {
      this.text(JSON.stringify(s));
    }
  }

  /**
   * Writes UTF-8 `b` (or its bytes `from` up to `to`) as a JSON string. Valid UTF-8 is copied with only `"`, `\` and control
   * characters escaped; anything else is decoded as `TextDecoder` does (replacement characters)
   * and written as `JSON.stringify` would, or, for `binary` bytes (no text annotation), written
   * as their base64.
   */
  jsonUtf8(b: Uint8Array, from = 0, to = b.length, binary = false): void {
    this.ensure((to - from) * 6 + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 34;
    for (let i = from; i < to; i++) {
      const c = b[i]!;
      if (c >= 0x20 && c !== 34 && c !== 92 && c < 0x80) {
        buf[p++] = c;
      } else if (c < 0x80) {
        buf[p++] = 92;
        switch (c) {
          case 34:
            buf[p++] = 34;
            break;
          case 92:
            buf[p++] = 92;
            break;
          case 8:
            buf[p++] = 98;
            break;
          case 9:
            buf[p++] = 116;
            break;
          case 10:
            buf[p++] = 110;
            break;
          case 12:
            buf[p++] = 102;
            break;
          case 13:
            buf[p++] = 114;
            break;
          default:
            buf[p++] = 117;
            buf[p++] = 48;
            buf[p++] = 48;
            buf[p++] = HEX.charCodeAt(c >> 4);
            buf[p++] = HEX.charCodeAt(c & 15);
        }
      } else {
        const n = utf8SequenceLength(b, i, to);
        if (n === 0) {
          // Not valid UTF-8: bytes without a text annotation are base64; text falls back to the
          // decoder's exact behaviour.
          this.jsonString(
            binary ? base64(b.subarray(from, to)) : decoder.decode(b.subarray(from, to)),
          );
          return;
        }
        for (let k = 0; k < n; k++) buf[p++] = b[i + k]!;
        i += n - 1;
      }
    }
    buf[p++] = 34;
    this.pos = p;
  }

  /** The bytes written so far (a copy). */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }
}

/**
 * The INT64 whose low half is `words[2k]` and high half `words[2k+1]`, or NaN when it is not a
 * safe integer. Small enough to be inlined into its callers, so the number is never boxed.
 */
function safeWords(words: Int32Array, k: number): number {
  const high = words[2 * k + 1]!;
  // |value| < 2^53 exactly when the high half is in [-2^21, 2^21), but -2^53 itself.
  if (high < -2_097_152 || high >= 2_097_152) return NaN;
  const v = high * 4_294_967_296 + (words[2 * k]! >>> 0);
  return v === -9_007_199_254_740_992 ? NaN : v;
}

/** Digits of `n` in decimal (0 <= n < 2^31). */
function width(n: number): number {
  return n < 10
    ? 1
    : n < 100
    ? 2
    : n < 1_000
    ? 3
    : n < 10_000
    ? 4
    : n < 100_000
    ? 5
    : n < 1_000_000
    ? 6
    : n < 10_000_000
    ? 7
    : n < 100_000_000
    ? 8
    : n < 1_000_000_000
    ? 9
    : 10;
}

/**
 * Writes `n` (0 <= n < 2^31) in decimal as `count` digits (zeros first) at `b[p]`; returns the
 * position after them.
 */
function digits(b: Uint8Array, p: number, n: number, count: number): number {
  const end = p + count;
  for (let q = end - 1; q >= p; q--) {
    const d = (n / 10) | 0;
    b[q] = 48 + n - d * 10;
    n = d;
  }
  return end;
}

/**
 * Writes `YYYY-MM-DD` of the proleptic Gregorian day `days` after 1970-01-01 (years 0 to 9999)
 * into `out`: the date is counted in 400-year eras that start on March 1, so leap days fall at
 * the end of each year of the count.
 */
function civilDate(days: number, out: Uint8Array): void {
  const z = days + 719_468; // days since 0000-03-01
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097; // day of the era, 0..146096
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  ); // year of the era, 0..399
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100)); // from March 1
  const mp = Math.floor((5 * doy + 2) / 153); // month from March, 0..11
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  out[0] = 48 + Math.floor(year / 1000);
  out[1] = 48 + (Math.floor(year / 100) % 10);
  out[2] = 48 + (Math.floor(year / 10) % 10);
  out[3] = 48 + (year % 10);
  out[4] = 45;
  out[5] = 48 + Math.floor(month / 10);
  out[6] = 48 + (month % 10);
  out[7] = 45;
  out[8] = 48 + Math.floor(day / 10);
  out[9] = 48 + (day % 10);
}

/** Length of the valid UTF-8 sequence starting at `b[i]` (a byte >= 0x80), or 0 if invalid. */
function utf8SequenceLength(b: Uint8Array, i: number, to: number): number {
  const c = b[i]!;
  const c1 = i + 1 < to ? b[i + 1] : undefined;
  if (c1 === undefined) return 0;
  if (c >= 0xc2 && c <= 0xdf) return (c1 & 0xc0) === 0x80 ? 2 : 0;
  const c2 = i + 2 < to ? b[i + 2] : undefined;
  if (c2 === undefined || (c2 & 0xc0) !== 0x80) return 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 > 0x9f) return 0; // surrogates
    return (c1 & 0xc0) === 0x80 ? 3 : 0;
  }
  const c3 = i + 3 < to ? b[i + 3] : undefined;
  if (c3 === undefined || (c3 & 0xc0) !== 0x80) return 0;
  if (c >= 0xf0 && c <= 0xf4) {
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 > 0x8f) return 0;
    return (c1 & 0xc0) === 0x80 ? 4 : 0;
  }
  return 0;
}
