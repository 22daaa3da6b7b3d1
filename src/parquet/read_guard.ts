/**
 * The page guard of one object: every column chunk checked page by page as it arrives, before
 * hyparquet acts on what the pages declare (see `limits.ts` for the limits themselves).
 * @module
 */
import { parquetSchema } from "hyparquet";
import type { AsyncBuffer, Compressors, FileMetaData, SchemaTree } from "hyparquet";
import { CollectorError } from "../errors.ts";
import { BoundedInflation } from "./inflate.ts";
import type { GroupPages } from "./shared_pages.ts";
import { fail } from "./limit_error.ts";
import { checkColumnChunk, checkRowGroup, checkSchemaShape, collectLeaves } from "./limits.ts";
import type { DeclaredChunk, ParquetLimits } from "./limits.ts";
import { readPageHeader, ThriftReader } from "./page_header.ts";
import {
  bitWidth,
  countPacked,
  deltaInt32,
  readVarIntAt,
  writePaddedVarInt,
} from "./page_values.ts";
import type { PageHeader } from "./page_header.ts";

/** A page inflated: the bytes of its body inflated, and what they inflated to. */
interface Inflated {
  input: Uint8Array;
  output: Uint8Array;
}

/** What the page checks need to know about one column chunk, and what they found so far. */
interface Chunk extends DeclaredChunk {
  checked: boolean;
  /** Uncompressed bytes of the pages checked so far. */
  total: number;
}

/**
 * Checks one object's metadata and then its pages as they are read. Create it once the metadata
 * is known; read through {@link buffer} with {@link compressors}; call {@link release} after each
 * read to drop inflated pages hyparquet did not ask for.
 */
export class ReadGuard {
  readonly #limits: ParquetLimits;
  readonly #name: string;
  readonly #chunks: Chunk[] = [];
  readonly #byStart = new Map<number, Chunk>();
  readonly #inflation: BoundedInflation;
  /** Per row group: the most uncompressed bytes its pages may hold, and what they held so far. */
  readonly #groupCaps: number[] = [];
  readonly #groupTotals: number[] = [];
  /** Bytes each row group needs to decode, as declared (`rowGroupMemory`). */
  readonly #groupNeeds: number[] = [];
  readonly #freeFrom: number;

  /**
   * Checks `metadata` of an object of `byteLength` bytes against `limits`; throws `DataError`
   * 601, 605, 606 or 613 on the first violation. In a row group that needs at least `freeFrom`
   * bytes to decode (see {@link enter}), the pages inflated and the buffers {@link adopt}ed are
   * freed (detached) at the next {@link release}.
   */
  constructor(
    metadata: FileMetaData,
    byteLength: number,
    limits: ParquetLimits,
    name: string,
    freeFrom = Infinity,
  ) {
    this.#freeFrom = freeFrom;
    this.#limits = limits;
    this.#name = name;
    checkSchemaShape(metadata, limits, name);
    const root = parquetSchema(metadata);
    const leaves = new Map<string, SchemaTree[]>();
    collectLeaves(root, [root], leaves, limits, name);
    if (leaves.size > limits.maxColumns) {
      fail(
        "PARQUET_SCHEMA_LIMIT",
        name,
        `schema has ${leaves.size} columns, more than the ${limits.maxColumns} accepted`,
      );
    }
    for (const [g, group] of (metadata.row_groups ?? []).entries()) {
      const { cap, need } = checkRowGroup(g, group, limits, name);
      this.#groupCaps.push(cap);
      this.#groupNeeds.push(need);
      this.#groupTotals.push(0);
      for (const c of group.columns ?? []) {
        if (!c.meta_data) continue; // hyparquet refuses it
        const declared = checkColumnChunk(g, c.meta_data, leaves, byteLength, limits, name);
        this.#chunks.push({ ...declared, checked: false, total: 0 });
      }
    }
    this.#chunks.sort((a, b) => a.start - b.start);
    for (const c of this.#chunks) this.#byStart.set(c.start, c);
    this.#inflation = new BoundedInflation(limits.maxPageBytes, name);
  }

  /** `file`, with every column chunk checked page by page as it arrives (see the module). */
  buffer(file: AsyncBuffer): AsyncBuffer {
    return {
      byteLength: file.byteLength,
      slice: async (start: number, end = file.byteLength): Promise<ArrayBuffer> => {
        const buf = await file.slice(start, end);
        const stop = start + buf.byteLength;
        for (const c of this.#chunks) {
          if (c.start >= stop) break;
          if (c.checked || c.start < start || c.end > stop) continue;
          this.#checkChunk(c, new Uint8Array(buf, c.start - start, c.end - c.start));
          c.checked = true;
        }
        return buf;
      },
    };
  }

  /** Decompressors that stop at the declared size and reuse pages inflated by the checks. */
  get compressors(): Compressors {
    return this.#inflation.compressors;
  }

  /** Pages inflated by hyparquet's request without a check first (0 when every chunk arrived whole). */
  get unchecked(): number {
    return this.#inflation.unchecked;
  }

  /** Drops inflated pages nobody asked for (call after each read); see the constructor. */
  release(): void {
    this.#inflation.release();
  }

  /** Row group `g` is decoded next: whether its buffers are freed (see the constructor). */
  enter(g: number): void {
    this.#inflation.freeing = (this.#groupNeeds[g] ?? 0) >= this.#freeFrom;
  }

  /** In a row group whose buffers are freed, `bytes` (a whole buffer) too. */
  adopt(bytes: Uint8Array): void {
    this.#inflation.adopt(bytes);
  }

  /** Checks the pages of one column chunk, the way hyparquet will walk them. */
  #checkChunk(c: Chunk, bytes: Uint8Array): void {
    this.#restart(c);
    let off = 0;
    while (off < bytes.length - 1) {
      const h = this.#checkPage(c, bytes, off);
      off += h.headerBytes + h.compressed;
    }
  }

