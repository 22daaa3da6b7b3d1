/**
 * Conditions on an event's fields, for `services.events.drop_events` (an event that matches
 * any is not sent) and `services.events.tag_routes` (the first route that matches gives the
 * event's tag).
 *
 * A condition names a field path, in the obfuscation rules' syntax (`actor.user.name`,
 * `resources[].type`, `unmapped."x.forwarded.for"`), and one test:
 * - `equals: V`: a value at the path is V;
 * - `in: [V, …]`: a value at the path is one of them;
 * - `matches: REGEX`: a value at the path contains a match of REGEX (linear-time engine);
 * - `exists: true|false`: the path holds a value (not null), or holds none.
 *
 * Values are compared as text: a string as it is, a number or boolean as its JSON text
 * (`3001`, `true`); objects and lists are never equal to, in, or matched by anything. Lists met
 * along the path are walked element by element (as obfuscation paths are), and so is a list at
 * the end of it: the condition holds when any value found holds it.
 *
 * Conditions see the event as read from the object, before obfuscation and before the members
 * the collector adds (`@source`, `@devo_pulling_id`).
 * @module
 */
import { linearRegExp } from "../linear_regex.ts";
import { parsePath } from "./obfuscate.ts";
import type { JsonValue } from "./values.ts";

/** One condition as configured (exactly one of equals, in, matches, exists). */
export interface ConditionConfig {
  readonly path: string;
  readonly equals?: string;
  readonly in?: readonly string[];
  readonly matches?: string;
  readonly exists?: boolean;
}

/** A tag route: a condition and the tag of the events that match it. */
export interface TagRouteConfig extends ConditionConfig {
  readonly tag: string;
}

/** The event rules of an input: what is dropped, and how events are routed to tags. */
export interface RowRulesConfig {
  readonly drop: readonly ConditionConfig[];
  readonly routes: readonly TagRouteConfig[];
}

/** Whether `rules` has anything to do. */
export function hasRowRules(rules: RowRulesConfig | undefined): rules is RowRulesConfig {
  return rules !== undefined && (rules.drop.length > 0 || rules.routes.length > 0);
}

/** One step of a path: a key, or any key. */
export interface PathStep {
  readonly key?: string;
  readonly any: boolean;
}

/** A compiled condition. */
export interface Condition {
  readonly steps: readonly PathStep[];
  /** `exists` conditions: true when the path must hold a value, false when it must hold none. */
  readonly exists?: boolean;
  /** The test of one scalar value's text (absent for `exists`). */
  readonly test?: (text: string) => boolean;
  /** For `equals` and `in`: the texts that match (the fast path compares bytes first). */
  readonly texts?: readonly string[];
}

/** Compiles `c` (already validated by the configuration loader; RangeError otherwise). */
export function compileCondition(c: ConditionConfig): Condition {
  const forms = [c.equals, c.in, c.matches, c.exists].filter((v) => v !== undefined).length;
  if (forms !== 1) {
    throw new RangeError(
      `The condition on ${c.path} needs exactly one of equals, in, matches or exists`,
    );
  }
  const steps = parsePath(c.path).map((s): PathStep =>
    s.any ? { any: true } : { key: s.key!, any: false }
  );
  if (c.exists !== undefined) return { steps, exists: c.exists };
  if (c.matches !== undefined) {
    const re = linearRegExp(c.matches);
    return { steps, test: (t) => re.test(t) };
  }
  const texts = c.equals !== undefined ? [c.equals] : [...c.in!];
  if (texts.length === 1) {
    const only = texts[0]!;
    return { steps, texts, test: (t) => t === only };
  }
  const set = new Set(texts);
  return { steps, texts, test: (t) => set.has(t) };
}

/** The text a condition compares: strings as they are, numbers and booleans as JSON. */
export function scalarText(v: JsonValue): string | undefined {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
    case "boolean":
    case "bigint":
      return String(v);
    default:
      return undefined;
  }
}

/**
 * Calls `found` with every value at `steps[i..]` below `v` (lists walked element by element,
 * a list at the end too); stops, and returns true, once `found` does.
 */
export function anyValueAt(
  v: JsonValue | undefined,
  steps: readonly PathStep[],
  i: number,
  found: (v: JsonValue) => boolean,
): boolean {
  if (v === null || v === undefined) return false;
  if (Array.isArray(v)) {
    for (const el of v) if (anyValueAt(el, steps, i, found)) return true;
    return false;
  }
  if (i === steps.length) return found(v);
  if (typeof v !== "object") return false;
  const o = v as { [key: string]: JsonValue };
  const s = steps[i]!;
  if (!s.any) return Object.hasOwn(o, s.key!) && anyValueAt(o[s.key!], steps, i + 1, found);
  for (const k of Object.keys(o)) if (anyValueAt(o[k], steps, i + 1, found)) return true;
  return false;
}

/** Whether the value `v` (found at the end of a condition's path) satisfies its test. */
export function valueHolds(c: Condition, v: JsonValue): boolean {
  if (c.exists !== undefined) return true;
  const t = scalarText(v);
  return t !== undefined && c.test!(t);
}

/** Whether `event` (an object, as read) satisfies `c`. */
export function holds(c: Condition, event: JsonValue, from = 0): boolean {
  const any = anyValueAt(event, c.steps, from, (v) => valueHolds(c, v));
  return c.exists === false ? !any : any;
}

/** The compiled rules of an input: drop conditions, then the routes in order. */
export class RowRules {
  readonly config: RowRulesConfig;
  readonly drop: readonly Condition[];
  readonly routes: readonly Condition[];
  /** The tag of each route, by index. */
  readonly tags: readonly string[];

  constructor(config: RowRulesConfig) {
    this.config = config;
    this.drop = config.drop.map(compileCondition);
    this.routes = config.routes.map(compileCondition);
    this.tags = config.routes.map((r) => r.tag);
  }

  /**
   * The verdict on `event` (an object, as read): -2 when it is dropped, else the index of the
   * first route it matches, or -1 for none.
   */
  verdict(event: JsonValue): number {
    for (const c of this.drop) if (holds(c, event)) return DROP;
    for (let i = 0; i < this.routes.length; i++) if (holds(this.routes[i]!, event)) return i;
    return NO_ROUTE;
  }
}

/** The verdict of a dropped event (see {@link RowRules.verdict}). */
export const DROP = -2;
/** The verdict of an event sent with its default tag. */
export const NO_ROUTE = -1;
