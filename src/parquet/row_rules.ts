/**
 * `drop_events` and `tag_routes` on the fast path: the conditions (`transform/conditions.ts`)
 * judged on each row's values while its line is written, and the slices cut so that every line
 * of a slice has the same tag.
 *
 * - **Watching**: each condition's path is followed through the schema's plans (top-level
 *   field, then struct members) as far as it names struct members; that plan is watched. When
 *   the assembler writes a watched plan's value, {@link RowJudge.seen} gets its bytes: a scalar
 *   at the end of the path is compared as bytes (its JSON text against the condition's values),
 *   anything else (a list, a map, a struct with steps left) is parsed and the rest of the path
 *   followed in it, as on the object path.
 * - **Beforehand**: a drop condition on a scalar field outside lists is judged on the row's
 *   value before the row is written (the value written aside, the cursor put back); a row it
 *   drops is passed by every column unwritten, so dropping costs less than sending.
 * - **Verdict**: after the row, the first drop condition that holds drops it (its bytes are
 *   written over: `out.pos` goes back to the line's start), else the first route that holds
 *   gives its tag.
 * - **Slices**: a slice still reports the rows it consumed (`rowStart`, `rows`), and the lines it
 *   holds (`lines`, one per row not dropped, with `lineRows` giving each line's row). Each line
 *   has the header of its own route's tag (`lineRoutes`, `lineHeadBytes`): a slice mixes tags, so
 *   events routed to different tags row by row still travel in slices of the usual size.
 * @module
 */
import { DROP, NO_ROUTE, RowRules, scalarText, valueHolds } from "../transform/conditions.ts";
import type { Condition } from "../transform/conditions.ts";
import { anyValueAt } from "../transform/conditions.ts";
import { ByteOut } from "./json_bytes.ts";
import type { ColumnCursor } from "./column_cursor.ts";
import { cutDown, OPEN, writeMembers } from "./json_plan.ts";
import type { Assembler, EventCap, Oversized, Plan } from "./json_plan.ts";

export { DROP, NO_ROUTE };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A condition as watched on one plan: the steps of its path left below it. */
interface Watch {
  /** Index of the condition (drop conditions first, then routes). */
  readonly k: number;
  readonly c: Condition;
  /** The first step of the path below the watched plan. */
  readonly from: number;
  /** The plan is a leaf at the end of the path: its value is compared as bytes. */
  readonly scalar: boolean;
  /** For `equals`/`in` on a scalar: the JSON texts of the values that match. */
  readonly exact?: readonly Uint8Array[];
}

/** The per-row judge of one object's rows: what the assembler reports watched values to. */
export class RowJudge {
  readonly #rules: RowRules;
  readonly #all: readonly Condition[];
  /** Watches by slot (`Plan.watch`). */
  readonly #slots: Watch[][] = [];
  /** The row stamp at which each condition last held (for `exists`: found a value). */
  readonly #hit: Int32Array;
  #row = 1;
  /**
   * Drop conditions on a scalar field outside lists (a leaf reached through struct members):
   * judged on the row's value before the row is written, so that a row they drop is passed
   * without being written ({@link dropsBeforehand}).
   */
  readonly #before: { readonly leaf: number; readonly w: Watch }[] = [];
  readonly #scratch = new ByteOut(256);

  /** Compiles the watches of `rules` over `fields` (a schema's plans), marking the plans. */
  constructor(rules: RowRules, fields: readonly Plan[]) {
    this.#rules = rules;
    this.#all = [...rules.drop, ...rules.routes];
    this.#hit = new Int32Array(this.#all.length);
    this.#all.forEach((c, k) => this.#watch(c, k, fields));
  }

