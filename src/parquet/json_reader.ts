/**
 * The fast decoding path: turns a Parquet object straight into the JSON text of each event,
 * without building one object per row. Per row group it reads the compressed column chunks in one
 * request, then walks every leaf column page by page (`column_cursor.ts`) while it assembles
 * each slice of rows' JSON from the values and definition/repetition levels, following the same value and shape policy as `shape.ts` (every LIST an
 * array whatever its layout, MAP an object, null fields left out, present structs kept even when
 * empty). `tests/differential_test.ts` checks it against the object path on every fixture and
 * public sample.
 * @module
 */
import type { ColumnDecoder } from "./hyparquet.ts";
import { DEFAULT_PARSERS } from "./hyparquet.ts";
import { parquetSchema } from "hyparquet";
import type { AsyncBuffer, FileMetaData, RowGroup, SchemaTree } from "hyparquet";
import { CollectorError, isCollectorError } from "../errors.ts";
import { TIMESTAMP_PARSERS } from "../transform/values.ts";
import { ColumnCursor } from "./column_cursor.ts";
import { ByteOut } from "./json_bytes.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { ReadGuard } from "./read_guard.ts";
import type { ParquetLimits } from "./limits.ts";
import { readMetadata } from "./reader.ts";
import { truncateEvent } from "../transform/truncate.ts";

/** A slice of consecutive events of one object, as complete lines of bytes. */
export interface LineSlice {
  /** Index of the first event of the slice in the object. */
  readonly rowStart: number;
  /** Number of events (lines) in `bytes`. */
  readonly rows: number;
  /**
   * `rows` lines: header, event JSON, newline. The slice's own buffer, viewed by nothing else:
   * the consumer may free it (`buffer.transfer(0)`) once done with it.
   */
  readonly bytes: Uint8Array;
  /** Bytes of the header before each line (one header per slice): where each event starts. */
  readonly headBytes: number;
  /** With {@link ReadEventLinesOptions.lineStarts}: the offset of each line in `bytes`. */
  readonly starts?: Uint32Array<ArrayBuffer>;
  /**
   * With {@link ReadEventLinesOptions.maxEventBytes}: the events of the slice that were over it
   * (their row in the object, and their bytes as built whole); their lines hold them truncated.
   */
  readonly oversized?: readonly Oversized[];
}

/** An event over `maxEventBytes`: its row in the object and its size as built whole. */
export interface Oversized {
  readonly row: number;
  readonly bytes: number;
}

/** Options for {@link readEventLines}. */
export interface ReadEventLinesOptions {
  signal?: AbortSignal;
  /** Rows to skip at the start of the object. Default 0. */
  startRow?: number;
  /** Most events per slice. Default 1000. */
  sliceRows?: number;
  /** A slice ends once it holds this many bytes. Default 256 KiB. */
  sliceBytes?: number;
  /** The bytes written before each event (the syslog header), asked once per slice. */
  header?: () => Uint8Array;
  /** Names the object in errors. */
  name?: string;
  /** JSON members added at the end of every event, e.g. `"@devo_pulling_id":"1"`. */
  append?: string;
  /** Caps on what the object may declare (see `limits.ts`). Default {@link DEFAULT_LIMITS}. */
  limits?: ParquetLimits;
  /**
   * Only the row groups (by index in the footer) this accepts are read; the others are skipped
   * without a read. `rowStart` stays the index in the whole object. Default: every row group.
   */
  rowGroups?: (index: number) => boolean;
  /**
   * Row groups of at most this many compressed bytes are read in one request; larger ones
   * column chunk by column chunk, in windows of 1 MiB or a page, as the rows reach them, so that
   * memory does not grow with the row group. Default 16 MiB.
   */
  groupReadBytes?: number;
  /**
   * Row groups of more than 4 × `partRows` rows are read in parts of `partRows` rows, so that
   * readers on several threads can share one (see {@link takePart}); slices never cross a part's
   * end. Default 8,192.
   */
  partRows?: number;
  /**
   * Asked as the reader reaches each part of a row group read in parts (with the row group's
   * index and the part's number in it): false skips the part's rows, whose levels are walked and
   * nothing written. Default: every part.
   */
  takePart?: (index: number, part: number) => boolean;
  /** Also give the offset of each line of a slice (`LineSlice.starts`). Default false. */
  lineStarts?: boolean;
  /**
   * Cut each event off while it is built once it passes this many bytes (its JSON, `append`
   * members included): the line holds the event as `truncateEvent` cuts it down, and the slice
   * lists it in `oversized`. Default: no limit.
   */
  maxEventBytes?: number;
}

