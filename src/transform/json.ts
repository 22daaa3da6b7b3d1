/**
 * JSON serialization that keeps 64-bit integers exact: a `bigint` is written as its digits,
 * `undefined` members are left out, and non-finite numbers become null.
 * @module
 */
import type { JsonValue } from "./values.ts";

/** Serializes `value` as compact JSON text. */
export function toJson(value: JsonValue | undefined): string {
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