  /**
   * Checks the page at byte `off` of `bytes`, a window of the column chunk that starts at
   * `chunkStart` in the object, beginning at byte `base` of the chunk; the window must hold the
   * whole page or reach the chunk's end. The page is inflated once, for the decoder to take
   * through {@link compressors}. For readers that walk a chunk's pages one at a time, so that no
   * more than the page being decoded is held inflated. Call it for the pages in order, from the
   * chunk's first byte. `header`, when given, is the page's header as {@link readPageHeader} read
   * it at `off` (else it is read here). Returns the header checked, for the reader to decode the
   * page with; its body starts `headerBytes` after `off` and is `compressed` bytes long.
   */
  checkPage(
    chunkStart: number,
    bytes: Uint8Array,
    off: number,
    base = 0,
    header?: PageHeader,
  ): PageHeader {
    const c = this.#byStart.get(chunkStart);
    if (c === undefined) {
      fail("PARQUET_INVALID", this.#name, `no column chunk starts at byte ${chunkStart}`);
    }
    if (base + off === 0) this.#restart(c);
    return this.#checkPage(c, bytes, off, base, header);
  }

  /** A chunk checked again from its start (read once more) counts once in its row group. */
  #restart(c: Chunk): void {
    this.#groupTotals[c.group]! -= c.total;
    c.total = 0;
  }