/** Rows of each part of a row group of `rows` rows, for `partRows` (see {@link ReadEventLinesOptions.partRows}). */
export function rowsPerPart(rows: number, partRows = DEFAULT_PART_ROWS): number {
  return partRows > 0 && rows > 4 * partRows ? partRows : rows;
}

/** Default {@link ReadEventLinesOptions.partRows}. */
export const DEFAULT_PART_ROWS = 8192;

const PARSERS = { ...DEFAULT_PARSERS, ...TIMESTAMP_PARSERS };

/** A compiled schema node. */
interface Plan {
  kind: "leaf" | "struct" | "list" | "map";
  /** `"name":` as bytes. */
  keyBytes: Uint8Array;
  /** `,"name":` as bytes: the key after another member. */
  nextKeyBytes?: Uint8Array;
  optional: boolean;
  /** Definition level at which this node is present. */
  def: number;
  /** Leaf indices under this node (in order); `first` is leaves[0]. */
  leaves: number[];
  children: Plan[];
  /** list/map: the repeated node: its definition and repetition levels. */
  repDef: number;
  repLevel: number;
  /** list: how one element is emitted. */
  element?: Plan;
  /** map: key and value plans. */
  key?: Plan;
  value?: Plan;
  /** list: the element is a one-field struct (legacy `array` / `_tuple` group) to re-wrap. */
  wrapKeyBytes?: Uint8Array;
}

/**
 * `p` with every optional field present, in one order: plans of all kinds share one object
 * shape, so the per-row code that walks them stays monomorphic.
 */
function plan(p: Plan): Plan {
  return {
    kind: p.kind,
    keyBytes: p.keyBytes,
    nextKeyBytes: p.nextKeyBytes ?? concatBytes([COMMA], p.keyBytes),
    optional: p.optional,
    def: p.def,
    leaves: p.leaves,
    children: p.children,
    repDef: p.repDef,
    repLevel: p.repLevel,
    element: p.element,
    key: p.key,
    value: p.value,
    wrapKeyBytes: p.wrapKeyBytes,
  };
}

