/**
 * Obfuscation of source events (`services.events.obfuscation`): rules, applied in order to every
 * decoded event before it is serialized, that mask, hash, partly mask or drop the fields they
 * name, or only the parts of string values that match their patterns.
 *
 * Paths are dotted OCSF field names: `*` matches any key of an object (or every element of a
 * list), `name[]` every element of the list `name`, and a name in double quotes is taken as it
 * is, dots included (`unmapped."x.forwarded.for"`). Lists met along a path are walked
 * element by element, so `observables.value` and `observables[].value` are the same path.
 * A path that names a missing (or null) field does nothing; fields not named are untouched.
 *
 * Methods: `mask` writes the fixed `value`; `hash` writes the HMAC-SHA-256 of the value under
 * `hash_key`, in hex, cut to `hash_length` characters (the same input always gives the same
 * pseudonym); `partial` keeps the last `keep_last` characters and writes `*` for the others (a
 * value no longer than `keep_last` is masked entirely); `drop` removes the field (a list
 * element named with `[]` or `*` is removed from its list). Non-string values (numbers,
 * booleans, objects, lists) are stringified first for mask, hash and partial: the result is
 * always a string, hashed or cut from the value's compact JSON text (`123`, `true`,
 * `{"a":1}`).
 *
 * Patterns run in V8's linear-time engine (`linear_regex.ts`): no value, however crafted, makes
 * one take more than linear time.
 *
 * With `string_patterns`, only the parts of string values that match a pattern are replaced
 * (each match masked, hashed or partly masked; with `drop`, a string that matches is removed):
 * in every string of the event when the rule has no paths, or in every string at or below the
 * named paths. Keys are searched too (a MAP's keys are data, such as an e-mail address used as
 * a key of `unmapped`): in every object at or below the named paths, or every object of the
 * event; a matching key is replaced the same way (with `drop`, its member is removed).
 *
 * Rules are compiled once; hashing is synchronous (`node:crypto`) and remembers recent inputs.
 * @module
 */
import { createHash } from "node:crypto";
import { hmacSha256Hex, hmacSha256HexBytes } from "./sha256.ts";
import type { ObfuscationRule } from "../config/types.ts";
import { DEFAULT_MASK } from "../config/schema.ts";
import { linearRegExp } from "../linear_regex.ts";
import { toJson } from "./json.ts";
import type { JsonValue } from "./values.ts";

/** An event as decoded: an OCSF object. */
export type JsonObject = { [key: string]: JsonValue };

/** What the obfuscation did so far; the metrics read it. */
export interface ObfuscationStats {
  /** Values masked, hashed, partly masked or dropped (a string counts once however many matches). */
  fieldsObfuscated: number;
  /** Events in which at least one value changed. */
  eventsTouched: number;
}

type Container = JsonObject | JsonValue[];

/** One step of a path: a key (or any key), optionally followed by "every element". */
export interface Step {
  readonly key?: string;
  readonly any: boolean;
  readonly each: boolean;
}

/** A rule as compiled: what the fast path (`parquet/obfuscated_plan.ts`) plans from too. */
export interface CompiledRule {
  readonly paths: readonly (readonly Step[])[] | undefined;
  readonly patterns: readonly RegExp[] | undefined;
  readonly method: ObfuscationRule["method"];
  /** The replacement of a whole value or of one match. */
  readonly replace: (text: string) => string;
  /**
   * With `hash`: {@link replace} of the text whose UTF-8 bytes are `data[from..to)`, written as
   * ASCII into `out` at `at`; returns its length (`hash_length`). For the fast path, which has
   * the bytes and needs no string.
   */
  readonly hashBytes?: (
    data: Uint8Array,
    from: number,
    to: number,
    out: Uint8Array,
    at: number,
  ) => number;
}

const HASH_CACHE_ENTRIES = 4096;

/**
 * Parses `actor.user.name`, `observables[].value`, `unmapped.*`, `resources[]`, and names in
 * double quotes for keys that hold dots, brackets or a `*` of their own:
 * `unmapped."x.forwarded.for"`, `"a.b"[].c` (inside the quotes, `\"` is a quote and `\\` a
 * backslash; a quoted `"*"` is the key `*`, not any key).
 */
