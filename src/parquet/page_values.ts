/**
 * Reading and rewriting the value streams of a page for its checks: varints, RLE/bit-packed
 * runs (counted, and cut in place where the page ends) and DELTA_BINARY_PACKED blocks.
 * @module
 */
import { ThriftReader } from "./page_header.ts";

export function bitWidth(value: number): number {
  return 32 - Math.clz32(value);
}

/**
 * Writes `value` as a ULEB128 varint filling exactly the bytes `start..end` of `view` (with
 * redundant continuation bytes where it needs fewer), over a varint that held a larger value.
 */
export function writePaddedVarInt(view: DataView, start: number, end: number, value: number): void {
  let v = value;
  for (let i = start; i < end; i++) {
    view.setUint8(i, (v & 0x7f) | (i < end - 1 ? 0x80 : 0));
    v = Math.floor(v / 128);
  }
}

/** How many of the `count` bit-packed values of `width` bits from byte `off` equal `target`. */
export function countPacked(
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
export function readVarIntAt(
  view: DataView,
  start: number,
): { value: number; next: number } | undefined {
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
export function deltaInt32(
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
