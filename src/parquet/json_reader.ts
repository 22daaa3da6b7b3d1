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
import { parquetSchema } from "hyparquet";
import type { AsyncBuffer, ColumnMetaData, FileMetaData, RowGroup, SchemaTree } from "hyparquet";
import { CollectorError, isCollectorError } from "../errors.ts";
import { ColumnCursor } from "./column_cursor.ts";
import type { CursorOptions, CursorStats } from "./column_cursor.ts";
import { ByteOut } from "./json_bytes.ts";
import type { SharedPages } from "./shared_pages.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { ReadGuard } from "./read_guard.ts";
import type { ParquetLimits } from "./limits.ts";
import { readMetadata } from "./reader.ts";
import {
  Assembler,
  closeEvent,
  compile,
  cutDown,
  OPEN,
  PARSERS,
  writeMembers,
} from "./json_plan.ts";
import type { EventCap, Oversized, Plan } from "./json_plan.ts";
import type { Obfuscator } from "../transform/obfuscate.ts";
import { leafText, planObfuscation } from "./obfuscated_plan.ts";
import { ObfuscatingWriter } from "./obfuscating_writer.ts";
import type { ObfuscationPlan } from "./obfuscated_plan.ts";
import { RowRules } from "../transform/conditions.ts";
import type { RowRulesConfig } from "../transform/conditions.ts";
import { RowJudge, writeJudgedSlice } from "./row_rules.ts";
import type { JudgedRead } from "./row_rules.ts";

export type { Oversized } from "./json_plan.ts";

const enc = new TextEncoder();

/** A slice of consecutive events of one object, as complete lines of bytes. */
export interface LineSlice {
  /** Index of the first event of the slice in the object. */
  readonly rowStart: number;
  /** Number of events (rows of the object) the slice covers: the next starts at `rowStart + rows`. */
  readonly rows: number;
  /**
   * With {@link ReadEventLinesOptions.rules}: the lines in `bytes` (the rows not dropped), and
   * the row of each (from `rowStart`). Absent: `rows` lines, one per row.
   */
  readonly lines?: number;
  readonly lineRows?: Uint32Array<ArrayBuffer>;
  /**
   * With {@link ReadEventLinesOptions.rules}: the tag route of each line (its index in
   * `tag_routes`, -1 for the default tag), and the length of each line's header (that of its
   * route's tag). Absent: every line has the header of `headBytes`.
   */
  readonly lineRoutes?: Int32Array<ArrayBuffer>;
  readonly lineHeadBytes?: Uint32Array<ArrayBuffer>;
  /**
   * The lines (see `lines`): header, event JSON, newline. The slice's own buffer, viewed by nothing else:
   * the consumer may free it (`buffer.transfer(0)`) once done with it.
   */
  readonly bytes: Uint8Array;
  /**
   * Bytes of the header before each line (one header per slice; with rules, see
   * `lineHeadBytes`): where each event starts.
   */
  readonly headBytes: number;
  /** With {@link ReadEventLinesOptions.lineStarts}: the offset of each line in `bytes`. */
  readonly starts?: Uint32Array<ArrayBuffer>;
  /**
   * With {@link ReadEventLinesOptions.maxEventBytes}: the events of the slice that were over it
   * (their row in the object, and their bytes as built whole); their lines hold them truncated.
   */
  readonly oversized?: readonly Oversized[];
  /**
   * With {@link ReadEventLinesOptions.obfuscator}: the values the rules changed in each line's
   * event.
   */
  readonly fields?: Uint32Array<ArrayBuffer>;
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
  /**
   * The bytes written before each event (the syslog header), asked once per slice; with
   * `rules`, once per slice for each route its lines have (-1: the default tag).
   */
  header?: (route: number) => Uint8Array;
  /**
   * Rows dropped (`drop_events`) and routed (`tag_routes`) by conditions on their values, judged
   * while each line is written (`row_rules.ts`).
   */
  rules?: RowRulesConfig;
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
   * A row group that needs at least this many bytes to decode (compressed plus uncompressed, as
   * declared) has its compressed bytes and inflated pages freed (detached) as soon as it is
   * decoded, instead of left to the garbage collector: less memory held, for more decoding CPU
   * from then on (optimized code then checks for detached buffers; docs/performance.md). The
   * memory budget sets it. Default: never.
   */
  freeBuffersFrom?: number;
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
  /**
   * Where the readers sharing a row group read in parts share its inflated pages
   * (`shared_pages.ts`). Default: each inflates every page it reads.
   */
  sharedPages?: SharedPages;
  /** Also give the offset of each line of a slice (`LineSlice.starts`). Default false. */
  lineStarts?: boolean;
  /**
   * Cut each event off while it is built once it passes this many bytes (its JSON, `append`
   * members included): the line holds the event as `truncateEvent` cuts it down, and the slice
   * lists it in `oversized`. Default: no limit.
   */
  maxEventBytes?: number;
  /** Entries of a data page decoded at a time (tests; see `column_cursor.ts`). Default 8,192. */
  pieceEntries?: number;
  /**
   * Counts what the column cursors passed or found clean (`CursorStats`), and the rows obfuscated
   * by the object path (tests, profiling; see `obfuscated_plan.ts`).
   */
  stats?: CursorStats & { objectRows?: number };
  /**
   * Obfuscation rules applied to each event as its line is written (`obfuscated_plan.ts`), before
   * the `append` members; its `stats` count what they did. Not with `maxEventBytes`.
   */
  obfuscator?: Obfuscator;
}

