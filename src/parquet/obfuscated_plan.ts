/**
 * Obfuscation on the fast path: the rules of `transform/obfuscate.ts` applied to column values
 * while an event's JSON bytes are written, with the same bytes as the object path (the line
 * parsed back, obfuscated, serialized: `obfuscated_lines.ts`).
 *
 * {@link planObfuscation} works out once per schema which plan nodes each rule reaches: a path
 * rule's paths are followed over the schema (`*` over a struct's fields, a map's values or a
 * list's elements, lists met on the way walked element by element), so a row pays only at the
 * leaves a rule names; a rule with string patterns reaches every map and every leaf below its
 * paths (or all of them) whose values may be text one of its patterns matches in: not numbers
 * and booleans, nor timestamps and UUIDs whose fixed form no filter passes ({@link leafText}),
 * unless a rule before makes them text. Each reached node keeps its operations in rule order, so
 * a value goes through the same chain as on the object path (a value hashed by one rule and
 * searched by the next pattern is searched as its hash). A dictionary-encoded leaf's values are transformed
 * once per dictionary entry, not per row, and a pattern runs only on values holding a byte a
 * match can start with (`pattern_filter.ts`); a piece of a PLAIN text page in whose bytes no
 * pattern's filter passes is written as it is, value by value, without trying any.
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
import type { DictionaryJson } from "./dictionary_json.ts";
import type { ByteOut } from "./json_bytes.ts";
import type { Plan } from "./json_plan.ts";
import type { SchemaElement } from "hyparquet";
import { mayPassForm, patternFilter, textForm } from "./pattern_filter.ts";
import type { PatternFilter } from "./pattern_filter.ts";

/** One rule's action on a node, in the order the rules run. */
export interface Op {
  /** `replace`: mask, hash or partial of the whole value; `patterns`: its matches. */
  readonly kind: "replace" | "drop" | "patterns";
  readonly rule: CompiledRule;
  /** The rule's index. */
  readonly ri: number;
  /** With patterns: what a value must hold for one of them to match (undefined: anything). */
  readonly filter: readonly PatternFilter[] | undefined;
}

/** A plan node with the operations the rules do on it. */
export interface Node {
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
   * A leaf whose first operation is a hash and whose others are patterns with filters: its
   * value can be hashed from its bytes, and kept so when no filter passes the hash.
   */
  hashFirst: boolean;
  /** With {@link hashFirst}: whether a later pattern's filter may pass a hex digest at all. */
  hexPasses: boolean;
  /**
   * A leaf whose every operation is a pattern with a filter: the filters, which a value must pass
   * for a pattern to match in it (none passed: the value is written as it is).
   */
  patternsOnly: readonly PatternFilter[] | undefined;
  /**
   * The dictionary last met at this leaf, and each of its entries through the rules, worked out
   * when a row first uses it (see {@link ObfuscatingWriter}): the JSON written
   * (`outBytes[outFrom[e]..outTo[e])`; `outFrom[e]` -1 until then, -2 when it is the entry's
   * own), changes counted, whether and by which rule it is dropped. A map key's: each entry's
   * text, and whether a key pattern matches it.
   */
  dict: DictionaryJson | undefined;
  outBytes: ByteOut | undefined;
  outFrom: Int32Array;
  outTo: Int32Array;
  outN: Uint8Array;
  outDrop: Int16Array;
  keys: (string | undefined)[];
  keyHit: Uint8Array;
}

const decoder = new TextDecoder();
/** The characters of a hash rule's output (`CompiledRule.hashBytes`: lowercase hex). */
const HEX_DIGITS = "0123456789abcdef";

/** The rules planned over one schema. */
export interface ObfuscationPlan {
  readonly top: readonly Node[];
  /** Every row takes the object path (see the module). */
  readonly always: string | undefined;
}

/**
 * The text a leaf column's values are written as (by the value policy, `transform/values.ts`, and
 * hyparquet's conversions): `"none"` when they are never JSON strings (numbers, booleans), a
 * fixed form (each character the text may hold, with the most times it may hold it) for
 * timestamps and UUIDs, and `"any"` for every other column.
 */
export type LeafText = "any" | "none" | ReadonlyMap<number, number>;

/**
 * RFC 3339 with milliseconds, as `timestampFromMillis` writes it: `2024-05-01T12:00:00.000Z`, or
 * with a six-digit signed year (`+275760-09-13…`, `-000001-01-01…`).
 */
