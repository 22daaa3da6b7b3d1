/**
 * The rows of an object written with obfuscation rules applied to their column values, as
 * {@link planObfuscation} planned them over the schema (see `obfuscated_plan.ts` for what is
 * done here and what falls back to the object path). Parts of an event no rule touches are
 * written by the plain assembler.
 * @module
 */
import type { Obfuscator } from "../transform/obfuscate.ts";
import { replaceMatches } from "../transform/obfuscate.ts";
import { toJson } from "../transform/json.ts";
import type { ColumnCursor } from "./column_cursor.ts";
import type { DictionaryJson } from "./dictionary_json.ts";
import { parseEvent } from "./event_json.ts";
import { ByteOut } from "./json_bytes.ts";
import type { Assembler, Plan } from "./json_plan.ts";
import { mayMatchAny, mayMatchTextAny } from "./pattern_filter.ts";
import { isIndex } from "./obfuscated_plan.ts";
import type { Node, ObfuscationPlan } from "./obfuscated_plan.ts";

const SAME = 1;
/** `Node.outFrom` of a dictionary entry not worked out yet, and of one written as it is. */
const UNKNOWN = -1;
const AS_IS = -2;
const decoder = new TextDecoder();

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
  /**
   * Where each key's JSON is, when it came from a dictionary and no rule renamed it (written from
   * there as it is); null: written from its text.
   */
  keyBufs: (Uint8Array | null)[];
  keyFrom: number[];
  keyTo: number[];
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
          if (passAbsent(p, l)) continue;
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
        if (passAbsent(p, l)) continue;
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
      let from = n.outFrom[e]!;
      if (from === UNKNOWN) from = this.#entry(n, d, e);
      this.#changes += n.outN[e]!;
      const dropped = n.outDrop[e]!;
      if (dropped >= 0) {
        this.#droppedAt = dropped;
        return false;
      }
      if (from === AS_IS) o.range(d.bytes, d.at[e]!, d.at[e + 1]!);
      else o.range(n.outBytes!.buf, from, n.outTo[e]!);
      return true;
    }
    // A piece of a page none of whose bytes a pattern's filter passes: no value of it changes.
    if (n.patternsOnly !== undefined && !l.mayPass(n.patternsOnly)) {
      l.write(o);
      return true;
    }
    // Written in place, and written over when a rule changes it.
    const at = o.pos;
    l.write(o);
    if (n.hashFirst) {
      const len = this.#hash(n, o.buf, at, o.pos);
      if (len >= 0) {
        o.pos = at;
        this.#quoted(o, len);
        this.#changes++;
        return true;
      }
    }
    const r = this.#eval(n, o.buf, at, o.pos);
    this.#changes += this.#n;
    if (r === SAME) return true;
    o.pos = at;
    if (r === null) return false;
    o.jsonString(r);
    return true;
  }

  /**
   * The JSON value `buf[from..to)` hashed from its bytes (see `Node.hashFirst`) into
   * {@link #digest}: its length, or -1 when the chain must run on text (a string with escapes,
   * or a hash that a later pattern's filter passes).
   */
  #hash(n: Node, buf: Uint8Array, from: number, to: number): number {
    const b = buf[from];
    if (b === OPEN || b === LOPEN) return -1;
    if (b === 34) {
      from++;
      to--;
      for (let i = from; i < to; i++) if (buf[i] === 92) return -1;
    }
    const ops = n.ops;
    const digest = this.#digest;
    const len = ops[0]!.rule.hashBytes!(buf, from, to, digest, 0);
    if (!n.hexPasses) return len;
    for (let k = 1; k < ops.length; k++) {
      if (mayMatchAny(ops[k]!.filter!, digest, 0, len)) return -1;
    }
    return len;
  }

  /** Writes the first `len` bytes of {@link #digest} as a JSON string. */
  #quoted(o: ByteOut, len: number): void {
    o.byte(34);
    o.range(this.#digest, 0, len);
    o.byte(34);
  }

  readonly #digest = new Uint8Array(64);

  /** Starts over the entries of dictionary `d` at `n`: none worked out yet. */
  #prepare(n: Node, d: DictionaryJson): void {
    const size = d.at.length - 1;
    if (n.outBytes) n.outBytes.pos = 0;
    else n.outBytes = new ByteOut(4096);
    n.outFrom = new Int32Array(size).fill(UNKNOWN);
    n.outTo = new Int32Array(size);
    n.outN = new Uint8Array(size);
    n.outDrop = new Int16Array(size).fill(-1);
    n.dict = d;
  }

  /**
   * Puts entry `e` of dictionary `d` through `n`'s rules, once for the rows that use it; returns
   * where its JSON starts in `n.outBytes`, or AS_IS when it is the entry's own.
   */
  #entry(n: Node, d: DictionaryJson, e: number): number {
    const from = d.at[e]!;
    const to = d.at[e + 1]!;
    const o = n.outBytes!;
    const at = o.pos;
    const len = n.hashFirst ? this.#hash(n, d.bytes, from, to) : -1;
    if (len >= 0) {
      this.#quoted(o, len);
      n.outN[e] = 1;
    } else {
      const r = this.#eval(n, d.bytes, from, to);
      n.outN[e] = this.#n;
      if (r === null) n.outDrop[e] = this.#droppedAt;
      else if (r === SAME) return n.outFrom[e] = AS_IS;
      else o.jsonString(r);
    }
    n.outFrom[e] = at;
    n.outTo[e] = o.pos;
    return at;
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
              ? !mayMatchAny(op.filter, buf, from + 1, to - 1)
              : !mayMatchTextAny(op.filter, str)
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
    const { buf, names, starts, ends, dead, keyBufs, keyFrom, keyTo } = f;
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
      keyBufs[count] = this.#keyBuf;
      keyFrom[count] = this.#keyFrom;
      keyTo[count] = this.#keyTo;
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
      const kb = keyBufs[i];
      if (kb) o.range(kb, keyFrom[i]!, keyTo[i]!);
      else o.jsonString(names[i]!);
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
        if (op.filter && !mayMatchTextAny(op.filter, k)) continue;
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
        f.keyBufs[i] = null;
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
      // A key that is not text (a number, say) is written quoted, from its text.
      this.#keyBuf = d.bytes[d.at[e]!] === 34 ? d.bytes : null;
      this.#keyFrom = d.at[e]!;
      this.#keyTo = d.at[e + 1]!;
      return s;
    }
    const s = this.#scratch;
    s.pos = 0;
    l.write(s);
    const text = keyOf(s.buf, 0, s.pos);
    this.#hit = this.#matchesKey(map, text);
    this.#keyBuf = null;
    return text;
  }

  /** Set by {@link #keyText}: where a dictionary key's JSON is (see `Frame.keyBufs`). */
  #keyBuf: Uint8Array | null = null;
  #keyFrom = 0;
  #keyTo = 0;

  /** Whether one of `map`'s key patterns matches `key` (if none does, no rule renames it). */
  #matchesKey(map: Node, key: string): boolean {
    for (const op of map.keyOps) {
      if (op.filter && !mayMatchTextAny(op.filter, key)) continue;
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
      keyBufs: [],
      keyFrom: [],
      keyTo: [],
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

/**
 * Passes the value of scalar member `p` (its column `l`) when this row has none to write (null,
 * or left out by the value policy); whether it did. The plain assembler does the same inline in
 * its member loop, the hottest of the fast path.
 */
function passAbsent(p: Plan, l: ColumnCursor): boolean {
  if (p.kind !== "leaf") return false;
  if (p.optional && l.defAt() < p.def) {
    l.i++;
    return true;
  }
  if (!l.text && l.omittedHere()) {
    l.i++;
    l.v++;
    return true;
  }
  return false;
}
