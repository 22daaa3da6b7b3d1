/**
 * How a schema becomes JSON: each top-level field compiled once into a plan (keys as bytes,
 * nesting, list and map layouts, the value policy of its leaves), and the assembler that walks
 * the plans over the column cursors, writing each row's event as bytes. An event over
 * `maxEventBytes` is cut off while it is assembled (`EventCap`).
 * @module
 */
import { DEFAULT_PARSERS } from "./hyparquet.ts";
import type { SchemaTree } from "hyparquet";
import { TIMESTAMP_PARSERS } from "../transform/values.ts";
import { ColumnCursor } from "./column_cursor.ts";
import { ByteOut } from "./json_bytes.ts";
import { truncateEvent } from "../transform/truncate.ts";

/** An event over `maxEventBytes`: its row in the object and its size as built whole. */
export interface Oversized {
  readonly row: number;
  readonly bytes: number;
}

export const PARSERS = { ...DEFAULT_PARSERS, ...TIMESTAMP_PARSERS };

/** A compiled schema node. */
export interface Plan {
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
  /**
   * The slot of the row conditions watching this node's value (`row_rules.ts`), or -1: its
   * value is reported to the assembler's {@link Watcher} as it is written as a member.
   */
  watch: number;
}

/**
 * `p` with every optional field present, in one order: plans of all kinds share one object
 * shape, so the per-row code that walks them stays monomorphic.
 */
function plan(p: Omit<Plan, "watch">): Plan {
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
    watch: -1,
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
export function compile(root: SchemaTree): { fields: Plan[]; leafPaths: string[][] } {
  const c = new Compiler();
  const fields = root.children.map((n) => c.node(n, 0, 0));
  return { fields, leafPaths: c.leafPaths };
}

/** `"name":` of schema node `n`, as bytes. */
function keyOf(n: SchemaTree): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(n.element.name) + ":");
}

/** The plans of one schema, node by node, and the path of each leaf in column order. */
class Compiler {
  readonly leafPaths: string[][] = [];

  /**
   * The plan of schema node `n`, under definition level `def` and repetition level `rep`;
   * `asElement`: `n` is a repeated node taken as its own list's element.
   */
  node(n: SchemaTree, def: number, rep: number, asElement = false): Plan {
    const optional = isOptional(n);
    const d = def + (optional || isRepeated(n) ? 1 : 0);
    const r = rep + (isRepeated(n) ? 1 : 0);
    const keyBytes = keyOf(n);
    if (isRepeated(n) && !asElement) {
      // A repeated field outside a LIST annotation: a list whose element is the field itself.
      const element = this.node(n, def, rep, true);
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
      const leaves = [this.leafPaths.length];
      this.leafPaths.push(n.path);
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
      return this.#list(n, keyBytes, optional, d, r);
    }
    if (
      (ct === "MAP" || ct === "MAP_KEY_VALUE" || lt === "MAP") && n.children.length === 1 &&
      isRepeated(only) && only.children.length === 2 &&
      only.children.some((c) => c.element.name === "key") &&
      only.children.every((c) => !isRepeated(c))
    ) {
      return this.#map(only, keyBytes, optional, d, r);
    }
    const children = n.children.map((c) => this.node(c, d, r));
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
  }

  /** A LIST-annotated group `n` (present at level `d`), in any of the format's layouts. */
  #list(n: SchemaTree, keyBytes: Uint8Array, optional: boolean, d: number, r: number): Plan {
    const only = n.children[0]!;
    const rd = d + 1;
    const rl = r + 1;
    let element: Plan;
    let wrapKeyBytes: Uint8Array | undefined;
    if (only.children.length === 1) {
      const inner = only.children[0]!;
      const legacy = only.element.name === "array" ||
        only.element.name === `${n.element.name}_tuple`;
      element = this.node(inner, rd, rl);
      if (legacy) wrapKeyBytes = keyOf(inner);
    } else {
      // Two-level: the repeated field itself is the element (primitive or group).
      element = { ...this.node(only, d, r, true), def: rd, optional: false };
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

  /** A MAP-annotated group whose repeated key/value group is `entries` (present at level `d`). */
  #map(entries: SchemaTree, keyBytes: Uint8Array, optional: boolean, d: number, r: number): Plan {
    const rd = d + 1;
    const rl = r + 1;
    const plans = entries.children.map((c) => this.node(c, rd, rl));
    const ki = entries.children.findIndex((c) => c.element.name === "key");
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
}

const COMMA = 44;
export const OPEN = 123;
export const CLOSE = 125;
const LOPEN = 91;
const LCLOSE = 93;
const COLON = 58;
const decoder = new TextDecoder();

/**
 * The cut-off of one event while it is built (`maxEventBytes`). An event over the limit is sent
 * as `truncateEvent` makes it: its members in order, each kept only while it fits, so a member
 * longer than the limit is never kept. Such a member is dropped as it is written, and its bytes
 * counted, so that no event is ever held whole in memory.
 */
export interface EventCap {
  readonly max: number;
  /** Bytes of the members dropped from the event being written. */
  dropped: number;
}

/**
 * Writes an event's members of `fields` (cut off by `cap` when given), then `tail` (the members
 * added after them, with its leading comma when some member came before) and the closing brace.
 */
export function writeMembers(
  asm: Assembler,
  fields: readonly Plan[],
  out: ByteOut,
  cap: EventCap | undefined,
  tail: Uint8Array,
): void {
  let any: boolean;
  if (cap) {
    cap.dropped = 0;
    any = asm.members(fields, out, false, cap);
    out.cap = Infinity;
  } else any = asm.members(fields, out);
  closeEvent(out, any, tail);
}

/** Writes `tail` (without its leading comma when no member came before) and the closing brace. */
export function closeEvent(out: ByteOut, any: boolean, tail: Uint8Array): void {
  if (tail.length > 0) {
    if (any) out.bytes(tail);
    else out.bytes(tail.subarray(1));
  }
  out.byte(CLOSE);
}

/**
 * Replaces the event written from `open` (over `cap.max` bytes once its dropped members are
 * counted) with its truncated form, as `truncateEvent` makes it from the event built whole.
 */
export function cutDown(
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

/** What is told the values of watched plans (`Plan.watch`) as they are written. */
export interface Watcher {
  seen(slot: number, buf: Uint8Array, start: number, end: number): void;
}

/** Assembles rows from decoded leaves, writing JSON bytes. */
export class Assembler {
  readonly #leaves: ColumnCursor[];
  readonly #o: ByteOut;
  readonly #scratch = new ByteOut(256);
  readonly #watcher: Watcher | undefined;

  constructor(leaves: ColumnCursor[], out: ByteOut, watcher?: Watcher) {
    this.#leaves = leaves;
    this.#o = out;
    this.#watcher = watcher;
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
        // The common case, inline (the hottest loop of the fast path): a scalar member. The
        // obfuscating writer passes absent values the same way (obfuscating_writer.ts passAbsent).
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
        const v = o.pos;
        l.write(o);
        if (c.watch >= 0) this.#watcher!.seen(c.watch, o.buf, v, o.pos);
      } else {
        if (this.isNull(c)) continue;
        o.bytes(any ? c.nextKeyBytes! : c.keyBytes);
        const v = o.pos;
        this.value(c, o);
        if (c.watch >= 0) this.#watcher!.seen(c.watch, o.buf, v, o.pos);
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
