import assert from "node:assert/strict";
import { readRleBitPackedHybrid } from "./hyparquet.ts";
import { Rng } from "../../tests/lib/ocsf_fixtures.ts";
import { Hybrid } from "./column_cursor.ts";

function varint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

/** A hybrid stream of `width`-bit values: RLE runs and bit-packed runs, as Parquet writes them. */
function stream(
  rand: () => number,
  width: number,
  values: number,
): { bytes: Uint8Array; n: number } {
  const out: number[] = [];
  let n = 0;
  const max = 2 ** width;
  while (n < values) {
    if (rand() < 0.5) {
      const count = 1 + Math.floor(rand() * 40);
      const value = Math.floor(rand() * max);
      varint(out, count << 1);
      for (let i = 0; i < (width + 7) >> 3; i++) out.push((value >>> (8 * i)) & 0xff);
      n += count;
    } else {
      const groups = 1 + Math.floor(rand() * 5);
      varint(out, (groups << 1) | 1);
      const bits: number[] = [];
      for (let k = 0; k < groups * 8; k++) {
        const v = Math.floor(rand() * max);
        for (let b = 0; b < width; b++) bits.push((v >>> b) & 1);
      }
      for (let i = 0; i < bits.length; i += 8) {
        let byte = 0;
        for (let b = 0; b < 8; b++) byte |= bits[i + b]! << b;
        out.push(byte);
      }
      n += groups * 8;
    }
  }
  return { bytes: new Uint8Array(out), n };
}

Deno.test("Hybrid reads in pieces of any size what hyparquet reads whole", () => {
  const seeded = new Rng(20261129);
  const rand = () => seeded.next();
  for (let c = 0; c < 400; c++) {
    const width = 1 + Math.floor(rand() * 20);
    const { bytes } = stream(rand, width, 1 + Math.floor(rand() * 300));
    // Fewer values than the stream holds, as a page's count cuts its last run.
    const n = 1 + Math.floor(rand() * 300);
    const view = new DataView(bytes.buffer);
    const whole = new Int32Array(n);
    let wholeError: unknown;
    try {
      readRleBitPackedHybrid({ view, offset: 0 }, width, whole, bytes.length);
    } catch (e) {
      wholeError = e;
    }
    const h = new Hybrid(view, 0, width);
    const pieces = new Int32Array(n);
    let piecesError: unknown;
    try {
      for (let at = 0; at < n;) {
        const k = Math.min(n - at, 1 + Math.floor(rand() * 17));
        const piece = new Int32Array(k);
        h.read(piece, k);
        pieces.set(piece, at);
        at += k;
      }
    } catch (e) {
      piecesError = e;
    }
    // Both fail (the values asked for run past the stream), or both give the same values.
    assert.equal(piecesError !== undefined, wholeError !== undefined, `case ${c}: ${piecesError}`);
    if (!wholeError) assert.deepEqual(pieces, whole, `case ${c}, width ${width}`);
  }
});

Deno.test("Hybrid fails, as hyparquet does, on a bit-packed run cut short by the end of its page", () => {
  // Two groups of eight 5-bit values take 10 bytes; the page ends after 5 of them.
  const cut = new Uint8Array([(2 << 1) | 1, 0x21, 0x43, 0x65, 0x87, 0xa9]);
  const view = new DataView(cut.buffer);
  assert.throws(() =>
    readRleBitPackedHybrid({ view, offset: 0 }, 5, new Int32Array(3), cut.length)
  );
  assert.throws(() => new Hybrid(view, 0, 5).read(new Int32Array(3), 3), RangeError);
  // Whole, the same run reads.
  const whole = new Uint8Array([(2 << 1) | 1, ...Array.from({ length: 10 }, (_, i) => i * 37)]);
  const v = new DataView(whole.buffer);
  const a = new Int32Array(16);
  const b = new Int32Array(16);
  readRleBitPackedHybrid({ view: v, offset: 0 }, 5, a, whole.length);
  new Hybrid(v, 0, 5).read(b, 16);
  assert.deepEqual(b, a);
});
