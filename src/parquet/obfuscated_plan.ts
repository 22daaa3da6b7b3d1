/**
 * Obfuscation on the fast path: the rules of `transform/obfuscate.ts` applied to column values
 * while an event's JSON bytes are written, with the same bytes as the object path (the line
 * parsed back, obfuscated, serialized: `obfuscated_lines.ts`).
 *
 * {@link planObfuscation} works out once per schema which plan nodes each rule reaches: a path
 * rule's paths are followed over the schema (`*` over a struct's fields, a map's values or a
 * list's elements, lists met on the way walked element by element), so a row pays only at the
 * leaves a rule names; a rule with string patterns reaches every text leaf and every map below
 * its paths (or all of them). Each reached node keeps its operations in rule order, so a value
 * goes through the same chain as on the object path (a value hashed by one rule and searched by
 * the next pattern is searched as its hash). A dictionary-encoded leaf's values are transformed
 * once per dictionary entry, not per row, and a pattern runs only on values holding a byte a
 * match can start with (`pattern_filter.ts`).
 *
 * What is not done here falls back to the object path, with the same result:
 * - for the whole object (every row), when the schema makes it so: a `mask`, `hash` or
 *   `partial` path reaching a struct, list or map (its value would be its JSON text), a path
 *   naming one key of a map, a path through a legacy one-field list wrapper, a pattern matching
 *   a field name of the schema, or field names JavaScript objects reorder or repeat (names that
 *   are array indices, `__proto__`, two fields of one name);
 * - for one row, when its data makes it so: a map key that is an array index or `__proto__`
 *   (before or after the rules), two entries of one map with the same key, a leaf whose value is
 *   not a scalar.
 * Counts (`fieldsObfuscated`) are the object path's, except that values changed by one rule in
 * a struct, list or map that a later rule drops whole are not counted.
 * @module
 */
import type { CompiledRule, Obfuscator, Step } from "../transform/obfuscate.ts";
import { replaceMatches } from "../transform/obfuscate.ts";
import { toJson } from "../transform/json.ts";
import type { ColumnCursor } from "./column_cursor.ts";
import type { DictionaryJson } from "./dictionary_json.ts";
import { parseEvent } from "./event_json.ts";
import { ByteOut } from "./json_bytes.ts";
import type { Assembler, Plan } from "./json_plan.ts";
import { mayMatch, mayMatchText, patternFilter } from "./pattern_filter.ts";
import type { PatternFilter } from "./pattern_filter.ts";

/** One rule's action on a node, in the order the rules run. */
interface Op {
  /** `replace`: mask, hash or partial of the whole value; `patterns`: its matches. */
  readonly kind: "replace" | "drop" | "patterns";
  readonly rule: CompiledRule;
  /** The rule's index. */
  readonly ri: number;
  /** With patterns: what a value must hold for one of them to match (undefined: anything). */
  readonly filter: readonly PatternFilter[] | undefined;
}

/** A plan node with the operations the rules do on it. */
interface Node {
  readonly plan: Plan;
  readonly name: string;
  readonly children: Node[];
  readonly element?: Node;
  readonly key?: Node;
  readonly value?: Node;
  /** On the node's value, in rule order (a struct, list or map: drops only). */
  readonly ops: Op[];
  /** A map's: patterns run on its keys. */
  readonly keyOps: Op[];
  /** Anything at or below the node the plain assembler cannot write (an op, or a map). */
  needy: boolean;
  /** A struct, list or map dropped whole: the first rule that does it, else -1. */
  dropRi: number;
  /**
   * The dictionary last met at this leaf, and each of its entries through the rules (see
   * {@link ObfuscatingWriter}): the JSON written, changes counted, whether and by which rule it
   * is dropped. A map key's: each entry's text, and whether a key pattern matches it.
   */
  dict: DictionaryJson | undefined;
  out: DictionaryJson | undefined;
  outN: Uint8Array;
  outDrop: Int16Array;
  keys: (string | undefined)[];
  keyHit: Uint8Array;
}

