/**
 * Events as objects, for the stages that change them (obfuscation): the fast path's JSON text
 * (`json_reader.ts`) parsed back, one slice at a time. It gives the value policy's objects
 * (integers beyond 2^53 as `bigint`, timestamps as RFC 3339 strings, every LIST an array) with the
 * fast path's memory bound and page handling, rather than hyparquet's row assembly, which holds a
 * whole row group as objects and mis-assembles parquet-mr's two-level lists when a page starts
 * inside a row (`tests/parquet_v1_pages_test.ts`).
 * @module
 */
import type { AsyncBuffer } from "hyparquet";
import { readEventLines } from "./json_reader.ts";
import type { ParquetLimits } from "./limits.ts";
import { readEventLinesParallel } from "./parallel_lines.ts";
import type { DecodePool } from "./parallel_lines.ts";
import { parseEvent } from "./event_json.ts";
import type { JsonObject } from "./shape.ts";

export { parseEvent };

/** Consecutive events of one object. */
export interface EventObjectSlice {
  /** Index of the first event in the object. */
  readonly rowStart: number;
  readonly events: JsonObject[];
}

/** Options for {@link readEventObjects}. */
export interface ReadEventObjectsOptions {
  signal?: AbortSignal;
  /** Rows to skip at the start of the object. Default 0. */
  startRow?: number;
  /** Names the object in errors. */
  name?: string;
  /** Caps on what the object may declare. */
  limits?: ParquetLimits;
  /** Most events per slice. Default 1000. */
  sliceRows?: number;
  /** Decode workers that make the JSON text; it is parsed on this thread. Default none. */
  pool?: DecodePool;
}

/** Yields the events of `file` as objects, in row order. */
export async function* readEventObjects(
  file: AsyncBuffer,
  options: ReadEventObjectsOptions = {},
): AsyncGenerator<EventObjectSlice> {
  const decoder = new TextDecoder();
  const lineOptions = {
    signal: options.signal,
    startRow: options.startRow,
    name: options.name,
    limits: options.limits,
    sliceRows: options.sliceRows,
  };
  const lines = options.pool
    ? readEventLinesParallel(file, { ...lineOptions, pool: options.pool })
    : readEventLines(file, lineOptions);
  for await (const slice of lines) {
    const text = decoder.decode(slice.bytes);
    const events: JsonObject[] = new Array(slice.rows);
    let start = 0;
    for (let i = 0; i < slice.rows; i++) {
      const end = text.indexOf("\n", start);
      events[i] = parseEvent(text.slice(start, end));
      start = end + 1;
    }
    yield { rowStart: slice.rowStart, events };
  }
}