/** Rows of each part of a row group of `rows` rows, for `partRows` (see {@link ReadEventLinesOptions.partRows}). */
export function rowsPerPart(rows: number, partRows = DEFAULT_PART_ROWS): number {
  return partRows > 0 && rows > 4 * partRows ? partRows : rows;
}

/** Default {@link ReadEventLinesOptions.partRows}. */
export const DEFAULT_PART_ROWS = 8192;

/**
 * The bytes of the object a row group's column chunks span, `[start, end)`; what
 * {@link readEventLines} reads in one request when it is at most `groupReadBytes`. Undefined
 * when the metadata is missing (the reader reports it).
 */
export function groupByteRange(group: RowGroup): [number, number] | undefined {
  if (group.columns.length === 0 || group.columns.some((c) => !c.meta_data)) return undefined;
  return span(group.columns.map((c) => chunkRange(c.meta_data!)));
}

/**
 * Whether the column chunks of `group` lie apart, no byte in two of them (as every writer lays
 * them out); a page is then named by its offset alone.
 */
export function chunksApart(group: RowGroup): boolean {
  if (group.columns.some((c) => !c.meta_data)) return false;
  const ranges = group.columns.map((c) => chunkRange(c.meta_data!)).sort((a, b) => a[0] - b[0]);
  return ranges.every((r, i) => i === 0 || r[0] >= ranges[i - 1]![1]);
}