  #watch(c: Condition, k: number, fields: readonly Plan[]): void {
    let plan: Plan | undefined;
    let children = fields;
    let i = 0;
    while (i < c.steps.length) {
      const s = c.steps[i]!;
      if (s.any) break;
      const key = enc.encode(JSON.stringify(s.key) + ":");
      const next = children.find((p) => sameBytes(p.keyBytes, key));
      if (!next) {
        if (plan === undefined) return; // no such field: the path never holds a value
        break;
      }
      plan = next;
      i++;
      if (next.kind !== "struct") break;
      children = next.children;
    }
    if (plan === undefined) {
      // A path starting with *: the whole row is watched (every top-level field).
      for (const f of fields) this.#watchPlan(f, { k, c, from: 1, scalar: false });
      return;
    }
    const scalar = plan.kind === "leaf" && i === c.steps.length;
    const exact = scalar && c.texts
      ? c.texts.flatMap((t) => {
        const forms = [enc.encode(JSON.stringify(t))];
        if (!t.startsWith('"')) forms.push(enc.encode(t));
        return forms;
      })
      : undefined;
    const w: Watch = { k, c, from: i, scalar, ...(exact ? { exact } : {}) };
    this.#watchPlan(plan, w);
    if (scalar && k < this.#rules.drop.length) this.#before.push({ leaf: plan.leaves[0]!, w });
  }

  /**
   * Whether a drop condition judged beforehand drops the row the `columns` are at: its leaves'
   * values are written aside and the cursors put back, so the row is still whole.
   */
  dropsBeforehand(columns: readonly ColumnCursor[]): boolean {
    const before = this.#before;
    if (before.length === 0) return false;
    const o = this.#scratch;
    for (const { leaf, w } of before) {
      const l = columns[leaf]!;
      let found = false;
      if (l.defAt() === l.maxDef && (l.text || !l.omittedHere())) {
        if (w.c.exists !== undefined) found = true;
        else {
          const i = l.i;
          const v = l.v;
          o.pos = 0;
          l.write(o);
          l.i = i;
          l.v = v;
          found = this.#holds(w, o.buf, 0, o.pos);
        }
      }
      if (w.c.exists === false ? !found : found) return true;
    }
    return false;
  }

  /** Adds `w` to the watches of `plan`. */
  #watchPlan(plan: Plan, w: Watch): void {
    if (plan.watch < 0) {
      plan.watch = this.#slots.length;
      this.#slots.push([]);
    }
    this.#slots[plan.watch]!.push(w);
  }

  /** The rules judged. */
  get rules(): RowRules {
    return this.#rules;
  }

  /** A new row begins. */
  begin(): void {
    this.#row++;
  }

  /** The value of the plan of watch slot `slot` was written as `buf[start, end)`. */
  seen(slot: number, buf: Uint8Array, start: number, end: number): void {
    const hit = this.#hit;
    const row = this.#row;
    for (const w of this.#slots[slot]!) {
      if (hit[w.k] === row) continue;
      if (this.#holds(w, buf, start, end)) hit[w.k] = row;
    }
  }

  #holds(w: Watch, buf: Uint8Array, start: number, end: number): boolean {
    const first = buf[start];
    if (w.scalar && first !== 0x7b && first !== 0x5b) {
      if (w.c.exists !== undefined) return true;
      if (w.exact) {
        for (const e of w.exact) if (sameRange(buf, start, end, e)) return true;
        // Escaped text may be written otherwise than JSON.stringify writes it.
        if (buf.subarray(start, end).indexOf(0x5c) < 0) return false;
      }
      const text = dec.decode(buf.subarray(start, end));
      let t: string | undefined = text;
      if (first === 0x22) {
        try {
          t = scalarText(JSON.parse(text));
        } catch {
          return false; // cut off (an oversized member)
        }
      }
      return t !== undefined && w.c.test!(t);
    }
    let v;
    try {
      v = JSON.parse(dec.decode(buf.subarray(start, end)));
    } catch {
      return false; // cut off (an oversized member)
    }
    return anyValueAt(v, w.c.steps, w.from, (x) => valueHolds(w.c, x));
  }

  /** The verdict on the row written since {@link begin}: DROP, a route's index, or NO_ROUTE. */
  verdict(): number {
    const hit = this.#hit;
    const row = this.#row;
    const all = this.#all;
    const drops = this.#rules.drop.length;
    for (let k = 0; k < all.length; k++) {
      const found = hit[k] === row;
      if (all[k]!.exists === false ? !found : found) return k < drops ? DROP : k - drops;
    }
    return NO_ROUTE;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && sameRange(a, 0, a.length, b);
}