export function parsePath(path: string): Step[] {
  if (path.trim() === "") throw new RangeError("An obfuscation path must not be empty");
  const invalid = () =>
    new RangeError(
      `Obfuscation path ${
        JSON.stringify(path)
      } is not valid: write names separated by dots, * for any key, [] after a list, and names holding dots in double quotes, e.g. observables[].value or unmapped."x.forwarded.for"`,
    );
  const steps: Step[] = [];
  let i = 0;
  for (;;) {
    let key: string | undefined;
    let quoted = false;
    if (path[i] === '"') {
      quoted = true;
      key = "";
      for (i++;; i++) {
        if (i >= path.length) throw invalid();
        const c = path[i]!;
        if (c === '"') break;
        if (c === "\\") {
          i++;
          if (i >= path.length) throw invalid();
          key += path[i];
        } else key += c;
      }
      i++;
    } else {
      let end = i;
      while (end < path.length && path[end] !== "." && path[end] !== "[") end++;
      key = path.slice(i, end);
      i = end;
      if (key === "" || key.includes("]") || key.includes('"')) throw invalid();
    }
    let each = false;
    if (path.startsWith("[]", i)) {
      each = true;
      i += 2;
    }
    steps.push(!quoted && key === "*" ? { any: true, each } : { key, any: false, each });
    if (i === path.length) return steps;
    if (path[i] !== ".") throw invalid();
    i++;
    if (i === path.length) throw invalid();
  }
}

function replacer(rule: ObfuscationRule): (text: string) => string {
  switch (rule.method) {
    case "mask": {
      const value = rule.value ?? DEFAULT_MASK;
      return () => value;
    }
    case "hash": {
      if (!rule.hash_key) throw new RangeError("Obfuscation method hash needs hash_key");
      const hmac = hmacSha256(rule.hash_key);
      const length = rule.hash_length ?? 64;
      const cache = new Map<string, string>();
      return (text) => {
        let h = cache.get(text);
        if (h === undefined) {
          h = hmac(text).slice(0, length);
          if (cache.size >= HASH_CACHE_ENTRIES) cache.clear();
          cache.set(text, h);
        }
        return h;
      };
    }
    case "partial": {
      const keep = rule.keep_last ?? 4;
      return (text) => {
        const chars = Array.from(text);
        if (chars.length <= keep) return "*".repeat(chars.length);
        return "*".repeat(chars.length - keep) + chars.slice(chars.length - keep).join("");
      };
    }
    case "drop":
      return (text) => text;
  }
}

/**
 * `pattern` for the linear-time engine (global), or a RangeError saying why it cannot run
 * there: the configuration loader refuses such patterns first (SetupError 43 and 44).
 */
function compilePattern(pattern: string): RegExp {
  try {
    return linearRegExp(pattern, "g");
  } catch (e) {
    throw new RangeError(
      `Obfuscation pattern ${JSON.stringify(pattern)} cannot be used: ${
        e instanceof Error ? e.message : String(e)
      }`,
    );
  }
}

/**
 * `text` with every non-empty match of the rule's patterns replaced (pattern by pattern, in
 * order), or undefined when nothing matched.
 */
export function replaceMatches(rule: CompiledRule, text: string): string | undefined {
  let matched = false;
  for (const re of rule.patterns!) {
    text = text.replace(re, (m) => {
      if (m === "") return m;
      matched = true;
      return rule.replace(m);
    });
  }
  return matched ? text : undefined;
}

/** SHA-256's block size in bytes: HMAC pads its key to this. */
const SHA256_BLOCK = 64;

/**
 * HMAC-SHA-256 under `key` (its UTF-8 bytes), as `createHmac("sha256", key)` computes it (RFC
 * 2104), in hex. The hash states after the padded key blocks are computed once, and each text's
 * two compressions run in JavaScript (`sha256.ts`): no call into the runtime per text.
 */
export function hmacSha256(key: string): (text: string) => string {
  return hmacSha256Hex(keyBlock(key));
}