  #checkPage(c: Chunk, bytes: Uint8Array, off: number, base = 0, header?: PageHeader): PageHeader {
    const limits = this.#limits;
    const where = (what: string) => `column ${c.path}: ${what}`;
    const h = header ?? this.#readHeader(c, bytes, off, base);
    const bodyStart = off + h.headerBytes;
    const { compressed, uncompressed } = h;
    if (!(compressed >= 0 && bodyStart + compressed <= bytes.length)) {
      fail(
        "PARQUET_INVALID",
        this.#name,
        where(`page size ${compressed} runs past its column chunk`),
      );
    }
    if (!(uncompressed >= 0 && uncompressed <= limits.maxPageBytes)) {
      fail(
        "PARQUET_LIMIT",
        this.#name,
        where(
          `a page declares ${uncompressed} uncompressed bytes (at most ${limits.maxPageBytes} accepted)`,
        ),
      );
    }
    c.total += uncompressed;
    const group = (this.#groupTotals[c.group]! += uncompressed);
    if (group > this.#groupCaps[c.group]!) {
      fail(
        "PARQUET_LIMIT",
        this.#name,
        where(
          `the pages of row group ${c.group} hold more than ${this.#groupCaps[
            c.group
          ]!} uncompressed bytes`,
        ),
      );
    }
    if (c.total > limits.maxColumnChunkBytes) {
      fail(
        "PARQUET_LIMIT",
        this.#name,
        where(`pages hold more than ${limits.maxColumnChunkBytes} uncompressed bytes`),
      );
    }
    const body = bytes.subarray(bodyStart, bodyStart + compressed);
    // Required fields left out make hyparquet compute offsets from `undefined` (NaN) and
    // read the same byte forever.
    const missing = h.type === 0
      ? !h.data || h.data.numValues === undefined || h.data.encoding === undefined
      : h.type === 2
      ? !h.dictionary || h.dictionary.numValues === undefined
      : h.type === 3
      ? !h.v2 || [
        h.v2.numValues,
        h.v2.numNulls,
        h.v2.numRows,
        h.v2.encoding,
        h.v2.defLength,
        h.v2.repLength,
      ].includes(undefined)
      : false;
    if (missing) {
      fail("PARQUET_INVALID", this.#name, where(`a page header lacks required fields`));
    }
    const inflated = c.codec === "UNCOMPRESSED" ? undefined : inflatedPart(h, body);
    const shared = inflated && this.#shared?.page(c.start + base + off, inflated.length);
    if (shared?.ready) {
      // Inflated and checked by another reader of the row group, from the same bytes; a V2
      // page's levels are not inflated: they are checked (and runs rewritten) in this body.
      if (h.type === 3) this.#checkLevelsV2(c, h, body, where);
      this.#inflation.keep(inflated!.input, shared.ready);
      return h;
    }
    this.#inflated = undefined;
    try {
      if (h.type === 2) this.#checkDictionary(c, h, body, where);
      else if (h.type === 0) this.#checkDataPage(c, h, body, where);
      else if (h.type === 3) this.#checkDataPageV2(c, h, body, where);
    } catch (e) {
      shared?.abandon();
      throw e;
    }
    if (shared) {
      // Set by #page as the checks inflated it (the compiler sees only the reset above).
      const page = this.#inflated as Inflated | undefined;
      if (page === undefined) shared.abandon();
      else this.#inflation.swap(page.input, page.output, shared.publish(page.output));
    }
    return h;
  }

  /**
   * Pages of the row group being read that other readers share (see `shared_pages.ts`), until
   * told otherwise: each page is then inflated and checked by whichever reader reaches it first.
   */
  share(pages: GroupPages | undefined): void {
    this.#shared = pages;
  }

  #shared: GroupPages | undefined;
  /** The page {@link #page} inflated last. */
  #inflated: Inflated | undefined;

  /** The header of the page at byte `off` of `bytes`; `DataError` 601 when it is damaged. */
  #readHeader(c: Chunk, bytes: Uint8Array, off: number, base: number): PageHeader {
    try {
      return readPageHeader(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), off);
    } catch (e) {
      throw new CollectorError(
        "PARQUET_INVALID",
        `Cannot decode Parquet ${this.#name}: column ${c.path}: page header at byte ${
          c.start + base + off
        } is damaged (${e instanceof Error ? e.message : e})`,
        { cause: e, context: { object: this.#name, column: c.path } },
      );
    }
  }

  #values(n: number | undefined, what: string, where: (w: string) => string): number {
    const v = n ?? 0;
    if (!(v >= 0 && v <= this.#limits.maxPageValues)) {
      fail(
        "PARQUET_LIMIT",
        this.#name,
        where(`${what} declares ${v} values (at most ${this.#limits.maxPageValues} accepted)`),
      );
    }
    return v;
  }

  #checkDictionary(
    c: Chunk,
    h: PageHeader,
    body: Uint8Array,
    where: (w: string) => string,
  ): void {
    const n = this.#values(h.dictionary?.numValues, "a dictionary page", where);
    const fits = Math.floor((h.uncompressed * 8) / c.valueBits);
    if (n > fits) {
      fail(
        "PARQUET_LIMIT",
        this.#name,
        where(`a dictionary page declares ${n} ${c.type} values in ${h.uncompressed} bytes`),
      );
    }
    // Inflated now, with its size capped, and kept for hyparquet.
    if (c.codec !== "UNCOMPRESSED") this.#page(c, body, h.uncompressed);
  }

