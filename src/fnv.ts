/**
 * FNV-1a, 32 bits, of a text's UTF-8 bytes: a small, stable hash for spreading keys over shards
 * and naming files after what they hold. Not for security.
 * @module
 */

const encoder = new TextEncoder();

/** 32-bit FNV-1a of the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const b of encoder.encode(text)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