/** HMAC's key block for `key`: its UTF-8 bytes (their SHA-256 when longer), padded with zeros. */
function keyBlock(key: string): Uint8Array {
  let k: Uint8Array = new TextEncoder().encode(key);
  if (k.length > SHA256_BLOCK) k = new Uint8Array(createHash("sha256").update(k).digest());
  const block = new Uint8Array(SHA256_BLOCK);
  block.set(k);
  return block;
}

/** A hash rule's {@link CompiledRule.hashBytes}: the hex digest cut to `hash_length`. */
function hashBytes(rule: ObfuscationRule): NonNullable<CompiledRule["hashBytes"]> {
  if (!rule.hash_key) throw new RangeError("Obfuscation method hash needs hash_key");
  const hex = hmacSha256HexBytes(keyBlock(rule.hash_key));
  const length = Math.max(0, Math.min(64, rule.hash_length ?? 64));
  const digest = new Uint8Array(64);
  return (data, from, to, out, at) => {
    hex(data, from, to, digest, 0);
    for (let i = 0; i < length; i++) out[at + i] = digest[i]!;
    return length;
  };
}

/**
 * Applies obfuscation rules to events. Build one per input; {@link apply} changes an event in
 * place; {@link stats} counts what was done.
 */
export class Obfuscator {
  readonly #rules: CompiledRule[];
  /** The rules as configured: what a decode worker compiles its own copy from. */
  readonly rules: readonly ObfuscationRule[];
  /** Running totals, read by the metrics. */
  readonly stats: ObfuscationStats = { fieldsObfuscated: 0, eventsTouched: 0 };
  #changed = 0;