/** The rules planned over one schema. */
export interface ObfuscationPlan {
  readonly top: readonly Node[];
  /** Every row takes the object path (see the module). */
  readonly always: string | undefined;
}

const SAME = 1;
const decoder = new TextDecoder();

/** Plans `obfuscator`'s rules over the compiled schema `fields` (see the module). */
export function planObfuscation(fields: readonly Plan[], obfuscator: Obfuscator): ObfuscationPlan {
  const top = fields.map((p) => node(p));
  let always: string | undefined;
  const rules = obfuscator.compiled;
  const nope = (why: string) => always ??= why;
  // Field names: JavaScript objects would reorder, merge or misplace them on the object path.
  const names = (sibs: readonly string[]) => {
    const seen = new Set<string>();
    for (const n of sibs) {
      if (isIndex(n) || n === "__proto__" || seen.has(n)) nope(`field name ${JSON.stringify(n)}`);
      seen.add(n);
      for (const r of rules) {
        if (r.patterns && replaceMatches(r, n) !== undefined) {
          nope(`a pattern matches field name ${JSON.stringify(n)}`);
        }
      }
    }
  };
  const checkNames = (ns: readonly Node[]) => {
    names(ns.map((n) => n.name));
    for (const n of ns) {
      const p = n.plan;
      if (p.kind === "struct") checkNames(n.children);
      if (p.kind === "list") {
        if (p.wrapKeyBytes) names([keyName(p.wrapKeyBytes)]);
        checkNames([n.element!]);
      }
      if (p.kind === "map") checkNames([n.value!]);
    }
  };
  checkNames(top);

  rules.forEach((rule, ri) => {
    const filter = rule.patterns ? ruleFilter(rule) : undefined;
    const op = (kind: Op["kind"]): Op => ({ kind, rule, ri, filter });
    const push = (n: Node): void => {
      switch (n.plan.kind) {
        case "leaf":
          n.ops.push(op("patterns"));
          return;
        case "struct":
          return n.children.forEach(push);
        case "list":
          return push(n.element!);
        case "map":
          n.keyOps.push(op("patterns"));
          return push(n.value!);
      }
    };
    const act = (n: Node): void => {
      if (rule.patterns) push(n);
      else if (rule.method === "drop") n.ops.push(op("drop"));
      else if (n.plan.kind === "leaf") n.ops.push(op("replace"));
      else nope(`${rule.method} of a ${n.plan.kind}`);
    };
    const walk = (n: Node, path: readonly Step[], i: number): void => {
      const step = path[i]!;
      switch (n.plan.kind) {
        case "leaf":
          return;
        case "list":
          if (n.plan.wrapKeyBytes) return void nope("a path through a legacy list wrapper");
          if (step.any) return each(n, path, i);
          return walk(n.element!, path, i);
        case "struct":
          return members(n.children, path, i);
        case "map":
          if (step.any) return visit(n.value!, path, i);
          return void nope("a path naming a map key");
      }
    };
    const members = (ns: readonly Node[], path: readonly Step[], i: number) => {
      const step = path[i]!;
      for (const c of ns) if (step.any || c.name === step.key) visit(c, path, i);
    };
    const visit = (c: Node, path: readonly Step[], i: number): void => {
      if (path[i]!.each && c.plan.kind === "list") each(c, path, i);
      else if (i + 1 === path.length) act(c);
      else walk(c, path, i + 1);
    };
    const each = (list: Node, path: readonly Step[], i: number): void => {
      if (list.plan.wrapKeyBytes) return void nope("a path through a legacy list wrapper");
      if (i + 1 === path.length) act(list.element!);
      else walk(list.element!, path, i + 1);
    };
    if (rule.paths === undefined) top.forEach(push);
    else for (const path of rule.paths) members(top, path, 0);
  });
  top.forEach(finish);
  return { top, always };
}