  #page(c: Chunk, input: Uint8Array, outputLength: number): Uint8Array {
    if (c.codec === "UNCOMPRESSED") return input;
    const out = this.#inflation.inflate(c.codec, input, outputLength);
    this.#inflation.keep(input, out);
    this.#inflated = { input, output: out };
    return out;
  }

  #checkDataPage(c: Chunk, h: PageHeader, body: Uint8Array, where: (w: string) => string): void {
    const n = this.#values(h.data?.numValues, "a data page", where);
    if (c.codec === "UNCOMPRESSED" && body.length !== h.uncompressed) return; // hyparquet refuses it
    const page = this.#page(c, body, h.uncompressed);
    const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
    let off = 0;
    // Values the page holds (not null): what hyparquet reads its value stream for.
    let present = n;
    const levels = (max: number, what: string, target?: number) => {
      if (max === 0) return;
      if (off + 4 > page.length) return;
      const length = view.getUint32(off, true);
      const matches = this.#runs(view, off + 4, bitWidth(max), n, what, where, target);
      if (target !== undefined) present = matches;
      off += 4 + length;
    };
    levels(c.maxRep, "repetition levels");
    levels(c.maxDef, "definition levels", c.maxDef);
    this.#checkValues(c, h.data!.encoding, view, off, present, false, where);
  }

  #checkDataPageV2(c: Chunk, h: PageHeader, body: Uint8Array, where: (w: string) => string): void {
    const { n, nulls, rep, def } = this.#checkLevelsV2(c, h, body, where);
    const valuesLength = h.uncompressed - rep - def;
    let values = body.subarray(rep + def);
    if (h.v2!.isCompressed !== false && valuesLength) values = this.#page(c, values, valuesLength);
    const vview = new DataView(values.buffer, values.byteOffset, values.byteLength);
    this.#checkValues(c, h.v2!.encoding, vview, 0, n - nulls, true, where);
  }

  /**
   * Checks the counts and the level streams of a V2 data page, which are stored as they are in
   * its body (a run rewritten as {@link #runs} says is rewritten in the body).
   */
  #checkLevelsV2(c: Chunk, h: PageHeader, body: Uint8Array, where: (w: string) => string) {
    const v2 = h.v2!;
    const n = this.#values(v2.numValues, "a data page", where);
    const nulls = v2.numNulls ?? 0;
    const rows = v2.numRows ?? 0;
    const rep = v2.repLength ?? 0;
    const def = v2.defLength ?? 0;
    if (!(nulls >= 0 && nulls <= n && rows >= 0 && rows <= n)) {
      fail(
        "PARQUET_INVALID",
        this.#name,
        where(`a data page declares ${n} values, ${nulls} nulls and ${rows} rows`),
      );
    }
    if (!(rep >= 0 && def >= 0 && rep + def <= body.length && rep + def <= h.uncompressed)) {
      fail("PARQUET_INVALID", this.#name, where("a data page's level lengths exceed the page"));
    }
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    if (c.maxRep > 0) this.#runs(view, 0, bitWidth(c.maxRep), n, "repetition levels", where);
    if (c.maxDef > 0) this.#runs(view, rep, bitWidth(c.maxDef), n, "definition levels", where);
    return { n, nulls, rep, def };
  }

  /**
   * Checks the value stream of a data page the way hyparquet reads it: dictionary indices
   * (a bit width, then runs), RLE booleans (a 4-byte length, then runs) and DELTA_BYTE_ARRAY.
   */
  #checkValues(
    c: Chunk,
    encoding: number | undefined,
    view: DataView,
    off: number,
    n: number,
    v2: boolean,
    where: (w: string) => string,
  ): void {
    if (off >= view.byteLength) return;
    const dictionary = encoding === 2 || encoding === 8;
    if (v2 ? encoding === 3 : (dictionary || encoding === 3) && c.type === "BOOLEAN") {
      this.#runs(view, off + 4, 1, n, "values", where);
    } else if (dictionary || (!v2 && encoding === 3)) {
      const width = view.getUint8(off);
      if (width > 32) {
        fail("PARQUET_INVALID", this.#name, where(`dictionary indices of ${width} bits`));
      }
      if (width > 0 || v2) this.#runs(view, off + 1, width, n, "dictionary indices", where);
    } else if (encoding === 5 || encoding === 6) {
      // DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY: a bad header makes hyparquet loop forever.
      this.#deltaHeader(view, off, where);
    } else if (encoding === 7) {
      this.#checkDeltaByteArray(view, off, n, where);
    }
  }

  /**
   * Checks the header of a DELTA_BINARY_PACKED stream as the format requires it: a block size
   * that is a positive multiple of 128, split in miniblocks of a multiple of 32 values. Returns
   * the header's fields and where the first block starts.
   */
  #deltaHeader(view: DataView, off: number, where: (w: string) => string) {
    let h;
    try {
      const r = new ThriftReader(view, off);
      const blockSize = r.varint();
      const miniblocks = r.varint();
      r.varint();
      r.zigzag();
      h = { blockSize, miniblocks, next: r.off };
    } catch {
      return undefined; // hyparquet stops with a range error
    }
    const { blockSize, miniblocks } = h;
    if (
      !(blockSize > 0 && blockSize % 128 === 0 && miniblocks > 0 &&
        (blockSize / miniblocks) % 32 === 0)
    ) {
      fail(
        "PARQUET_INVALID",
        this.#name,
        where(`a delta-encoded page has blocks of ${blockSize} values in ${miniblocks} miniblocks`),
      );
    }
    return h;
  }

  /**
   * Walks a run-length / bit-packed hybrid stream as hyparquet will read it for an array of
   * `limit` values. A run longer than what is left of the page is legal (DuckDB writes them) but
   * hyparquet writes every value of an RLE run, whatever the array's length, and reads every byte
   * a bit-packed run declares: such a run's header is rewritten in place, with as many bytes as
   * before, to end where the page's values end, so that every decoder reads exactly what the page
   * needs. Refuses only a run that could loop without reading (an empty bit-packed run). Returns
   * how many of the `limit` values equal `target` (0 without one), so far as the stream holds them.
   */
  #runs(
    view: DataView,
    start: number,
    width: number,
    limit: number,
    what: string,
    where: (w: string) => string,
    target = -1,
  ): number {
    let off = start;
    let seen = 0;
    let matches = 0;
    const bytesPerRle = (width + 7) >> 3;
    while (seen < limit) {
      if (off >= view.byteLength) return matches; // hyparquet stops with a range error
      const r = readVarIntAt(view, off);
      if (r === undefined) return matches;
      const header = r.value;
      const headerStart = off;
      off = r.next;
      const left = limit - seen;
      if (header & 1) {
        let groups = header >>> 1;
        if (groups === 0) {
          fail("PARQUET_LIMIT", this.#name, where(`${what}: an empty bit-packed run`));
        }
        if (groups * 8 > left + 7) {
          groups = Math.ceil(left / 8);
          writePaddedVarInt(view, headerStart, r.next, (groups << 1) | 1);
        }
        const count = groups * 8;
        if (target >= 0) matches += countPacked(view, off, width, Math.min(count, left), target);
        off += Math.ceil((count * width) / 8);
        seen += count;
      } else {
        let count = header >>> 1;
        if (count > left) {
          count = left;
          writePaddedVarInt(view, headerStart, r.next, count * 2);
        }
        if (target >= 0 && off + bytesPerRle <= view.byteLength) {
          let value = 0;
          for (let i = 0; i < bytesPerRle; i++) value |= view.getUint8(off + i) << (i << 3);
          if (value === target) matches += count;
        }
        off += bytesPerRle;
        seen += count;
      }
    }
    return matches;
  }

  /** DELTA_BYTE_ARRAY copies each value's prefix from the one before: bound what it expands to. */
  #checkDeltaByteArray(view: DataView, off: number, n: number, where: (w: string) => string): void {
    const prefix = new Int32Array(n);
    const suffix = new Int32Array(n);
    let next: number | undefined;
    try {
      if (!this.#deltaHeader(view, off, where)) return;
      next = deltaInt32(view, off, n, prefix);
      if (next !== undefined && this.#deltaHeader(view, next, where)) {
        next = deltaInt32(view, next, n, suffix);
      } else next = undefined;
    } catch (e) {
      if (e instanceof CollectorError) throw e;
      return; // hyparquet fails on it the same way
    }
    if (next === undefined) return;
    let total = 0;
    let last = 0;
    for (let i = 0; i < n; i++) {
      const p = prefix[i]!;
      const s = suffix[i]!;
      if (p < 0 || s < 0 || p > last) return; // hyparquet fails on it
      last = p + s;
      total += last;
      if (total > this.#limits.maxPageBytes) {
        fail(
          "PARQUET_LIMIT",
          this.#name,
          where(`a DELTA_BYTE_ARRAY page expands to more than ${this.#limits.maxPageBytes} bytes`),
        );
      }
    }
  }
}

/**
 * The part of a page's body that is inflated (all of it, or a V2 page's values) and its length
 * inflated; undefined for pages that are not inflated (index pages, V2 pages stored as they are).
 */
function inflatedPart(
  h: PageHeader,
  body: Uint8Array,
): { input: Uint8Array; length: number } | undefined {
  if (h.type === 0 || h.type === 2) return { input: body, length: h.uncompressed };
  if (h.type !== 3 || h.v2!.isCompressed === false) return undefined;
  const levels = h.v2!.repLength! + h.v2!.defLength!;
  return { input: body.subarray(levels), length: h.uncompressed - levels };
}