  /** Compiles `rules` (already validated by the configuration loader). */
  constructor(rules: readonly ObfuscationRule[]) {
    this.rules = rules;
    this.#rules = rules.map((r) => {
      if (!r.paths?.length && !r.string_patterns?.length) {
        throw new RangeError("An obfuscation rule needs paths, string_patterns or both");
      }
      return {
        paths: r.paths?.length ? r.paths.map(parsePath) : undefined,
        patterns: r.string_patterns?.length ? r.string_patterns.map(compilePattern) : undefined,
        method: r.method,
        replace: replacer(r),
        ...(r.method === "hash" ? { hashBytes: hashBytes(r) } : {}),
      };
    });
  }

  /** The rules compiled, in order (for the fast path's plan). */
  get compiled(): readonly CompiledRule[] {
    return this.#rules;
  }

  /** Whether there is any rule. */
  get active(): boolean {
    return this.#rules.length > 0;
  }

  /** Applies every rule, in order, to `event` (changed in place); returns it. */
  apply(event: JsonObject): JsonObject {
    this.#changed = 0;
    for (const rule of this.#rules) {
      if (rule.paths === undefined) {
        for (const key of Object.keys(event)) this.#patterns(rule, event, key);
        this.#keys(rule, event);
      } else {
        for (const path of rule.paths) this.#walk(rule, event, path, 0);
      }
    }
    if (this.#changed > 0) {
      this.stats.fieldsObfuscated += this.#changed;
      this.stats.eventsTouched++;
    }
    return event;
  }

  /** `apply` as a function, for the object processor's `eventTransform`. */
  readonly transform = (event: JsonObject): JsonObject => this.apply(event);

  /** Visits the values `path[i..]` names below `node`. */
  #walk(rule: CompiledRule, node: JsonValue, path: readonly Step[], i: number): void {
    if (node === null || typeof node !== "object") return;
    const step = path[i]!;
    if (Array.isArray(node)) {
      if (step.any) {
        this.#each(rule, node, path, i);
      } else {
        // A list met on the way: walk its elements with the same step.
        for (const e of node.slice()) this.#walk(rule, e, path, i);
      }
      return;
    }
    const obj = node as JsonObject;
    if (step.any) {
      for (const key of Object.keys(obj)) this.#visit(rule, obj, key, path, i);
    } else if (step.key !== undefined && Object.hasOwn(obj, step.key)) {
      this.#visit(rule, obj, step.key, path, i);
    }
  }

  /** `container[key]` matched step `i`: go on, or act when it was the last step. */
  #visit(rule: CompiledRule, container: JsonObject, key: string, path: readonly Step[], i: number) {
    const value = container[key];
    if (value === undefined || value === null) return;
    if (path[i]!.each && Array.isArray(value)) {
      this.#each(rule, value, path, i);
    } else if (i + 1 === path.length) {
      this.#act(rule, container, key);
    } else {
      this.#walk(rule, value, path, i + 1);
    }
  }

  /** Every element of `list` matched step `i`. */
  #each(rule: CompiledRule, list: JsonValue[], path: readonly Step[], i: number): void {
    if (i + 1 === path.length) {
      if (rule.method === "drop" && rule.patterns === undefined) {
        const before = list.length;
        let w = 0;
        for (let r = 0; r < list.length; r++) {
          if (list[r] === null || list[r] === undefined) list[w++] = list[r]!;
        }
        list.length = w;
        this.#changed += before - w;
        return;
      }
      // Backwards, so that a dropped element does not shift the ones still to visit.
      for (let k = list.length - 1; k >= 0; k--) this.#act(rule, list, k);
      return;
    }
    for (const e of list) this.#walk(rule, e, path, i + 1);
  }

  /** Applies the rule to the value `container[key]` named by a path. */
  #act(rule: CompiledRule, container: Container, key: string | number): void {
    const value = (container as Record<string | number, JsonValue>)[key];
    if (value === undefined || value === null) return;
    if (rule.patterns !== undefined) {
      this.#patterns(rule, container, key);
      return;
    }
    if (rule.method === "drop") {
      if (Array.isArray(container)) container.splice(key as number, 1);
      else delete container[key as string];
    } else {
      (container as Record<string | number, JsonValue>)[key] = rule.replace(
        typeof value === "string" ? value : toJson(value),
      );
    }
    this.#changed++;
  }

  /** Replaces the matches of the rule's patterns in every string at or below `container[key]`. */
  #patterns(rule: CompiledRule, container: Container, key: string | number): void {
    const c = container as Record<string | number, JsonValue>;
    const value = c[key];
    if (typeof value === "string") {
      const text = replaceMatches(rule, value);
      if (text === undefined) return;
      this.#changed++;
      if (rule.method !== "drop") c[key] = text;
      else if (Array.isArray(container)) container.splice(key as number, 1);
      else delete c[key];
    } else if (Array.isArray(value)) {
      // Backwards, so that a dropped element does not shift the ones still to visit.
      for (let k = value.length - 1; k >= 0; k--) this.#patterns(rule, value, k);
    } else if (value !== null && typeof value === "object") {
      for (const k of Object.keys(value)) this.#patterns(rule, value as JsonObject, k);
      this.#keys(rule, value as JsonObject);
    }
  }

  /**
   * Replaces the matches of the rule's patterns in the keys of `obj` (a MAP column's keys are
   * data: `unmapped`, `metadata.labels`...), keeping the order of its members. With `drop`, a
   * member whose key matches is removed. A key that becomes one `obj` already has gets `#2`,
   * `#3`... appended, so that no value is lost.
   */
  #keys(rule: CompiledRule, obj: JsonObject): void {
    let renamed: Map<string, string> | undefined;
    for (const key of Object.keys(obj)) {
      const text = replaceMatches(rule, key);
      if (text === undefined) continue;
      this.#changed++;
      (renamed ??= new Map()).set(key, rule.method === "drop" ? "" : text);
    }
    if (renamed === undefined) return;
    const entries = Object.entries(obj);
    // Names in use: the keys that stay, then each new name as it is given.
    const taken = new Set(entries.map(([k]) => k).filter((k) => !renamed.has(k)));
    for (const [k] of entries) delete obj[k];
    for (const [k, v] of entries) {
      let name = k;
      if (renamed.has(k)) {
        if (rule.method === "drop") continue;
        const base = renamed.get(k)!;
        name = base;
        for (let n = 2; taken.has(name); n++) name = `${base}#${n}`;
        taken.add(name);
      }
      obj[name] = v;
    }
  }
}

/** The obfuscator for `rules`, or undefined when there is none (events then take the fast path). */
export function compileObfuscation(
  rules: readonly ObfuscationRule[] | undefined,
): Obfuscator | undefined {
  return rules && rules.length > 0 ? new Obfuscator(rules) : undefined;
}
