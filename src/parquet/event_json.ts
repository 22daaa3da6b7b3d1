/**
 * One event's JSON text, as the fast path writes it (`json_reader.ts`), parsed back into the value
 * policy's object: integers beyond 2^53 as `bigint`, everything else as `JSON.parse` gives it.
 * @module
 */
import type { JsonObject } from "./shape.ts";

/** An integer literal of 16 digits or more may lie beyond 2^53: parse that line exactly. */
const LONG_NUMBER = /[:,[]-?\d{16}/;

const exact = (_key: string, value: unknown, context?: { source?: string }) =>
  typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined &&
    /^-?\d+$/.test(context.source)
    ? BigInt(context.source)
    : value;

/** Parses one event's JSON text as the value policy's object. */
export function parseEvent(json: string): JsonObject {
  return (LONG_NUMBER.test(json) ? JSON.parse(json, exact) : JSON.parse(json)) as JsonObject;
}
