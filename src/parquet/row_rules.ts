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
 * - **Verdict**: after the row, the first drop condition that holds drops it (its bytes are
 *   written over: `out.pos` goes back to the line's start), else the first route that holds
 *   gives its tag.
 * - **Slices**: a slice still reports the rows it consumed (`rowStart`, `rows`), and the lines it
 *   holds (`lines`, one per row not dropped, with `lineRows` giving each line's row). All its
 *   lines have one tag (`route`): when a row's route differs from the slice's, the slice ends
 *   before that row, whose line is carried into the next slice.
 * @module
 */
import { DROP, NO_ROUTE, RowRules, scalarText, valueHolds } from "../transform/conditions.ts";
import type { Condition } from "../transform/conditions.ts";
import { anyValueAt } from "../transform/conditions.ts";
import type { ByteOut } from "./json_bytes.ts";
import { CLOSE, cutDown, OPEN } from "./json_plan.ts";
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
    this.#watchPlan(plan, { k, c, from: i, scalar, ...(exact ? { exact } : {}) });
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

/** A line kept from the previous slice (its route differed): written first in the next one. */
interface Carry {
  readonly json: Uint8Array;
  readonly route: number;
  readonly oversized?: Oversized;
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
  /** The header of a slice whose lines have the tag of `route` (NO_ROUTE: the default). */
  readonly header: (route: number) => Uint8Array;
  carry?: Carry;
}

/** A slice of judged rows (see the module): `rows` consumed, `lines` written. */
export interface JudgedSlice {
  readonly rowStart: number;
  readonly rows: number;
  readonly bytes: Uint8Array;
  readonly headBytes: number;
  readonly lines: number;
  readonly lineRows: Uint32Array<ArrayBuffer>;
  readonly route: number;
  readonly starts?: Uint32Array<ArrayBuffer>;
  readonly oversized?: readonly Oversized[];
}

/**
 * Writes the lines of rows `row` up to `end` (the rows held) with their verdicts, until the
 * slice holds `sliceBytes` or a row's route differs from the slice's.
 */
export function writeJudgedSlice(
  read: JudgedRead,
  asm: Assembler,
  row: number,
  end: number,
): JudgedSlice {
  const { out, starts, cap, fields, tail, sliceBytes, judge } = read;
  const first = row;
  const lineRows: number[] = [];
  let oversized: Oversized[] | undefined;
  let route = NO_ROUTE;
  let head: Uint8Array | undefined;
  out.pos = 0;
  const carry = read.carry;
  if (carry) {
    read.carry = undefined;
    route = carry.route;
    head = read.header(route);
    if (starts) starts[0] = 0;
    out.bytes(head);
    out.bytes(carry.json);
    out.byte(10);
    if (carry.oversized) (oversized ??= []).push(carry.oversized);
    lineRows.push(0);
    row++;
  }
  while (row < end && out.pos < sliceBytes) {
    const lineStart = out.pos;
    if (head) out.bytes(head);
    const open = out.pos;
    judge.begin();
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
    const verdict = judge.verdict();
    if (verdict === DROP) {
      out.pos = lineStart;
      row++;
      continue;
    }
    let big: Oversized | undefined;
    if (cap && out.pos - open + cap.dropped > cap.max) {
      big = cutDown(out, open, cap, read.last, row);
    }
    if (head === undefined) {
      // The slice's first line: its route gives the slice's header, put before it.
      route = verdict;
      head = read.header(route);
      const n = out.pos - open;
      out.ensure(head.length);
      out.buf.copyWithin(lineStart + head.length, open, open + n);
      out.buf.set(head, lineStart);
      out.pos = lineStart + head.length + n;
    } else if (verdict !== route) {
      read.carry = {
        json: out.buf.slice(open, out.pos),
        route: verdict,
        ...(big ? { oversized: big } : {}),
      };
      out.pos = lineStart;
      break;
    }
    if (big) (oversized ??= []).push(big);
    if (starts) starts[lineRows.length] = lineStart;
    lineRows.push(row - first);
    out.byte(10);
    row++;
  }
  const lines = lineRows.length;
  return {
    rowStart: first,
    rows: row - first,
    bytes: out.buf.slice(0, out.pos),
    headBytes: head?.length ?? 0,
    lines,
    lineRows: Uint32Array.from(lineRows),
    route,
    starts: starts?.slice(0, lines),
    ...(oversized ? { oversized } : {}),
  };
}
