/**
 * One leaf column of one row group, read page by page for the fast path (`json_reader.ts`).
 * The cursor holds only the pages its rows have not been written from yet, and keeps each page
 * compact: levels as bytes, text as offsets into the inflated page, dictionary-encoded values as
 * indices into the dictionary's entries (each written as JSON once, numbers too), other numbers
 * as hyparquet's typed arrays converted a block at a time. Dictionary-encoded and PLAIN text
 * pages are decoded `pieceEntries` entries at a time as the rows reach them. So memory follows
 * the page's bytes and the rows in flight, not the row-group size or the entries a page holds,
 * and no JavaScript object is made per text value.
 * @module
 */
import type { ColumnDecoder } from "./hyparquet.ts";
import type { AsyncBuffer } from "hyparquet";
import { millisOf } from "../transform/values.ts";
import { ByteOut } from "./json_bytes.ts";
import { readPageHeader } from "./page_header.ts";
import type { PageHeader } from "./page_header.ts";
import type { ReadGuard } from "./read_guard.ts";
import {
  indexArray,
  omitted,
  plainArrays,
  skipPlainArrays,
  writeValue,
} from "./dictionary_json.ts";
import type { DictionaryJson } from "./dictionary_json.ts";
import { decodeWhole, openPage, readDictionary } from "./data_page.ts";
import { mayMatchAny } from "./pattern_filter.ts";
import type { PatternFilter } from "./pattern_filter.ts";
import type { PageColumn, PageDictionary, WholePage } from "./data_page.ts";

import {
  HEADER_BYTES,
  isTextColumn,
  plainInt64,
  segment,
  timestampDivisor,
  valueOf,
  WINDOW,
} from "./column_pieces.ts";
import type { PageLeft, Segment } from "./column_pieces.ts";
export { Hybrid } from "./hybrid.ts";

/** What a column cursor may be told besides its column. */
export interface CursorOptions {
  /**
   * Entries of a data page decoded at a time: the levels and values of a page holding more are
   * decoded in pieces as the rows reach them, so what a page costs once decoded does not grow
   * with the rows it holds (a dictionary-encoded page of a low-cardinality column can hold a
   * whole row group's). Tests lower it to cut pages at every kind of boundary. Default 8,192.
   */
  pieceEntries?: number;
  /**
   * Counts the data pages {@link ColumnCursor.skipPages} passed unread, the entries
   * {@link ColumnCursor.skipInPage} passed undecoded, and the pieces of pages
   * {@link ColumnCursor.mayPass} found no pattern can match in (tests, profiling).
   */
  stats?: CursorStats;
}

/** What {@link CursorOptions.stats} counts. */
export interface CursorStats {
  passedPages: number;
  passedEntries?: number;
  cleanPieces?: number;
}

/** Entries of a data page decoded at a time, by default (see {@link CursorOptions}). */
export const DEFAULT_PIECE_ENTRIES = 8192;

/**
 * A leaf column's entries from the cursor on: `def[i]`/`rep[i]` are the levels of entry `i`
 * (`def` absent when the column is required, `rep` when it is not repeated); `v` is the next
 * value (entries below `maxDef` have none). The assembler advances `i` and `v`; {@link ensure}
 * reads pages, which moves what is left to the start (`i` and `v` change then, never during a
 * slice).
 */
export class ColumnCursor {
  readonly #pieceEntries: number;
  readonly #stats?: CursorStats;
  readonly maxDef: number;
  readonly text: boolean;
  /** The column as its data pages are decoded (`data_page.ts`). */
  readonly #col: PageColumn;
  def?: Uint8Array;
  rep?: Uint8Array;
  i = 0;
  v = 0;
  readonly #file: AsyncBuffer;
  /** Bytes of the chunk held: `#buf[0]` is byte `#base` of the chunk; pages start at `#pos`. */
  #buf: Uint8Array;
  #base = 0;
  #pos = 0;
  readonly #length: number;
  readonly #decoder: ColumnDecoder;
  readonly #maxRep: number;
  readonly #numValues: number;
  readonly #guard: ReadGuard;
  /** Text without a text annotation: bytes that are not UTF-8 are written as base64. */
  readonly #binary: boolean;
  readonly #start: number;
  /** The column chunk's dictionary, once its dictionary page was read. */
  #dictionary: PageDictionary = { size: -1 };
  /** Segments of the window and the value index each starts at; `#cur` holds `v`. */
  #segs: Segment[] = [];
  #segStart: number[] = [];
  #values = 0;
  #cur = 0;
  /** The value indices `#segs[#cur]` spans: `#segBase` up to `#segEnd`. */
  #segBase = 0;
  #segEnd = 0;
  /** Entries decoded from the chunk so far. */
  #count = 0;
  /** Rows started in the chunk so far (entries with repetition level 0). */
  #rows = 0;
  /** Rows passed by {@link skipPages} that {@link skipRows} has not counted yet. */
  #passedRows = 0;
  /** The data page being decoded in pieces, while some of its entries are not. */
  #left?: PageLeft;
  #done = false;