/** A pattern rule's filters, one per pattern, or undefined when one of them has none. */
function ruleFilter(rule: CompiledRule): PatternFilter[] | undefined {
  const out: PatternFilter[] = [];
  for (const re of rule.patterns!) {
    const f = patternFilter(re.source);
    if (f === undefined) return undefined;
    out.push(f);
  }
  return out;
}

/** Whether JSON string text `b[from..to)` passes one of `filters`. */
function passes(filters: readonly PatternFilter[], b: Uint8Array, from: number, to: number) {
  for (let k = 0; k < filters.length; k++) if (mayMatch(filters[k]!, b, from, to)) return true;
  return false;
}

/** Whether text `s` passes one of `filters`. */
function passesText(filters: readonly PatternFilter[], s: string): boolean {
  for (let k = 0; k < filters.length; k++) if (mayMatchText(filters[k]!, s)) return true;
  return false;
}

function node(plan: Plan): Node {
  return {
    plan,
    name: keyName(plan.keyBytes),
    children: plan.children.map(node),
    element: plan.element && node(plan.element),
    key: plan.key && node(plan.key),
    value: plan.value && node(plan.value),
    ops: [],
    keyOps: [],
    needy: false,
    dropRi: -1,
    dict: undefined,
    out: undefined,
    outN: new Uint8Array(0),
    outDrop: new Int16Array(0),
    keys: [],
    keyHit: new Uint8Array(0),
  };
}

/** Sets `needy` and `dropRi` below and at `n`. */
function finish(n: Node): boolean {
  let needy = n.ops.length > 0 || n.keyOps.length > 0 || n.plan.kind === "map";
  for (const c of n.children) needy = finish(c) || needy;
  for (const c of [n.element, n.key, n.value]) if (c) needy = finish(c) || needy;
  if (n.plan.kind !== "leaf") n.dropRi = n.ops.find((o) => o.kind === "drop")?.ri ?? -1;
  n.needy = needy;
  return needy;
}

/** The name in `"name":` bytes. */
function keyName(keyBytes: Uint8Array): string {
  const s = decoder.decode(keyBytes);
  return JSON.parse(s.slice(0, -1)) as string;
}

/** Whether JavaScript objects put `s` first, as an array index. */
export function isIndex(s: string): boolean {
  if (s.length === 0 || s.length > 10) return false;
  const c = s.charCodeAt(0);
  if (c < 48 || c > 57 || (c === 48 && s.length > 1)) return false;
  for (let i = 1; i < s.length; i++) {
    const d = s.charCodeAt(i);
    if (d < 48 || d > 57) return false;
  }
  return Number(s) < 4_294_967_295;
}

/** The text of the JSON string `buf[from..to)` (quotes included). */
function jsonText(buf: Uint8Array, from: number, to: number): string {
  for (let i = from + 1; i < to - 1; i++) {
    if (buf[i] === 92) return JSON.parse(decoder.decode(buf.subarray(from, to))) as string;
  }
  return decoder.decode(buf.subarray(from + 1, to - 1));
}

/** A row that takes the object path (see the module). */
class Fallback {}
const FALLBACK = new Fallback();

const COMMA = 44;
const COLON = 58;
const OPEN = 123;
const CLOSE = 125;
const LOPEN = 91;
const LCLOSE = 93;

/** Reused per map depth: a map's entries, held until its keys are settled. */
interface Frame {
  readonly buf: ByteOut;
  names: string[];
  starts: number[];
  ends: number[];
  dead: number[];
  keyDead: boolean[];
}

/**
 * Writes rows of one row group with the rules applied ({@link row}), over its column cursors;
 * `asm` (over the same cursors) writes what no rule touches, and the rows that fall back.
 */
export class ObfuscatingWriter {
  readonly #plan: ObfuscationPlan;
  readonly #leaves: ColumnCursor[];
  readonly #asm: Assembler;
  readonly #fields: readonly Plan[];
  readonly #obfuscator: Obfuscator;
  readonly #snap: Int32Array;
  readonly #stats?: { objectRows?: number };
  readonly #scratch = new ByteOut(256);
  readonly #junk = new ByteOut(256);
  readonly #whole = new ByteOut(1024);
  readonly #frames: Frame[] = [];
  #depth = 0;
  #changes = 0;
  /** {@link #eval}'s count of changes, and the rule that dropped the value. */
  #n = 0;
  #droppedAt = -1;
  /** The values the rules changed in the last row. */
  changed = 0;