const TIMESTAMP_TEXT = textForm("0123456789", { "-": 3, "+": 1, ":": 2, T: 1, Z: 1, ".": 1 });
/** A UUID as hyparquet writes it: lowercase hex digits in five groups. */
const UUID_TEXT = textForm(HEX_DIGITS, { "-": 4 });
/** A hash rule's output. */
const HEX_TEXT = textForm(HEX_DIGITS);

/** The {@link LeafText} of a leaf column whose schema element is `e`. */
export function leafText(e: SchemaElement): LeafText {
  const ct = e.converted_type;
  const lt = e.logical_type;
  switch (e.type) {
    case "BOOLEAN":
      return ct === undefined && lt === undefined ? "none" : "any";
    case "INT32":
    case "INT64":
      if (
        (ct === undefined || /^U?INT_(8|16|32|64)$/.test(ct)) &&
        (lt === undefined || lt.type === "INTEGER")
      ) return "none";
      if (
        e.type === "INT64" && (ct === "TIMESTAMP_MILLIS" || ct === "TIMESTAMP_MICROS" ||
          (ct === undefined && lt?.type === "TIMESTAMP"))
      ) return TIMESTAMP_TEXT;
      return "any";
    case "INT96":
      return ct === undefined && lt === undefined ? TIMESTAMP_TEXT : "any";
    case "FIXED_LEN_BYTE_ARRAY":
      return ct === undefined && lt?.type === "UUID" ? UUID_TEXT : "any";
    default:
      return "any";
  }
}

/**
 * Plans `obfuscator`'s rules over the compiled schema `fields` (see the module); `texts[i]`, when
 * given, is what leaf `i`'s values are written as: string patterns are not planned on a leaf
 * whose text none of their filters can pass (numbers and booleans are never searched).
 */
export function planObfuscation(
  fields: readonly Plan[],
  obfuscator: Obfuscator,
  texts?: readonly LeafText[],
): ObfuscationPlan {
  const top = fields.map((p) => node(p));
  let always: string | undefined;
  const rules = obfuscator.compiled;
  const nope = (why: string) => void (always ??= why);
  checkFieldNames(top, rules, nope);
  rules.forEach((rule, ri) => planRule(top, rule, ri, nope, texts));
  top.forEach(finish);
  return { top, always };
}

/**
 * Field names JavaScript objects would reorder, merge or misplace on the object path (array
 * indices, `__proto__`, repeated names, names a pattern matches): `nope` is told why.
 */
function checkFieldNames(
  top: readonly Node[],
  rules: readonly CompiledRule[],
  nope: (why: string) => void,
): void {
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
}

/**
 * Adds rule `ri`'s operations to the nodes its paths reach (for a pattern rule, every map and
 * every leaf a pattern may match in below them); what the fast path cannot do, `nope` is told.
 */
function planRule(
  top: readonly Node[],
  rule: CompiledRule,
  ri: number,
  nope: (why: string) => void,
  texts?: readonly LeafText[],
): void {
  const filter = rule.patterns ? ruleFilter(rule) : undefined;
  const op = (kind: Op["kind"]): Op => ({ kind, rule, ri, filter });
  /** Whether the patterns may match in leaf `n`'s value (a rule before may make it text). */
  const searched = (n: Node): boolean => {
    const text = texts?.[n.plan.leaves[0]!] ?? "any";
    if (text === "any" || n.ops.some((o) => o.kind === "replace")) return true;
    return text !== "none" && (filter === undefined || filter.some((f) => mayPassForm(f, text)));
  };
  const push = (n: Node): void => {
    switch (n.plan.kind) {
      case "leaf":
        if (searched(n)) n.ops.push(op("patterns"));
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
    hashFirst: false,
    hexPasses: true,
    patternsOnly: undefined,
    dict: undefined,
    outBytes: undefined,
    outFrom: new Int32Array(0),
    outTo: new Int32Array(0),
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
  else {
    const [first, ...rest] = n.ops;
    n.hashFirst = first?.kind === "replace" && first.rule.hashBytes !== undefined &&
      rest.every((o) => o.kind === "patterns" && o.filter !== undefined);
    n.hexPasses = rest.some((o) => o.filter?.some((f) => mayPassForm(f, HEX_TEXT)) ?? true);
    n.patternsOnly = n.ops.length > 0 &&
        n.ops.every((o) => o.kind === "patterns" && o.filter !== undefined)
      ? n.ops.flatMap((o) => o.filter!)
      : undefined;
  }
  n.needy = needy;
  return needy;
}

/** The name in `"name":` bytes. */
export function keyName(keyBytes: Uint8Array): string {
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