/** The bytes the column chunk `ranges` span together. */
function span(ranges: [number, number][]): [number, number] {
  return [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
}

/**
 * Moves column `c` from row `at` to row `to` of its chunk, writing nothing: a column outside
 * lists takes the rows it holds, then passes whole pages unread, and in the pages `to` falls in
 * passes entries without decoding their values where it can; a column inside lists walks its
 * levels `step` rows at a time.
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
      const passed = c.skipPages(to) || c.skipInPage(to - at);
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
 * One object's read as {@link readEventLines} does it: the options resolved, the metadata checked
 * and the schema compiled, and what every slice is written with.
 */
interface LineRead {
  readonly file: AsyncBuffer;
  readonly options: ReadEventLinesOptions;
  readonly name: string;
  readonly startRow: number;
  readonly sliceRows: number;
  readonly sliceBytes: number;
  readonly groupReadBytes: number;
  readonly header: (route: number) => Uint8Array;
  /** With rules: the judged writing of the slices. */
  readonly judged?: JudgedRead;
  /** `,` and the `append` members, as bytes (empty without them). */
  readonly tail: Uint8Array;
  /** The `append` members, for events cut down (`cutDown`). */
  readonly last: string[];
  readonly metadata: FileMetaData;
  readonly guard: ReadGuard;
  readonly fields: Plan[];
  readonly schemaLeaves: { path: SchemaTree[] }[];
  readonly out: ByteOut;
  readonly starts?: Uint32Array;
  readonly cap?: EventCap;
  readonly cursorOptions: CursorOptions;
  /** The obfuscation rules planned over the schema. */
  readonly obfuscation?: ObfuscationPlan;
}

/**
 * Yields the events of `file` as complete lines (header, event JSON with `append` members,
 * newline), in row order, one row group decoded at a time.
 */
export async function* readEventLines(
  file: AsyncBuffer,
  options: ReadEventLinesOptions = {},
): AsyncGenerator<LineSlice> {
  const read = await startRead(file, options);
  let groupStart = 0;
  for (const [index, group] of read.metadata.row_groups.entries()) {
    const rows = Number(group.num_rows);
    const groupEnd = groupStart + rows;
    if (groupEnd > read.startRow && rows !== 0 && options.rowGroups?.(index) !== false) {
      options.signal?.throwIfAborted();
      yield* readGroup(read, index, group, groupStart);
    }
    groupStart = groupEnd;
  }
}

/** Reads the metadata of `file`, checks it (see `limits.ts`) and compiles its schema. */
async function startRead(file: AsyncBuffer, options: ReadEventLinesOptions): Promise<LineRead> {
  const { startRow = 0, sliceRows = 1000, sliceBytes = 256 * 1024, name = "object" } = options;
  const limits = options.limits ?? DEFAULT_LIMITS;
  const metadata: FileMetaData = await readMetadata(file, name, limits);
  // Checks the metadata now, and every page as its row group arrives (see limits.ts).
  let guard: ReadGuard;
  let fields: Plan[];
  let schemaLeaves: { path: SchemaTree[] }[];
  try {
    guard = new ReadGuard(metadata, file.byteLength, limits, name, options.freeBuffersFrom);
    const root = parquetSchema(metadata);
    let leafPaths: string[][];
    ({ fields, leafPaths } = compile(root));
    schemaLeaves = leafPaths.map((p) => ({ path: pathTo(root, p) }));
    if (options.obfuscator && options.maxEventBytes !== undefined) {
      throw new Error("obfuscation rules cannot be applied with maxEventBytes");
    }
  } catch (e) {
    throw wrap(e, name);
  }
  const out = new ByteOut(sliceBytes + (sliceBytes >> 2));
  const header = options.header ?? (() => EMPTY);
  const tail = options.append ? enc.encode("," + options.append) : EMPTY;
  const last = options.append ? [options.append] : [];
  const starts = options.lineStarts ? new Uint32Array(sliceRows) : undefined;
  const cap = options.maxEventBytes === undefined
    ? undefined
    : { max: options.maxEventBytes, dropped: 0 };
  const rules = options.rules;
  const judged: JudgedRead | undefined = rules && (rules.drop.length > 0 || rules.routes.length > 0)
    ? {
      out,
      fields,
      tail,
      last,
      sliceBytes,
      cap,
      starts,
      judge: new RowJudge(new RowRules(rules), fields),
      header,
    }
    : undefined;
  return {
    file,
    options,
    name,
    startRow,
    sliceRows,
    sliceBytes,
    groupReadBytes: options.groupReadBytes ?? 16 * 1024 * 1024,
    header,
    judged,
    tail,
    last,
    metadata,
    guard,
    fields,
    schemaLeaves,
    out,
    starts,
    cap,
    cursorOptions: {
      ...(options.pieceEntries !== undefined ? { pieceEntries: options.pieceEntries } : {}),
      ...(options.stats ? { stats: options.stats } : {}),
    },
    obfuscation: options.obfuscator &&
      planObfuscation(
        fields,
        options.obfuscator,
        schemaLeaves.map((l) => leafText(l.path.at(-1)!.element)),
      ),
  };
}

/**
 * Yields the slices of row group `index`, whose first row is row `groupStart` of the object:
 * its parts taken (or skipped when another reader takes them), rows before `startRow` skipped.
 */
async function* readGroup(
  read: LineRead,
  index: number,
  group: RowGroup,
  groupStart: number,
): AsyncGenerator<LineSlice> {
  const { options, sliceRows, guard } = read;
  const signal = options.signal;
  const rows = Number(group.num_rows);
  const groupEnd = groupStart + rows;
  const part = rowsPerPart(rows, options.partRows);
  guard.enter(index);
  // Other readers walk the row group too when it is read in parts: its pages are shared, named by
  // their offsets (so not when column chunks share bytes: a page is checked for its column).
  const shared = part < rows && options.takePart && options.sharedPages && chunksApart(group)
    ? options.sharedPages.enter(index, groupByteRange(group)?.[0] ?? 0)
    : undefined;
  guard.share(shared);
  const leave = () => {
    guard.share(undefined);
    shared?.release();
  };
  const columns = await openColumns(read, group).catch((e) => {
    leave();
    throw e;
  });
  const asm = new Assembler(columns, read.out, read.judged?.judge);
  // With row rules, rows are judged on their values as read and the lines kept obfuscated
  // afterwards (`obfuscated_lines.ts`); without them, the rules apply as the lines are written.
  const obf = read.obfuscation && !read.judged &&
    new ObfuscatingWriter(
      read.obfuscation,
      read.fields,
      columns,
      asm,
      options.obfuscator!,
      options.stats,
    );
  /** Moves every column past the rows up to `to`, writing nothing. */
  const skip = async (from: number, to: number) => {
    if (to <= from) return;
    await Promise.all(
      columns.map((c) => skipColumn(c, from - groupStart, to - groupStart, sliceRows)),
    );
  };
  try {
    let row = Math.max(groupStart, read.startRow);
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
      const end = Math.min(partEnd, row + sliceRows);
      await ensureRows(columns, end - groupStart);
      const slice = read.judged
        ? writeJudgedSlice(read.judged, asm, columns, row, end)
        : writeSlice(read, asm, read.header(NO_ROUTE), row, end, obf || undefined);
      row += slice.rows;
      yield slice;
    }
    // Every column must hold exactly the row group's rows.
    await ensureRows(columns, rows + 1);
  } catch (e) {
    if (isCollectorError(e) || (e instanceof DOMException && e.name === "AbortError")) throw e;
    throw wrap(e, read.name);
  } finally {
    guard.release();
    leave();
  }
}