function sameRange(buf: Uint8Array, start: number, end: number, e: Uint8Array): boolean {
  if (end - start !== e.length) return false;
  for (let i = 0; i < e.length; i++) if (buf[start + i] !== e[i]) return false;
  return true;
}

/** What {@link writeJudgedSlice} writes with: one object's read. */
export interface JudgedRead {
  readonly out: ByteOut;
  readonly fields: Plan[];
  readonly tail: Uint8Array;
  readonly last: string[];
  readonly sliceBytes: number;
  readonly cap?: EventCap;
  readonly starts?: Uint32Array;
  readonly judge: RowJudge;
  /**
   * The header of the lines of `route` (NO_ROUTE: the default tag), asked once per slice for
   * each route its lines have.
   */
  readonly header: (route: number) => Uint8Array;
}

/** A slice of judged rows (see the module): `rows` consumed, `lines` written. */
export interface JudgedSlice {
  readonly rowStart: number;
  readonly rows: number;
  readonly bytes: Uint8Array;
  /** The header length of the slice's first line (see `lineHeadBytes`). */
  readonly headBytes: number;
  readonly lines: number;
  readonly lineRows: Uint32Array<ArrayBuffer>;
  /** The route of each line (NO_ROUTE: the default tag). */
  readonly lineRoutes: Int32Array<ArrayBuffer>;
  /** The header length of each line. */
  readonly lineHeadBytes: Uint32Array<ArrayBuffer>;
  readonly starts?: Uint32Array<ArrayBuffer>;
  readonly oversized?: readonly Oversized[];
}

/**
 * Writes the lines of rows `row` up to `end` (the rows held) with their verdicts, until the
 * slice holds `sliceBytes`. Each line's JSON is written after room for the header of the line
 * before's route, and moved when its own route's header has another length.
 */
export function writeJudgedSlice(
  read: JudgedRead,
  asm: Assembler,
  columns: readonly ColumnCursor[],
  row: number,
  end: number,
): JudgedSlice {
  const { out, starts, cap, fields, tail, sliceBytes, judge } = read;
  const first = row;
  const lineRows: number[] = [];
  const lineRoutes: number[] = [];
  const lineHeads: number[] = [];
  const heads = new Map<number, Uint8Array>();
  let oversized: Oversized[] | undefined;
  let room = 0; // bytes left before each line's JSON: the previous line's header length
  out.pos = 0;
  while (row < end && out.pos < sliceBytes) {
    if (judge.dropsBeforehand(columns)) {
      // Dropped by its values alone: passed without a byte written.
      for (const c of columns) c.skipRows(1);
      row++;
      continue;
    }
    const lineStart = out.pos;
    out.ensure(room);
    out.pos += room;
    const open = out.pos;
    judge.begin();
    out.byte(OPEN);
    writeMembers(asm, fields, out, cap, tail);
    const verdict = judge.verdict();
    if (verdict === DROP) {
      out.pos = lineStart;
      row++;
      continue;
    }
    if (cap && out.pos - open + cap.dropped > cap.max) {
      (oversized ??= []).push(cutDown(out, open, cap, read.last, row));
    }
    let head = heads.get(verdict);
    if (head === undefined) heads.set(verdict, head = read.header(verdict));
    if (head.length !== room) {
      const n = out.pos - open;
      out.ensure(head.length);
      out.buf.copyWithin(lineStart + head.length, open, open + n);
      out.pos = lineStart + head.length + n;
      room = head.length;
    }
    out.buf.set(head, lineStart);
    if (starts) starts[lineRows.length] = lineStart;
    lineRows.push(row - first);
    lineRoutes.push(verdict);
    lineHeads.push(head.length);
    out.byte(10);
    row++;
  }
  const lines = lineRows.length;
  return {
    rowStart: first,
    rows: row - first,
    bytes: out.buf.slice(0, out.pos),
    headBytes: lineHeads[0] ?? 0,
    lines,
    lineRows: Uint32Array.from(lineRows),
    lineRoutes: Int32Array.from(lineRoutes),
    lineHeadBytes: Uint32Array.from(lineHeads),
    starts: starts?.slice(0, lines),
    ...(oversized ? { oversized } : {}),
  };
}
