/**
 * The RLE / bit-packed hybrid reader of the fast path (levels, dictionary indices), read a piece
 * at a time.
 * @module
 */
import { readVarInt } from "./hyparquet.ts";

/**
 * An RLE / bit-packed hybrid stream (levels, dictionary indices) read a piece at a time: each
 * {@link read} goes on where the one before stopped, inside a run too. It reads what hyparquet's
 * `readRleBitPackedHybrid` reads, and fails where that fails: a run whose bytes lie past the end
 * of the page.
 */
export class Hybrid {
  readonly #reader: { view: DataView; offset: number };
  readonly #bytes: Uint8Array;
  readonly #width: number;
  readonly #mask: number;
  /** Values left in the current run. */
  #left = 0;
  #rle = true;
  #value = 0;
  /** Bit of the page where the next bit-packed value starts. */
  #bit = 0;

  constructor(view: DataView, offset: number, width: number) {
    this.#reader = { view, offset };
    this.#bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    this.#width = width;
    this.#mask = (1 << width) - 1;
  }

  /** Writes the next `n` values to `out[0..n)`. */
  read(out: Uint8Array | Uint16Array | Int32Array, n: number): void {
    let i = 0;
    while (i < n) {
      if (this.#left === 0) {
        this.#run();
        continue;
      }
      const take = Math.min(this.#left, n - i);
      if (this.#rle) out.fill(this.#value, i, i + take);
      else this.#unpack(out, i, take);
      i += take;
      this.#left -= take;
    }
  }

  /** Passes the next `n` values without reading them (a bit-packed run's are not unpacked). */
  skip(n: number): void {
    while (n > 0) {
      if (this.#left === 0) {
        this.#run();
        continue;
      }
      const take = Math.min(this.#left, n);
      if (!this.#rle) this.#bit += take * this.#width;
      n -= take;
      this.#left -= take;
    }
  }

  #run(): void {
    const r = this.#reader;
    const header = readVarInt(r);
    const width = this.#width;
    if (header & 1) {
      const count = header >> 1 << 3;
      if (count === 0) {
        // hyparquet takes a byte for an empty bit-packed run, and fails without one.
        if (r.offset < r.view.byteLength) r.offset++;
        else if (this.#mask) throw new RangeError(`bit-packed run at byte ${r.offset} is empty`);
        return;
      }
      const bytes = (header >> 1) * width;
      if (count < 0 || r.offset + bytes > r.view.byteLength) {
        throw new RangeError(`bit-packed run at byte ${r.offset} runs past its page`);
      }
      this.#bit = r.offset * 8;
      r.offset += bytes;
      this.#rle = false;
      this.#left = count;
    } else {
      let value = 0;
      for (let i = 0, w = width + 7 >> 3; i < w; i++) {
        value |= r.view.getUint8(r.offset++) << (i << 3);
      }
      this.#rle = true;
      this.#value = value;
      this.#left = header >>> 1;
    }
  }

  /** `take` values of the bit-packed run, into `out` from `at`; their bytes were checked. */
  #unpack(out: Uint8Array | Uint16Array | Int32Array, at: number, take: number): void {
    const bytes = this.#bytes;
    const width = this.#width;
    const mask = this.#mask;
    let bit = this.#bit;
    for (let k = 0; k < take; k++) {
      let b = bit >>> 3;
      let have = 8 - (bit & 7);
      let v = bytes[b++]! >>> (bit & 7);
      while (have < width) {
        v |= bytes[b++]! << have;
        have += 8;
      }
      out[at + k] = v & mask;
      bit += width;
    }
    this.#bit = bit;
  }
}