  constructor(
    plan: ObfuscationPlan,
    fields: readonly Plan[],
    leaves: ColumnCursor[],
    asm: Assembler,
    obfuscator: Obfuscator,
    stats?: { objectRows?: number },
  ) {
    this.#stats = stats;
    this.#plan = plan;
    this.#fields = fields;
    this.#leaves = leaves;
    this.#asm = asm;
    this.#obfuscator = obfuscator;
    this.#snap = new Int32Array(2 * leaves.length);
  }

  /**
   * Writes the members of the next row's event (its `{` written before) with the rules
   * applied; returns whether any was written. {@link changed} and the obfuscator's `stats`
   * count what the rules did.
   */
  row(o: ByteOut): boolean {
    const open = o.pos;
    if (this.#plan.always === undefined) {
      const leaves = this.#leaves;
      const snap = this.#snap;
      for (let k = 0; k < leaves.length; k++) {
        snap[2 * k] = leaves[k]!.i;
        snap[2 * k + 1] = leaves[k]!.v;
      }
      this.#changes = 0;
      this.#depth = 0;
      try {
        const any = this.#members(this.#plan.top, o, false);
        const n = this.#changes;
        this.changed = n;
        if (n > 0) {
          const stats = this.#obfuscator.stats;
          stats.fieldsObfuscated += n;
          stats.eventsTouched++;
        }
        return any;
      } catch (e) {
        if (e !== FALLBACK) throw e;
        for (let k = 0; k < leaves.length; k++) leaves[k]!.seek(snap[2 * k]!, snap[2 * k + 1]!);
        o.pos = open;
      }
    }
    return this.#objectRow(o);
  }

