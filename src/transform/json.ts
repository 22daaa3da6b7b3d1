/**
 * JSON serialization that keeps 64-bit integers exact: a `bigint` is written as its digits,
 * `undefined` members are left out, and non-finite numbers become null.
 * @module
 */
import type { JsonValue } from "./values.ts";

/**
 * Serializes `value` as compact JSON text. An object or list is handed to `JSON.stringify`, which
 * writes the same text several times faster, unless a `bigint` inside makes it throw: then it is
 * walked here, and each member or element again tries `JSON.stringify`, so only the objects on the
 * way to a `bigint` are walked.
 */
export function toJson(value: JsonValue | undefined): string {
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e; // not a bigint: e.g. too deep (RangeError)
    }
  }
  return walk(value);
}

/** {@link toJson} by hand: `bigint` as its digits, `undefined` members left out. */
function walk(value: JsonValue | undefined): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
      return "null";
    default:
      break;
  }
  if (value === null) return "null";
  if (Array.isArray(value)) {
    let s = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) s += ",";
      s += toJson(value[i]);
    }
    return s + "]";
  }
  let s = "{";
  let first = true;
  for (const key in value) {
    const v = value[key];
    if (v === undefined) continue;
    s += (first ? "" : ",") + JSON.stringify(key) + ":" + toJson(v);
    first = false;
  }
  return s + "}";
}