function concatBytes(head: number[], tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

const isRepeated = (n: SchemaTree) => n.element.repetition_type === "REPEATED";
const isOptional = (n: SchemaTree) => n.element.repetition_type === "OPTIONAL";

/** Compiles `root`'s children into plans; leaf indices follow schema (column) order. */
function compile(root: SchemaTree): { fields: Plan[]; leafPaths: string[][] } {
  const leafPaths: string[][] = [];
  const node = (n: SchemaTree, def: number, rep: number, asElement = false): Plan => {
    const optional = isOptional(n);
    const repeated = isRepeated(n) && !asElement;
    const d = def + (optional || isRepeated(n) ? 1 : 0);
    const r = rep + (isRepeated(n) ? 1 : 0);
    const keyBytes = new TextEncoder().encode(JSON.stringify(n.element.name) + ":");
    if (repeated) {
      // A repeated field outside a LIST annotation: a list whose element is the field itself.
      const element = node(n, def, rep, true);
      return plan({
        kind: "list",
        keyBytes,
        optional: false,
        def,
        leaves: element.leaves,
        children: [],
        repDef: d,
        repLevel: r,
        element: plan({ ...element, def: d, optional: false }),
      });
    }
    if (n.children.length === 0) {
      const leaves = [leafPaths.length];
      leafPaths.push(n.path);
      return plan({
        kind: "leaf",
        keyBytes,
        optional,
        def: d,
        leaves,
        children: [],
        repDef: 0,
        repLevel: 0,
      });
    }
    const ct = n.element.converted_type;
    const lt = n.element.logical_type?.type;
    const only = n.children[0]!;
    if ((ct === "LIST" || lt === "LIST") && n.children.length === 1 && isRepeated(only)) {
      const rd = d + 1;
      const rl = r + 1;
      let element: Plan;
      let wrapKeyBytes: Uint8Array | undefined;
      if (only.children.length === 1) {
        const inner = only.children[0]!;
        const legacy = only.element.name === "array" ||
          only.element.name === `${n.element.name}_tuple`;
        element = node(inner, rd, rl);
        if (legacy) {
          wrapKeyBytes = new TextEncoder().encode(JSON.stringify(inner.element.name) + ":");
        }
      } else {
        // Two-level: the repeated field itself is the element (primitive or group).
        element = { ...node(only, d, r, true), def: rd, optional: false };
      }
      return plan({
        kind: "list",
        keyBytes,
        optional,
        def: d,
        leaves: element.leaves,
        children: [],
        repDef: rd,
        repLevel: rl,
        element,
        wrapKeyBytes,
      });
    }
    if (
      (ct === "MAP" || ct === "MAP_KEY_VALUE" || lt === "MAP") && n.children.length === 1 &&
      isRepeated(only) && only.children.length === 2 &&
      only.children.some((c) => c.element.name === "key") &&
      only.children.every((c) => !isRepeated(c))
    ) {
      const rd = d + 1;
      const rl = r + 1;
      const plans = only.children.map((c) => node(c, rd, rl));
      const ki = only.children.findIndex((c) => c.element.name === "key");
      return plan({
        kind: "map",
        keyBytes,
        optional,
        def: d,
        leaves: plans.flatMap((p) => p.leaves),
        children: [],
        repDef: rd,
        repLevel: rl,
        key: plans[ki],
        value: plans[1 - ki],
      });
    }
    const children = n.children.map((c) => node(c, d, r));
    return plan({
      kind: "struct",
      keyBytes,
      optional,
      def: d,
      leaves: children.flatMap((c) => c.leaves),
      children,
      repDef: 0,
      repLevel: 0,
    });
  };
  const fields = root.children.map((c) => node(c, 0, 0));
  return { fields, leafPaths };
}

const COMMA = 44;
const OPEN = 123;
const CLOSE = 125;
const LOPEN = 91;
const LCLOSE = 93;
const COLON = 58;
const enc = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The cut-off of one event while it is built (`maxEventBytes`). An event over the limit is sent
 * as `truncateEvent` makes it: its members in order, each kept only while it fits, so a member
 * longer than the limit is never kept. Such a member is dropped as it is written, and its bytes
 * counted, so that no event is ever held whole in memory.
 */
interface EventCap {
  readonly max: number;
  /** Bytes of the members dropped from the event being written. */
  dropped: number;
}

/**
 * Replaces the event written from `open` (over `cap.max` bytes once its dropped members are
 * counted) with its truncated form, as `truncateEvent` makes it from the event built whole.
 */
function cutDown(
  out: ByteOut,
  open: number,
  cap: EventCap,
  last: readonly string[],
  row: number,
): Oversized {
  const bytes = out.pos - open + cap.dropped;
  const json = decoder.decode(out.buf.subarray(open, out.pos));
  out.pos = open;
  out.text(truncateEvent(json, cap.max, bytes, last));
  return { row, bytes };
}

/** Drops the member written since `at` when it is over `cap.max` bytes; true when it did. */
function dropIfOver(o: ByteOut, at: number, cap: EventCap): boolean {
  const n = o.pos - at + o.dropped;
  o.dropped = 0;
  if (n <= cap.max) return false;
  o.pos = at;
  cap.dropped += n;
  return true;
}

/** Assembles rows from decoded leaves, writing JSON bytes. */
class Assembler {
  readonly #leaves: ColumnCursor[];
  readonly #o: ByteOut;
  readonly #scratch = new ByteOut(256);

  constructor(leaves: ColumnCursor[], out: ByteOut) {
    this.#leaves = leaves;
    this.#o = out;
  }

  #defAt(li: number): number {
    return this.#leaves[li]!.defAt();
  }

  /** Skips one (null or empty) entry of every leaf under `p`. */
  #skip(p: Plan): void {
    for (const li of p.leaves) this.#leaves[li]!.i++;
  }

  /** True (and the entry skipped) when `p` is null here or its value is left out. */
  isNull(p: Plan): boolean {
    const first = p.leaves[0]!;
    if (p.optional && this.#defAt(first) < p.def) {
      this.#skip(p);
      return true;
    }
    if (p.kind === "leaf") {
      const l = this.#leaves[first]!;
      if (l.omittedHere()) {
        l.i++;
        l.v++;
        return true;
      }
    }
    return false;
  }

  /**
   * Writes the members of struct `p` (or of a row); returns whether any was written. With `cap`
   * (a row's members only), a member of more than `cap.max` bytes is dropped as it is written:
   * the output never holds more of it than `cap.max` bytes and the largest value in it, and
   * `cap.dropped` counts its bytes. Truncation would leave it out anyway (see `EventCap`).
   */
  members(children: readonly Plan[], o: ByteOut, any = false, cap?: EventCap): boolean {
    const leaves = this.#leaves;
    for (const c of children) {
      const at = o.pos;
      if (cap !== undefined) o.cap = at + cap.max;
      if (c.kind === "leaf") {
        // The common case, inline: a scalar member.
        const l = leaves[c.leaves[0]!]!;
        if (c.optional && l.defAt() < c.def) {
          l.i++;
          continue;
        }
        if (!l.text && l.omittedHere()) {
          l.i++;
          l.v++;
          continue;
        }
        o.bytes(any ? c.nextKeyBytes! : c.keyBytes);
        l.write(o);
      } else {
        if (this.isNull(c)) continue;
        o.bytes(any ? c.nextKeyBytes! : c.keyBytes);
        this.value(c, o);
      }
      if (cap !== undefined && dropIfOver(o, at, cap)) continue;
      any = true;
    }
    return any;
  }

  /** Writes the value of `p`, known not to be null. */
  value(p: Plan, o: ByteOut = this.#o): void {
    const first = p.leaves[0]!;
    switch (p.kind) {
      case "leaf":
        return this.#leaves[first]!.write(o);
      case "struct":
        o.byte(OPEN);
        this.members(p.children, o);
        o.byte(CLOSE);
        return;
      case "list": {
        if (this.#defAt(first) < p.repDef) {
          this.#skip(p);
          o.byte(LOPEN);
          o.byte(LCLOSE);
          return;
        }
        const el = p.element!;
        o.byte(LOPEN);
        let n = 0;
        do {
          if (n++ > 0) o.byte(COMMA);
          const isNull = this.isNull(el);
          if (p.wrapKeyBytes) {
            o.byte(OPEN);
            if (!isNull) {
              o.bytes(p.wrapKeyBytes);
              this.value(el, o);
            }
            o.byte(CLOSE);
          } else if (isNull) o.ascii("null");
          else this.value(el, o);
        } while (this.#more(first, p.repLevel));
        o.byte(LCLOSE);
        return;
      }
      case "map": {
        o.byte(OPEN);
        if (this.#defAt(first) < p.repDef) {
          this.#skip(p);
          o.byte(CLOSE);
          return;
        }
        let any = false;
        const k = this.#scratch;
        do {
          k.pos = 0;
          const keyNull = this.isNull(p.key!);
          if (!keyNull) this.value(p.key!, k);
          if (this.isNull(p.value!) || keyNull) continue;
          if (any) o.byte(COMMA);
          if (k.buf[0] === 34) o.range(k.buf, 0, k.pos);
          else o.jsonString(new TextDecoder().decode(k.buf.subarray(0, k.pos)));
          o.byte(COLON);
          this.value(p.value!, o);
          any = true;
        } while (this.#more(first, p.repLevel));
        o.byte(CLOSE);
        return;
      }
    }
  }

  /** Whether the next entry of leaf `li` continues the list at `repLevel`. */
  #more(li: number, repLevel: number): boolean {
    const l = this.#leaves[li]!;
    if (!l.rep || l.i >= l.rep.length) return false;
    return l.rep[l.i]! >= repLevel;
  }
}