  /** The row as the object path makes it: written plain, parsed, obfuscated, serialized. */
  #objectRow(o: ByteOut): boolean {
    if (this.#stats) this.#stats.objectRows = (this.#stats.objectRows ?? 0) + 1;
    const w = this.#whole;
    w.pos = 0;
    w.byte(OPEN);
    this.#asm.members(this.#fields, w);
    w.byte(CLOSE);
    const event = parseEvent(decoder.decode(w.buf.subarray(0, w.pos)));
    const stats = this.#obfuscator.stats;
    const before = stats.fieldsObfuscated;
    const json = toJson(this.#obfuscator.apply(event));
    this.changed = stats.fieldsObfuscated - before;
    o.text(json.slice(1, -1));
    return json.length > 2;
  }

  #members(children: readonly Node[], o: ByteOut, any: boolean): boolean {
    const leaves = this.#leaves;
    const asm = this.#asm;
    for (let k = 0; k < children.length; k++) {
      const c = children[k]!;
      const p = c.plan;
      if (!c.needy) {
        if (p.kind === "leaf") {
          const l = leaves[p.leaves[0]!]!;
          if (p.optional && l.defAt() < p.def) {
            l.i++;
            continue;
          }
          if (!l.text && l.omittedHere()) {
            l.i++;
            l.v++;
            continue;
          }
          o.bytes(any ? p.nextKeyBytes! : p.keyBytes);
          l.write(o);
        } else {
          if (asm.isNull(p)) continue;
          o.bytes(any ? p.nextKeyBytes! : p.keyBytes);
          asm.value(p, o);
        }
        any = true;
        continue;
      }
      if (p.kind === "leaf") {
        const l = leaves[p.leaves[0]!]!;
        if (p.optional && l.defAt() < p.def) {
          l.i++;
          continue;
        }
        if (!l.text && l.omittedHere()) {
          l.i++;
          l.v++;
          continue;
        }
        const at = o.pos;
        o.bytes(any ? p.nextKeyBytes! : p.keyBytes);
        if (this.#leaf(c, l, o)) any = true;
        else o.pos = at;
        continue;
      }
      if (asm.isNull(p)) continue;
      const at = o.pos;
      o.bytes(any ? p.nextKeyBytes! : p.keyBytes);
      if (this.#value(c, o)) any = true;
      else o.pos = at;
    }
    return any;
  }

  /** Writes the value of `n` (not null); false, with `#droppedAt` set, when a rule drops it. */
  #value(n: Node, o: ByteOut): boolean {
    const p = n.plan;
    if (!n.needy) {
      this.#asm.value(p, o);
      return true;
    }
    if (n.dropRi >= 0) {
      // Walked past, written nowhere that stays.
      this.#junk.pos = 0;
      this.#asm.value(p, this.#junk);
      this.#junk.pos = 0;
      this.#changes++;
      this.#droppedAt = n.dropRi;
      return false;
    }
    switch (p.kind) {
      case "leaf":
        return this.#leaf(n, this.#leaves[p.leaves[0]!]!, o);
      case "struct":
        o.byte(OPEN);
        this.#members(n.children, o, false);
        o.byte(CLOSE);
        return true;
      case "list":
        this.#list(n, o);
        return true;
      case "map":
        this.#map(n, o);
        return true;
    }
  }

  /** Writes leaf `n`'s value (not null) from cursor `l`; false when a rule drops it. */
  #leaf(n: Node, l: ColumnCursor, o: ByteOut): boolean {
    if (n.ops.length === 0) {
      l.write(o);
      return true;
    }
    const e = l.entry();
    if (e >= 0) {
      const d = l.dictionary!;
      if (n.dict !== d) this.#prepare(n, d);
      l.i++;
      l.v++;
      this.#changes += n.outN[e]!;
      const dropped = n.outDrop[e]!;
      if (dropped >= 0) {
        this.#droppedAt = dropped;
        return false;
      }
      const out = n.out!;
      o.range(out.bytes, out.at[e]!, out.at[e + 1]!);
      return true;
    }
    // Written in place, and written over when a rule changes it.
    const at = o.pos;
    l.write(o);
    const r = this.#eval(n, o.buf, at, o.pos);
    this.#changes += this.#n;
    if (r === SAME) return true;
    o.pos = at;
    if (r === null) return false;
    o.jsonString(r);
    return true;
  }

