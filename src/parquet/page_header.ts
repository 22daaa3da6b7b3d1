/**
 * Page headers read straight from the bytes (the Thrift compact protocol, just enough of it): the
 * one reader of page headers, for the page guard that checks a page before it is decoded and for
 * the column cursor that decodes it with the same header.
 * @module
 */

/**
 * The page header fields the checks and the decoders use. `type`: 0 data, 1 index, 2 dictionary,
 * 3 data v2. Encodings are the format's numbers (see `data_page.ts` for their names).
 */
export interface PageHeader {
  headerBytes: number;
  type: number;
  uncompressed: number;
  compressed: number;
  data?: { numValues?: number; encoding?: number; defEncoding?: number; repEncoding?: number };
  dictionary?: { numValues?: number };
  v2?: {
    numValues?: number;
    numNulls?: number;
    numRows?: number;
    encoding?: number;
    defLength?: number;
    repLength?: number;
    isCompressed?: boolean;
  };
}

type Thrift = Map<number, number | boolean | Thrift | undefined>;

export class ThriftReader {
  off: number;
  constructor(readonly view: DataView, start: number) {
    this.off = start;
  }

  byte(): number {
    return this.view.getUint8(this.off++);
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      if (shift < 32) result |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7;
    }
    throw new Error("varint longer than 10 bytes");
  }

  zigzag(): number {
    const n = this.varint();
    return (n >>> 1) ^ -(n & 1);
  }

  struct(depth: number): Thrift {
    if (depth > 8) throw new Error("structures nested too deeply");
    const out: Thrift = new Map();
    let fid = 0;
    for (;;) {
      const b = this.byte();
      const type = b & 0x0f;
      if (type === 0) return out;
      const delta = b >> 4;
      fid = delta ? fid + delta : this.zigzag();
      out.set(fid, this.value(type, depth));
    }
  }

  value(type: number, depth: number): number | boolean | Thrift | undefined {
    switch (type) {
      case 1:
        return true;
      case 2:
        return false;
      case 3:
        return this.view.getInt8(this.off++);
      case 4:
      case 5:
        return this.zigzag();
      case 6:
        this.varint(); // i64: not needed
        return undefined;
      case 7:
        this.off += 8;
        return undefined;
      case 8: {
        const n = this.varint();
        if (n < 0 || this.off + n > this.view.byteLength) throw new Error(`binary of ${n} bytes`);
        this.off += n;
        return undefined;
      }
      case 9: {
        const b = this.byte();
        let size = b >> 4;
        const elem = b & 0x0f;
        if (size === 15) size = this.varint();
        if (size < 0 || size > this.view.byteLength - this.off) throw new Error(`list of ${size}`);
        for (let i = 0; i < size; i++) {
          if (elem === 1 || elem === 2) this.off++;
          else this.value(elem, depth + 1);
        }
        return undefined;
      }
      case 12:
        return this.struct(depth + 1);
      default:
        // Sets (10) and maps (11) too: Parquet's page headers have none, and hyparquet refuses them.
        throw new Error(`unknown field type ${type}`);
    }
  }
}

const num = (v: unknown) => (typeof v === "number" ? v : undefined);

/**
 * Reads the page header at `start` (Thrift compact protocol): the fields the checks use and the
 * header's length. Throws a plain `Error` when it is damaged. Exported for tools and tests.
 */
export function readPageHeader(view: DataView, start: number): PageHeader {
  const r = new ThriftReader(view, start);
  const h = r.struct(0);
  const sub = (id: number) => {
    const s = h.get(id);
    return s instanceof Map ? s : undefined;
  };
  const dp = sub(5);
  const dict = sub(7);
  const v2 = sub(8);
  return {
    headerBytes: r.off - start,
    type: num(h.get(1)) ?? -1,
    uncompressed: num(h.get(2)) ?? -1,
    compressed: num(h.get(3)) ?? -1,
    data: dp && {
      numValues: num(dp.get(1)),
      encoding: num(dp.get(2)),
      defEncoding: num(dp.get(3)),
      repEncoding: num(dp.get(4)),
    },
    dictionary: dict && { numValues: num(dict.get(1)) },
    v2: v2 && {
      numValues: num(v2.get(1)),
      numNulls: num(v2.get(2)),
      numRows: num(v2.get(3)),
      encoding: num(v2.get(4)),
      defLength: num(v2.get(5)),
      repLength: num(v2.get(6)),
      isCompressed: typeof v2.get(7) === "boolean" ? v2.get(7) as boolean : undefined,
    },
  };
}
