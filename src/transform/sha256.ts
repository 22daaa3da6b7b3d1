/**
 * SHA-256 (FIPS 180-4) in 32-bit integer arithmetic, for HMAC-SHA-256 of short texts without a
 * call into the runtime per text: the obfuscation's `hash` method runs once per value, and a
 * pure-JavaScript compression of the one or two blocks a field value takes is several times
 * cheaper than copying `node:crypto` hash states for it.
 * @module
 */

const K = new Int32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

const INITIAL = new Int32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);

/** The character codes of the hex digits. */
const HEX_CODES = new Uint16Array([..."0123456789abcdef"].map((c) => c.charCodeAt(0)));

/** Compresses the 64-byte block at `b[off]` into `h` (8 words), with `w` (64 words) as scratch. */
function compress(h: Int32Array, b: Uint8Array, off: number, w: Int32Array): void {
  for (let t = 0; t < 16; t++) {
    const p = off + 4 * t;
    w[t] = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15]!;
    const y = w[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) | 0;
  }
  let a = h[0]!, bb = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
  for (let t = 0; t < 64; t++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (hh + S1 + ch + K[t]! + w[t]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & bb) ^ (a & c) ^ (bb & c);
    const t2 = (S0 + maj) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = bb;
    bb = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + bb) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + hh) | 0;
}

/** SHA-256 of `data`, as 32 bytes. */
export function sha256(data: Uint8Array): Uint8Array {
  const h = INITIAL.slice();
  finish(h, new Int32Array(64), data, 0, data.length, 0, new Uint8Array(128));
  return wordsToBytes(h, new Uint8Array(32));
}

/**
 * Runs the blocks of `data[0..n)` and the padding into `h`, for a message that had `before`
 * bytes (whole blocks) before it; `tail` (128 bytes) is scratch.
 */
function finish(
  h: Int32Array,
  w: Int32Array,
  data: Uint8Array,
  start: number,
  n: number,
  before: number,
  tail: Uint8Array,
): void {
  const stop = start + n;
  let off = start;
  for (; off + 64 <= stop; off += 64) compress(h, data, off, w);
  const rest = stop - off;
  const end = rest + 9 <= 64 ? 64 : 128;
  for (let i = 0; i < rest; i++) tail[i] = data[off + i]!;
  tail[rest] = 0x80;
  tail.fill(0, rest + 1, end - 8);
  const bits = (before + n) * 8;
  // The length in bits, big-endian, in the last 8 bytes (texts are far below 2^53 bits).
  const high = Math.floor(bits / 0x100000000);
  tail[end - 8] = high >>> 24;
  tail[end - 7] = high >>> 16;
  tail[end - 6] = high >>> 8;
  tail[end - 5] = high;
  tail[end - 4] = bits >>> 24;
  tail[end - 3] = bits >>> 16;
  tail[end - 2] = bits >>> 8;
  tail[end - 1] = bits;
  compress(h, tail, 0, w);
  if (end === 128) compress(h, tail, 64, w);
}

function wordsToBytes(h: Int32Array, out: Uint8Array): Uint8Array {
  for (let i = 0; i < 8; i++) {
    const x = h[i]!;
    out[4 * i] = x >>> 24;
    out[4 * i + 1] = x >>> 16;
    out[4 * i + 2] = x >>> 8;
    out[4 * i + 3] = x;
  }
  return out;
}

const encoder = new TextEncoder();

/**
 * HMAC-SHA-256 (RFC 2104) under the 64-byte padded key `block` (the key, or its SHA-256 when
 * longer, padded with zeros): a function that writes the hex digest of `data[from..to)` as 64
 * ASCII bytes into `out` at `at`. The states after the inner and outer key blocks are computed
 * once.
 */
export function hmacSha256HexBytes(
  block: Uint8Array,
): (data: Uint8Array, from: number, to: number, out: Uint8Array, at: number) => void {
  const inner = INITIAL.slice();
  const outer = INITIAL.slice();
  const w = new Int32Array(64);
  const pad = new Uint8Array(64);
  for (let i = 0; i < 64; i++) pad[i] = block[i]! ^ 0x36;
  compress(inner, pad, 0, w);
  for (let i = 0; i < 64; i++) pad[i] = block[i]! ^ 0x5c;
  compress(outer, pad, 0, w);
  const h = new Int32Array(8);
  const tail = new Uint8Array(128);
  const digest = new Uint8Array(32);
  return (data, from, to, out, at) => {
    h.set(inner);
    finish(h, w, data, from, to - from, 64, tail);
    wordsToBytes(h, digest);
    h.set(outer);
    finish(h, w, digest, 0, 32, 64, tail);
    for (let i = 0; i < 8; i++) {
      const x = h[i]!;
      for (let k = 0; k < 8; k++) out[at + 8 * i + k] = HEX_CODES[(x >>> (28 - 4 * k)) & 15]!;
    }
  };
}

/** {@link hmacSha256HexBytes} of a text (its UTF-8 bytes), as a 64-character hex string. */
export function hmacSha256Hex(block: Uint8Array): (text: string) => string {
  const hex = hmacSha256HexBytes(block);
  const chars = new Uint8Array(64);
  let buf = new Uint8Array(256);
  return (text) => {
    let n = 0;
    if (text.length * 3 > buf.length) buf = new Uint8Array(text.length * 3);
    for (; n < text.length; n++) {
      const c = text.charCodeAt(n);
      if (c >= 0x80) break;
      buf[n] = c;
    }
    if (n < text.length) n = encoder.encodeInto(text, buf).written;
    hex(buf, 0, n, chars, 0);
    return String.fromCharCode.apply(null, chars as unknown as number[]);
  };
}