  /** Puts every entry of dictionary `d` through `n`'s rules, once for the rows that use it. */
  #prepare(n: Node, d: DictionaryJson): void {
    const size = d.at.length - 1;
    const o = new ByteOut(d.bytes.length + 64);
    const at = new Int32Array(size + 1);
    const count = new Uint8Array(size);
    const drop = new Int16Array(size).fill(-1);
    for (let e = 0; e < size; e++) {
      const from = d.at[e]!;
      const to = d.at[e + 1]!;
      const r = this.#eval(n, d.bytes, from, to);
      count[e] = this.#n;
      if (r === null) drop[e] = this.#droppedAt;
      else if (r === SAME) o.range(d.bytes, from, to);
      else o.jsonString(r);
      at[e + 1] = o.pos;
    }
    n.out = { bytes: o.buf.subarray(0, o.pos), at, omit: undefined };
    n.outN = count;
    n.outDrop = drop;
    n.dict = d;
  }

  /**
   * The rules' chain over the JSON value `buf[from..to)`: SAME (unchanged), its new text, or
   * null when dropped; `#n` counts the changes.
   */
  #eval(n: Node, buf: Uint8Array, from: number, to: number): string | null | typeof SAME {
    const b = buf[from];
    let isString = b === 34;
    if (b === OPEN || b === LOPEN) throw FALLBACK;
    let str: string | undefined;
    let count = 0;
    for (const op of n.ops) {
      if (op.kind === "replace") {
        str = op.rule.replace(
          str ?? (isString ? jsonText(buf, from, to) : decoder.decode(buf.subarray(from, to))),
        );
        isString = true;
        count++;
      } else if (op.kind === "drop") {
        this.#n = count + 1;
        this.#droppedAt = op.ri;
        return null;
      } else {
        if (!isString) continue;
        if (op.filter) {
          if (
            str === undefined
              ? !passes(op.filter, buf, from + 1, to - 1)
              : !passesText(op.filter, str)
          ) {
            continue;
          }
        }
        const r = replaceMatches(op.rule, str ??= jsonText(buf, from, to));
        if (r === undefined) continue;
        count++;
        if (op.rule.method === "drop") {
          this.#n = count;
          this.#droppedAt = op.ri;
          return null;
        }
        str = r;
      }
    }
    this.#n = count;
    return count === 0 ? SAME : str!;
  }

  #list(n: Node, o: ByteOut): void {
    const p = n.plan;
    const first = p.leaves[0]!;
    const asm = this.#asm;
    if (this.#leaves[first]!.defAt() < p.repDef) {
      this.#skip(p);
      o.byte(LOPEN);
      o.byte(LCLOSE);
      return;
    }
    const el = n.element!;
    o.byte(LOPEN);
    let count = 0;
    do {
      const isNull = asm.isNull(el.plan);
      if (p.wrapKeyBytes) {
        if (count++ > 0) o.byte(COMMA);
        o.byte(OPEN);
        if (!isNull) {
          const at = o.pos;
          o.bytes(p.wrapKeyBytes);
          if (!this.#value(el, o)) o.pos = at;
        }
        o.byte(CLOSE);
      } else if (isNull) {
        if (count++ > 0) o.byte(COMMA);
        o.ascii("null");
      } else {
        const at = o.pos;
        if (count > 0) o.byte(COMMA);
        if (this.#value(el, o)) count++;
        else o.pos = at;
      }
    } while (this.#more(first, p.repLevel));
    o.byte(LCLOSE);
  }

  #map(n: Node, o: ByteOut): void {
    const p = n.plan;
    const first = p.leaves[0]!;
    const asm = this.#asm;
    o.byte(OPEN);
    if (this.#leaves[first]!.defAt() < p.repDef) {
      this.#skip(p);
      o.byte(CLOSE);
      return;
    }
    const f = this.#frame(this.#depth++);
    const { buf, names, starts, ends, dead } = f;
    let count = 0;
    let hit = false;
    buf.pos = 0;
    do {
      const keyNull = asm.isNull(n.key!.plan);
      const name = keyNull ? "" : this.#keyText(n.key!, n);
      hit ||= this.#hit;
      if (asm.isNull(n.value!.plan) || keyNull) continue;
      const at = buf.pos;
      const kept = this.#value(n.value!, buf);
      if (!kept) buf.pos = at;
      names[count] = name;
      starts[count] = at;
      ends[count] = buf.pos;
      dead[count] = kept ? -1 : this.#droppedAt;
      count++;
    } while (this.#more(first, p.repLevel));
    this.#depth--;
    // The object path parses the line into an object: its key order and unique keys rule.
    for (let i = 0; i < count; i++) {
      const k = names[i]!;
      if (isIndex(k) || k === "__proto__") throw FALLBACK;
    }
    if (count > 16) {
      if (new Set(names.slice(0, count)).size !== count) throw FALLBACK;
    } else {
      for (let i = 1; i < count; i++) {
        for (let j = 0; j < i; j++) if (names[j] === names[i]) throw FALLBACK;
      }
    }
    const keyDead = f.keyDead;
    for (let i = 0; i < count; i++) keyDead[i] = false;
    if (hit) this.#renameKeys(n, f, count);
    let any = false;
    for (let i = 0; i < count; i++) {
      if (dead[i] !== -1 || keyDead[i]) continue;
      if (any) o.byte(COMMA);
      o.jsonString(names[i]!);
      o.byte(COLON);
      o.range(buf.buf, starts[i]!, ends[i]!);
      any = true;
    }
    o.byte(CLOSE);
  }

  /**
   * Runs the map's key patterns over the `count` entries of `f`, rule by rule as the object path
   * does (`#keys`): an entry whose value an earlier rule (or the same one) dropped is gone; a
   * key that becomes one already there gets `#2`, `#3`...
   */
  #renameKeys(n: Node, f: Frame, count: number): void {
    const { names, dead, keyDead } = f;
    const alive = (i: number, ri: number) => !keyDead[i] && (dead[i] === -1 || dead[i]! > ri);
    for (const op of n.keyOps) {
      let renamed: Map<number, string> | undefined;
      for (let i = 0; i < count; i++) {
        if (!alive(i, op.ri)) continue;
        const k = names[i]!;
        if (op.filter && !passesText(op.filter, k)) continue;
        const r = replaceMatches(op.rule, k);
        if (r === undefined) continue;
        this.#changes++;
        (renamed ??= new Map()).set(i, r);
      }
      if (renamed === undefined) continue;
      if (op.rule.method === "drop") {
        for (const i of renamed.keys()) keyDead[i] = true;
        continue;
      }
      const taken = new Set<string>();
      for (let i = 0; i < count; i++) {
        if (alive(i, op.ri) && !renamed.has(i)) taken.add(names[i]!);
      }
      for (let i = 0; i < count; i++) {
        const base = renamed.get(i);
        if (base === undefined) continue;
        let name = base;
        for (let k = 2; taken.has(name); k++) name = `${base}#${k}`;
        if (isIndex(name) || name === "__proto__") throw FALLBACK;
        taken.add(name);
        names[i] = name;
      }
    }
  }

  /**
   * A map key's text (a dictionary entry's once per dictionary); `#hit` tells whether one of the
   * map's key patterns matches it.
   */
  #keyText(k: Node, map: Node): string {
    const l = this.#leaves[k.plan.leaves[0]!]!;
    const e = l.entry();
    if (e >= 0) {
      const d = l.dictionary!;
      if (k.dict !== d) {
        k.dict = d;
        k.keys = new Array(d.at.length - 1);
        k.keyHit = new Uint8Array(d.at.length - 1);
      }
      let s = k.keys[e];
      if (s === undefined) {
        s = keyOf(d.bytes, d.at[e]!, d.at[e + 1]!);
        k.keys[e] = s;
        k.keyHit[e] = this.#matchesKey(map, s) ? 1 : 0;
      }
      l.i++;
      l.v++;
      this.#hit = k.keyHit[e] === 1;
      return s;
    }
    const s = this.#scratch;
    s.pos = 0;
    l.write(s);
    const text = keyOf(s.buf, 0, s.pos);
    this.#hit = this.#matchesKey(map, text);
    return text;
  }

  /** Whether one of `map`'s key patterns matches `key` (if none does, no rule renames it). */
  #matchesKey(map: Node, key: string): boolean {
    for (const op of map.keyOps) {
      if (op.filter && !passesText(op.filter, key)) continue;
      if (replaceMatches(op.rule, key) !== undefined) return true;
    }
    return false;
  }

  /** Set by {@link #keyText}. */
  #hit = false;

  #frame(depth: number): Frame {
    return this.#frames[depth] ??= {
      buf: new ByteOut(1024),
      names: [],
      starts: [],
      ends: [],
      dead: [],
      keyDead: [],
    };
  }

  /** Skips one (null or empty) entry of every leaf under `p`. */
  #skip(p: Plan): void {
    for (const li of p.leaves) this.#leaves[li]!.i++;
  }

  /** Whether the next entry of leaf `li` continues the list at `repLevel`. */
  #more(li: number, repLevel: number): boolean {
    const l = this.#leaves[li]!;
    if (!l.rep || l.i >= l.rep.length) return false;
    return l.rep[l.i]! >= repLevel;
  }
}

/** A map key written as JSON `buf[from..to)`: its text, as the plain assembler keys it. */
function keyOf(buf: Uint8Array, from: number, to: number): string {
  return buf[from] === 34 ? jsonText(buf, from, to) : decoder.decode(buf.subarray(from, to));
}
