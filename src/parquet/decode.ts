/**
 * The way into Parquet for the pipeline. An object's events come out as Devo JSON lines
 * ({@link decodeLines}: the fast path, on decode workers when a pool is given, with obfuscation
 * rules applied where the lines are made) or as objects ({@link decodeObjects}: the object path,
 * for a transform of whole events), under limits sized for the object in hand
 * ({@link limitsFor}). The modules behind it are this folder's business.
 * @module
 */
import type { AsyncBuffer } from "hyparquet";
import type { Obfuscator } from "../transform/obfuscate.ts";
import { readEventLines } from "./json_reader.ts";
import type { LineSlice, ReadEventLinesOptions } from "./json_reader.ts";
import { readObfuscatedLines } from "./obfuscated_lines.ts";
import { DecodePool, readEventLinesParallel } from "./parallel_lines.ts";

export { readEventObjects as decodeObjects } from "./event_objects.ts";
export { limitsFor, outputBudget } from "./limits.ts";
export type { ParquetLimits } from "./limits.ts";
export type { LineSlice, Oversized } from "./json_reader.ts";
export { DecodePool };
export type { JsonObject } from "./shape.ts";

/** Options for {@link decodeLines}: those of the lines, and where and how they are made. */
export interface DecodeLinesOptions extends ReadEventLinesOptions {
  /** Decode workers to lend row groups to; without them, this thread decodes. */
  pool?: DecodePool;
  /** Obfuscation rules applied to every event where its line is made. */
  obfuscator?: Obfuscator;
}

/** The events of `file` as complete lines, in row order (see the module). */
export function decodeLines(
  file: AsyncBuffer,
  options: DecodeLinesOptions = {},
): AsyncGenerator<LineSlice> {
  const { pool, obfuscator, ...lines } = options;
  if (pool) return readEventLinesParallel(file, { ...lines, pool, obfuscator });
  if (obfuscator) return readObfuscatedLines(file, { ...lines, obfuscator });
  return readEventLines(file, lines);
}