/**
 * Writes the lines of rows `row` up to `end` (the rows held), until the slice holds `sliceBytes`:
 * the per-row loop of the fast path.
 */
function writeSlice(
  read: LineRead,
  asm: Assembler,
  head: Uint8Array,
  row: number,
  end: number,
  obf?: ObfuscatingWriter,
): LineSlice {
  const { out, starts, cap, fields, tail, sliceBytes } = read;
  const first = row;
  let oversized: Oversized[] | undefined;
  const changed = obf && new Uint32Array(end - row);
  out.pos = 0;
  while (row < end && out.pos < sliceBytes) {
    if (starts) starts[row - first] = out.pos;
    out.bytes(head);
    const open = out.pos;
    out.byte(OPEN);
    if (obf) {
      closeEvent(out, obf.row(out), tail);
      changed![row - first] = obf.changed;
    } else writeMembers(asm, fields, out, cap, tail);
    if (cap && out.pos - open + cap.dropped > cap.max) {
      (oversized ??= []).push(cutDown(out, open, cap, read.last, row));
    }
    out.byte(10);
    row++;
  }
  return {
    rowStart: first,
    rows: row - first,
    bytes: out.buf.slice(0, out.pos),
    headBytes: head.length,
    starts: starts?.slice(0, row - first),
    ...(oversized ? { oversized } : {}),
    ...(changed ? { fields: changed.slice(0, row - first) } : {}),
  };
}

/** Reads pages of every column until each holds the first `rows` rows of the row group. */
async function ensureRows(columns: ColumnCursor[], rows: number): Promise<void> {
  let reads: Promise<void>[] | undefined;
  for (const c of columns) {
    const p = c.ensure(rows);
    if (p) (reads ??= []).push(p);
  }
  if (reads) await Promise.all(reads);
}

/**
 * A cursor over each column chunk of `group`. One read for the row group's compressed bytes,
 * unless it is larger than `groupReadBytes`: then each column chunk is read in windows as its
 * pages are reached. Pages are inflated and decoded as the rows reach them, each checked just
 * before.
 */
async function openColumns(read: LineRead, group: RowGroup): Promise<ColumnCursor[]> {
  const { file, schemaLeaves } = read;
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
    const bytes = hi - lo <= read.groupReadBytes
      ? new Uint8Array(await file.slice(lo, hi))
      : undefined;
    if (bytes) read.guard.adopt(bytes);
    return group.columns.map((c, i): ColumnCursor => {
      const [s, e] = ranges[i]!;
      const chunk = { file, start: s, end: e, bytes: bytes?.subarray(s - lo, e - lo) };
      return columnCursor(read, c.meta_data!, schemaLeaves[i]!.path, chunk);
    });
  } catch (e) {
    if (isCollectorError(e)) throw e;
    throw wrap(e, read.name);
  }
}

/** The cursor of column chunk `md`, the leaf at the end of `path`, held as `chunk` says. */
function columnCursor(
  read: LineRead,
  md: ColumnMetaData,
  path: SchemaTree[],
  chunk: { file: AsyncBuffer; start: number; end: number; bytes?: Uint8Array },
): ColumnCursor {
  const decoder: ColumnDecoder = {
    pathInSchema: md.path_in_schema,
    type: md.type,
    element: path.at(-1)!.element,
    schemaPath: path,
    codec: md.codec,
    parsers: PARSERS,
    compressors: read.guard.compressors,
    utf8: true,
  };
  let maxDef = 0;
  let maxRep = 0;
  for (const n of path.slice(1)) {
    if (n.element.repetition_type !== "REQUIRED") maxDef++;
    if (n.element.repetition_type === "REPEATED") maxRep++;
  }
  return new ColumnCursor(
    chunk,
    decoder,
    maxDef,
    maxRep,
    Number(md.num_values),
    read.guard,
    read.cursorOptions,
  );
}

const EMPTY = new Uint8Array(0);
const NO_ROUTE = -1;

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