/**
 * The bytes of the object a row group's column chunks span, `[start, end)`; what
 * {@link readEventLines} reads in one request when it is at most `groupReadBytes`. Undefined
 * when the metadata is missing (the reader reports it).
 */
export function groupByteRange(group: RowGroup): [number, number] | undefined {
  if (group.columns.length === 0 || group.columns.some((c) => !c.meta_data)) return undefined;
  return span(group.columns.map((c) => chunkRange(c.meta_data!)));
}

/** The bytes the column chunk `ranges` span together. */
function span(ranges: [number, number][]): [number, number] {
  return [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
}

/**
 * Moves column `c` from row `at` to row `to` of its chunk, writing nothing: a column outside
 * lists takes the rows it holds, then passes whole pages unread, and reads only the pages `to`
 * falls in; a column inside lists walks its levels `step` rows at a time.
 */
async function skipColumn(c: ColumnCursor, at: number, to: number, step: number): Promise<void> {
  while (at < to) {
    const held = c.heldRows();
    if (held === undefined) {
      const end = Math.min(to, at + step);
      await c.ensure(end);
      c.skipRows(end - at);
      at = end;
    } else if (held > 0) {
      const k = Math.min(held, to - at);
      c.skipRows(k);
      at += k;
    } else {
      const passed = c.skipPages(to);
      if (passed > 0) {
        c.skipRows(passed);
        at += passed;
        continue;
      }
      await c.ensure(Math.min(to, at + step));
      // A chunk that ends early is reported by the row count check after the row group.
      if (c.heldRows() === 0) return;
    }
  }
}

function chunkRange(
  col: { dictionary_page_offset?: bigint; data_page_offset: bigint; total_compressed_size: bigint },
): [number, number] {
  const data = Number(col.data_page_offset);
  const dict = col.dictionary_page_offset === undefined
    ? undefined
    : Number(col.dictionary_page_offset);
  const start = dict !== undefined && dict > 0 && dict < data ? dict : data;
  return [start, start + Number(col.total_compressed_size)];
}

/**
 * Yields the events of `file` as complete lines (header, event JSON with `append` members,
 * newline), in row order, one row group decoded at a time.
 */
export async function* readEventLines(
  file: AsyncBuffer,
  options: ReadEventLinesOptions = {},
): AsyncGenerator<LineSlice> {
  const { signal, startRow = 0, sliceRows = 1000, sliceBytes = 256 * 1024, name = "object" } =
    options;
  const groupReadBytes = options.groupReadBytes ?? 16 * 1024 * 1024;
  const header = options.header ?? (() => EMPTY);
  const tail = options.append ? enc.encode("," + options.append) : EMPTY;
  const limits = options.limits ?? DEFAULT_LIMITS;
  const metadata: FileMetaData = await readMetadata(file, name, limits);
  // Checks the metadata now, and every page as its row group arrives (see limits.ts).
  let guard: ReadGuard;
  let fields: Plan[];
  let leafPaths: string[][];
  let schemaLeaves: { path: SchemaTree[] }[];
  try {
    guard = new ReadGuard(metadata, file.byteLength, limits, name);
    const root = parquetSchema(metadata);
    ({ fields, leafPaths } = compile(root));
    schemaLeaves = leafPaths.map((p) => ({ path: pathTo(root, p) }));
  } catch (e) {
    throw wrap(e, name);
  }
  const out = new ByteOut(sliceBytes + (sliceBytes >> 2));
  const starts = options.lineStarts ? new Uint32Array(sliceRows) : undefined;
  const cap: EventCap | undefined = options.maxEventBytes === undefined
    ? undefined
    : { max: options.maxEventBytes, dropped: 0 };
  const last = options.append ? [options.append] : [];
  let oversized: Oversized[] | undefined;
  let groupStart = 0;
  for (const [index, group] of metadata.row_groups.entries()) {
    const rows = Number(group.num_rows);
    const groupEnd = groupStart + rows;
    if (groupEnd <= startRow || rows === 0 || options.rowGroups?.(index) === false) {
      groupStart = groupEnd;
      continue;
    }
    signal?.throwIfAborted();
    let columns: ColumnCursor[];
    try {
      if (group.columns.length !== schemaLeaves.length) {
        throw new Error(
          `row group has ${group.columns.length} columns, schema ${schemaLeaves.length}`,
        );
      }
      const ranges = group.columns.map((c) => chunkRange(c.meta_data!));
      const [lo, hi] = span(ranges);
      if (lo < 0 || hi > file.byteLength) {
        throw new Error(
          `row group byte range ${lo}-${hi} lies outside the ${file.byteLength}-byte object`,
        );
      }
      // One read for the row group's compressed bytes, unless it is larger than
      // `groupReadBytes`: then each column chunk is read in windows as its pages are reached.
      // Pages are inflated and decoded as the rows reach them, each checked just before.
      const bytes = hi - lo <= groupReadBytes
        ? new Uint8Array(await file.slice(lo, hi))
        : undefined;
      columns = group.columns.map((c, i): ColumnCursor => {
        const md = c.meta_data!;
        const path = schemaLeaves[i]!.path;
        const decoder: ColumnDecoder = {
          pathInSchema: md.path_in_schema,
          type: md.type,
          element: path.at(-1)!.element,
          schemaPath: path,
          codec: md.codec,
          parsers: PARSERS,
          compressors: guard.compressors,
          utf8: true,
        };
        let maxDef = 0;
        let maxRep = 0;
        for (const n of path.slice(1)) {
          if (n.element.repetition_type !== "REQUIRED") maxDef++;
          if (n.element.repetition_type === "REPEATED") maxRep++;
        }
        const [s, e] = ranges[i]!;
        return new ColumnCursor(
          { file, start: s, end: e, bytes: bytes?.subarray(s - lo, e - lo) },
          decoder,
          maxDef,
          maxRep,
          Number(md.num_values),
          guard,
        );
      });
    } catch (e) {
      if (isCollectorError(e)) throw e;
      throw wrap(e, name);
    }
    const ensure = async (rows: number) => {
      let reads: Promise<void>[] | undefined;
      for (const c of columns) {
        const p = c.ensure(rows);
        if (p) (reads ??= []).push(p);
      }
      if (reads) await Promise.all(reads);
    };
    const asm = new Assembler(columns, out);
    /** Moves every column past the rows up to `to`, writing nothing. */
    const skip = async (from: number, to: number) => {
      if (to <= from) return;
      await Promise.all(
        columns.map((c) => skipColumn(c, from - groupStart, to - groupStart, sliceRows)),
      );
    };
    const part = rowsPerPart(rows, options.partRows);
    try {
      let row = Math.max(groupStart, startRow);
      await skip(groupStart, row);
      let taken = -1; // the part being written
      while (row < groupEnd) {
        signal?.throwIfAborted();
        const p = Math.floor((row - groupStart) / part);
        const partEnd = Math.min(groupEnd, groupStart + (p + 1) * part);
        if (p !== taken && part < rows && options.takePart) {
          if (!options.takePart(index, p)) {
            await skip(row, partEnd);
            row = partEnd;
            continue;
          }
          taken = p;
        }
        const first = row;
        const head = header();
        out.pos = 0;
        const end = Math.min(partEnd, row + sliceRows);
        await ensure(end - groupStart);
        while (row < end && out.pos < sliceBytes) {
          if (starts) starts[row - first] = out.pos;
          out.bytes(head);
          const open = out.pos;
          out.byte(OPEN);
          let any: boolean;
          if (cap) {
            cap.dropped = 0;
            any = asm.members(fields, out, false, cap);
            out.cap = Infinity;
          } else any = asm.members(fields, out);
          if (tail.length > 0) {
            if (any) out.bytes(tail);
            else out.bytes(tail.subarray(1));
          }
          out.byte(CLOSE);
          if (cap && out.pos - open + cap.dropped > cap.max) {
            (oversized ??= []).push(cutDown(out, open, cap, last, row));
          }
          out.byte(10);
          row++;
        }
        yield {
          rowStart: first,
          rows: row - first,
          bytes: out.buf.slice(0, out.pos),
          headBytes: head.length,
          starts: starts?.slice(0, row - first),
          ...(oversized ? { oversized } : {}),
        };
        oversized = undefined;
      }
      // Every column must hold exactly the row group's rows.
      await ensure(rows + 1);
    } catch (e) {
      if (isCollectorError(e) || (e instanceof DOMException && e.name === "AbortError")) throw e;
      throw wrap(e, name);
    } finally {
      guard.release();
    }
    groupStart = groupEnd;
  }
}

const EMPTY = new Uint8Array(0);

function pathTo(root: SchemaTree, names: string[]): SchemaTree[] {
  const out = [root];
  let n = root;
  for (const name of names) {
    n = n.children.find((c) => c.element.name === name)!;
    out.push(n);
  }
  return out;
}

function wrap(e: unknown, name: string): CollectorError {
  // The metadata checks' own errors (limits, schema) keep their code.
  if (isCollectorError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new CollectorError(
    /unsupported|not supported/i.test(msg) ? "PARQUET_UNSUPPORTED" : "PARQUET_INVALID",
    `Cannot decode Parquet ${name}: ${msg}`,
    { cause: e, context: { object: name } },
  );
}