  /**
   * The column chunk (dictionary and data pages) is bytes `start` to `end` of `file`; `bytes`,
   * when given, holds all of it, else it is read in windows of at least {@link WINDOW} bytes as
   * the pages are reached. `guard` checks each page just before it is decoded.
   */
  constructor(
    chunk: { file: AsyncBuffer; start: number; end: number; bytes?: Uint8Array },
    decoder: ColumnDecoder,
    maxDef: number,
    maxRep: number,
    numValues: number,
    guard: ReadGuard,
    options: CursorOptions = {},
  ) {
    this.#pieceEntries = Math.max(1, options.pieceEntries ?? DEFAULT_PIECE_ENTRIES);
    this.#stats = options.stats;
    this.#file = chunk.file;
    this.#start = chunk.start;
    this.#length = chunk.end - chunk.start;
    this.#buf = chunk.bytes ?? new Uint8Array(0);
    this.#decoder = decoder;
    this.maxDef = maxDef;
    this.#maxRep = maxRep;
    this.#numValues = numValues;
    this.text = isTextColumn(decoder);
    this.#binary = this.text && decoder.element.converted_type === undefined &&
      decoder.element.logical_type === undefined;
    this.#col = {
      decoder,
      maxDef,
      maxRep,
      text: this.text,
      tsDiv: timestampDivisor(decoder),
      plainInt64: plainInt64(decoder),
    };
    this.#guard = guard;
    if (maxDef > 0) this.def = new Uint8Array(0);
    if (maxRep > 0) this.rep = new Uint8Array(0);
    if (numValues === 0) this.#done = true;
  }

  /**
   * Reads pages until the first `rows` rows of the chunk are complete, or the chunk ends;
   * returns a promise only when bytes of the chunk had to be read first.
   */
  ensure(rows: number): Promise<void> | undefined {
    while (!this.#done && this.#complete() < rows) {
      const need = this.#next();
      if (need > 0) return this.#read(need).then(() => this.ensure(rows));
    }
    return undefined;
  }

  /** Reads at least `need` bytes of the chunk from `#pos` (up to its end) into the window. */
  async #read(need: number): Promise<void> {
    const len = Math.min(Math.max(need, WINDOW), this.#length - this.#pos);
    const at = this.#start + this.#pos;
    this.#buf = new Uint8Array(await this.#file.slice(at, at + len));
    if (this.#buf.length !== len) {
      throw new Error(`read ${this.#buf.length} of ${len} bytes at ${at}`);
    }
    this.#base = this.#pos;
  }

  /**
   * Moves past the entries of the next `n` rows without writing them: their values are counted,
   * not converted. The rows must be held (see {@link ensure}), and the cursor at a row's start.
   */
  skipRows(n: number): void {
    // Rows passed with their pages come first (see skipPages).
    const passed = Math.min(n, this.#passedRows);
    this.#passedRows -= passed;
    n -= passed;
    if (n === 0) return;
    const i = this.i;
    let end = i + n;
    const rep = this.rep;
    if (rep) {
      // Row starts are the entries with repetition level 0; the (n+1)-th ends the n rows.
      let starts = 0;
      end = i;
      const len = rep.length;
      for (; end < len; end++) {
        if (rep[end] === 0 && starts++ === n) break;
      }
    }
    let values = end - i;
    const def = this.def;
    if (def) {
      const max = this.maxDef;
      values = 0;
      for (let k = i; k < end; k++) if (def[k] === max) values++;
    }
    this.i = end;
    this.v += values;
  }

  /**
   * Passes whole data pages whose rows all come before row `to` of the chunk, without inflating,
   * checking or decoding them; {@link skipRows} then counts those rows first. Only for columns
   * outside lists (a page holds one entry per row), only once every entry held was taken, and
   * only pages whose bytes are held; anything else is left to {@link ensure}. A skipped page is
   * never read, so nothing in it can cost memory or time.
   */
  skipPages(to: number): number {
    if (this.#maxRep > 0 || this.#done || this.#left || this.heldRows() !== 0) return 0;
    const before = this.#passedRows;
    const buf = this.#buf;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    while (this.#count < this.#numValues && this.#pos < this.#length) {
      const off = this.#pos - this.#base;
      let h: ReturnType<typeof readPageHeader>;
      try {
        h = readPageHeader(view, off);
      } catch {
        break; // not held, or damaged: ensure reads and reports it
      }
      const n = h.type === 0 ? h.data?.numValues : h.type === 3 ? h.v2?.numValues : undefined;
      const end = off + h.headerBytes + h.compressed;
      if (
        n === undefined || !(n > 0) || !(h.compressed >= 0) || end > buf.length ||
        this.#rows + n > to || this.#count + n > this.#numValues
      ) break;
      this.#pos = this.#base + end;
      this.#count += n;
      this.#rows += n;
      this.#passedRows += n;
      if (this.#stats) this.#stats.passedPages++;
    }
    return this.#passedRows - before;
  }

  /**
   * Passes up to `rows` entries of the data page being decoded a piece at a time, without
   * decoding their values: definition levels are counted, dictionary indices and text lengths
   * passed over. Only for columns outside lists (an entry is a row), once every entry held was
   * taken; returns the rows passed, which {@link skipRows} then counts first (as with
   * {@link skipPages}). Dictionary indices passed this way are not checked against the
   * dictionary: nothing is written from them.
   */
  skipInPage(rows: number): number {
    const p = this.#left;
    if (this.#maxRep > 0 || p === undefined || rows <= 0 || this.heldRows() !== 0) return 0;
    const k = Math.min(p.left, rows);
    let count = k;
    if (p.def) {
      const def = this.#levels.length >= k ? this.#levels : (this.#levels = new Uint8Array(k));
      p.def.read(def, k);
      count = this.#present(def, k);
    }
    if (p.idx) {
      if (p.width > 0) p.idx.skip(count);
    } else p.off = skipPlainArrays(p.page, p.view, p.off, count, "PLAIN text value");
    this.#took(p, k);
    this.#rows += k;
    this.#passedRows += k;
    if (this.#stats) this.#stats.passedEntries = (this.#stats.passedEntries ?? 0) + k;
    return k;
  }

  /** Scratch for {@link skipInPage}'s levels. */
  #levels = new Uint8Array(0);

  /**
   * For a column outside lists, the rows held and not yet taken (one entry each); undefined for
   * a column inside lists, whose rows only its levels tell.
   */
  heldRows(): number | undefined {
    if (this.#maxRep > 0) return undefined;
    return this.def ? this.def.length - this.i : this.#values - this.v;
  }

  /** Definition level of the current entry. */
  defAt(): number {
    return this.def ? this.def[this.i]! : this.maxDef;
  }

  /** Whether the current value is left out by the policy (never for text). */
  omittedHere(): boolean {
    if (this.text) return false;
    const seg = this.#seg();
    switch (seg.kind) {
      case "ts":
      case "i64":
        return false;
      case "dict": {
        const omit = seg.json.omit;
        return omit !== undefined && omit[seg.idx[this.v - this.#segBase]!] === 1;
      }
      default:
        return omitted(this.#value());
    }
  }

  /**
   * The dictionary entry of the current value when it is dictionary-encoded (its JSON is
   * {@link dictionary}'s), else -1. Moves nothing.
   */
  entry(): number {
    const seg = this.#seg();
    if (seg.kind !== "dict") return -1;
    this.dictionary = seg.json;
    return seg.idx[this.v - this.#segBase]!;
  }

  /**
   * Whether the current value may hold a match of a pattern with one of `filters`
   * (`pattern_filter.ts`). False only for PLAIN text (not written as base64) when no bytes of the
   * piece of the page it was decoded with pass any of them: then no value of the piece can (a
   * value's text holds the characters of its bytes, and the piece holds its values' bytes).
   * Worked out once per piece and list of filters.
   */
  mayPass(filters: readonly PatternFilter[]): boolean {
    const seg = this.#seg();
    if (seg.kind !== "plain" || this.#binary) return true;
    if (seg !== this.#passSeg || filters !== this.#passFilters) {
      this.#passSeg = seg;
      this.#passFilters = filters;
      const n = seg.n;
      const pass = n === 0 ||
        mayMatchAny(filters, seg.buf, seg.start[0]!, seg.start[n - 1]! + seg.len[n - 1]!);
      this.#passes = pass;
      if (!pass && this.#stats) this.#stats.cleanPieces = (this.#stats.cleanPieces ?? 0) + 1;
    }
    return this.#passes;
  }

  /** {@link mayPass}'s last piece, filters and answer. */
  #passSeg: Segment | undefined;
  #passFilters: readonly PatternFilter[] | undefined;
  #passes = true;

  /** The dictionary of the last value {@link entry} found dictionary-encoded. */
  dictionary: DictionaryJson | undefined;

  /**
   * Moves the cursor back to entry `i` and value `v` (both taken from it earlier in the same
   * slice, while no page was read): the rows since are written again.
   */
  seek(i: number, v: number): void {
    this.i = i;
    this.v = v;
    this.#cur = 0;
    this.#segBase = 0;
    this.#segEnd = 0;
  }

  /** Writes the current value as JSON and moves past its entry. */
  write(o: ByteOut): void {
    this.i++;
    const seg = this.#seg();
    const k = this.v++ - this.#segBase;
    switch (seg.kind) {
      case "plain": {
        const s = seg.start[k]!;
        return o.jsonUtf8(seg.buf, s, s + seg.len[k]!, this.#binary);
      }
      case "dict": {
        const e = seg.idx[k]!;
        const at = seg.json.at;
        return o.range(seg.json.bytes, at[e]!, at[e + 1]!);
      }
      case "bytes":
        return o.jsonUtf8(seg.values[k]!, 0, seg.values[k]!.length, this.#binary);
      case "ts":
        if (seg.words.length !== 0 && o.timestampWords(seg.words, k)) return;
        return o.timestamp(millisOf(seg.raw[k]!, seg.div));
      case "i64":
        if (seg.words.length !== 0 && o.intWords(seg.words, k)) return;
        return writeValue(o, seg.raw[k]!);
      case "values":
        return writeValue(o, valueOf(seg, k, this.#decoder));
    }
  }

  #value(): unknown {
    const seg = this.#seg();
    return valueOf(
      seg as Segment & { kind: "values" },
      this.v - this.#segBase,
      this.#decoder,
    );
  }

  #seg(): Segment {
    if (this.v >= this.#segEnd) {
      const v = this.v;
      while (v >= this.#segStart[this.#cur]! + this.#segs[this.#cur]!.n) this.#cur++;
      this.#segBase = this.#segStart[this.#cur]!;
      this.#segEnd = this.#segBase + this.#segs[this.#cur]!.n;
    }
    return this.#segs[this.#cur]!;
  }

  #complete(): number {
    return this.#maxRep > 0 && !this.#done ? this.#rows - 1 : this.#rows;
  }

  /**
   * Reads the next data page (and any dictionary page before it) into the window; returns 0,
   * or the number of bytes from `#pos` to read first when the next page is not held.
   */
  #next(): number {
    if (this.#left) {
      this.#piece(this.#left);
      return 0;
    }
    for (;;) {
      if (this.#count >= this.#numValues || this.#pos >= this.#length) {
        this.#done = true;
        if (this.#count !== this.#numValues) {
          throw new Error(`column chunk ends after ${this.#count} of ${this.#numValues} values`);
        }
        return 0;
      }
      const buf = this.#buf;
      const off = this.#pos - this.#base;
      let header: PageHeader | undefined;
      try {
        header = readPageHeader(new DataView(buf.buffer, buf.byteOffset, buf.byteLength), off);
      } catch {
        // The header runs past the window, or is damaged: the guard says so once it is held.
      }
      if (this.#base + buf.length < this.#length) {
        // The window ends before the chunk: the page's header and body must be in it.
        const held = buf.length - off;
        if (header === undefined) return Math.max(2 * held, HEADER_BYTES);
        const size = header.headerBytes + header.compressed;
        if (!(size >= 0 && size <= held)) return Math.max(size, HEADER_BYTES);
      }
      // The one parse of the header, checked by the guard, is the one the page is decoded with.
      const h = this.#guard.checkPage(this.#start, buf, off, this.#base, header);
      const bodyStart = off + h.headerBytes;
      const body = buf.subarray(bodyStart, bodyStart + h.compressed);
      this.#pos = this.#base + bodyStart + h.compressed;
      if (h.type === 2) {
        this.#dictionary = readDictionary(this.#col, this.#binary, h, body);
        continue;
      }
      if (h.type !== 0 && h.type !== 3) continue; // index pages
      const n = h.type === 0 ? h.data!.numValues! : h.v2!.numValues!;
      if (this.#count + n > this.#numValues) {
        throw new Error("page holds more values than its column chunk");
      }
      this.#count += n;
      const left = openPage(this.#col, this.#dictionary, h, body, n);
      if (left) {
        this.#left = left;
        this.#piece(left);
      } else {
        this.#add(decodeWhole(this.#col, this.#dictionary, h, body), n);
        if (this.#count >= this.#numValues) this.#done = true;
      }
      return 0;
    }
  }

  /** Decodes the next entries of the page left (at most `pieceEntries`) into the window. */
  #piece(p: PageLeft): void {
    const k = Math.min(p.left, this.#pieceEntries);
    let rep: Uint8Array | undefined;
    let def: Uint8Array | undefined;
    if (p.rep) p.rep.read(rep = new Uint8Array(k), k);
    if (p.def) p.def.read(def = new Uint8Array(k), k);
    const count = def ? this.#present(def, k) : k;
    let seg: Segment;
    if (p.idx) {
      const idx = indexArray(p.width, count);
      if (p.width > 0) p.idx.read(idx, count);
      const size = p.size;
      for (let i = 0; i < count; i++) {
        if (idx[i]! >= size) throw new Error(`dictionary index ${idx[i]} out of ${size} entries`);
      }
      seg = segment({ kind: "dict", n: count, idx, json: p.json });
    } else {
      const start = new Int32Array(count);
      const len = new Int32Array(count);
      p.off = plainArrays(p.page, p.view, p.off, start, len, "PLAIN text value");
      seg = segment({ kind: "plain", n: count, buf: p.page, start, len });
    }
    this.#took(p, k);
    this.#add({ def, rep, seg }, k);
  }

  /** Of the first `k` definition levels in `def`, how many have a value. */
  #present(def: Uint8Array, k: number): number {
    const max = this.maxDef;
    let count = 0;
    for (let i = 0; i < k; i++) if (def[i] === max) count++;
    return count;
  }

  /** `k` more entries of page `p` were decoded or passed; the page is done when none is left. */
  #took(p: PageLeft, k: number): void {
    p.left -= k;
    if (p.left === 0) {
      this.#left = undefined;
      if (this.#count >= this.#numValues) this.#done = true;
    }
  }

  /** Appends one decoded data page to what is left of the window. */
  #add(page: WholePage, n: number): void {
    const from = this.i;
    const kept = ((this.def ?? this.rep)?.length ?? 0) - from;
    if (this.def) {
      const def = new Uint8Array(kept + n);
      def.set(this.def.subarray(from));
      if (page.def) def.set(page.def, kept);
      else def.fill(this.maxDef, kept);
      this.def = def;
    }
    if (this.rep) {
      const rep = new Uint8Array(kept + n);
      rep.set(this.rep.subarray(from));
      let starts = 0;
      if (page.rep) {
        const r = page.rep;
        for (let i = 0; i < n; i++) if (r[i] === 0) starts++;
        rep.set(r, kept);
      } else starts = n;
      this.rep = rep;
      this.#rows += starts;
    } else this.#rows += n;
    this.i = 0;
    // Segments the cursor has passed are dropped; value indices restart at the current one.
    let cur = 0;
    const v = this.v;
    while (cur < this.#segs.length && v >= this.#segStart[cur]! + this.#segs[cur]!.n) cur++;
    const base = cur < this.#segs.length ? this.#segStart[cur]! : this.#values;
    this.#segs = this.#segs.slice(cur);
    this.#segStart = this.#segStart.slice(cur).map((s) => s - base);
    this.#values -= base;
    this.v = v - base;
    this.#cur = 0;
    this.#segs.push(page.seg);
    this.#segStart.push(this.#values);
    this.#values += page.seg.n;
    this.#segBase = this.#segStart[0]!;
    this.#segEnd = this.#segBase + this.#segs[0]!.n;
  }
}
