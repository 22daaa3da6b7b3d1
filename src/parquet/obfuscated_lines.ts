/**
 * Lines of obfuscated events, for inputs with obfuscation rules: the fast path's lines
 * (`json_reader.ts`, written without the extra members) with each event parsed back
 * (`event_objects.ts`), obfuscated (`transform/obfuscate.ts`), serialized (`toJson`) and given
 * the extra members (`@devo_pulling_id`) after the rules ran, so no rule can change them. The
 * same bytes as the object path on the main thread (`toJson` then `LineFormatter.line`), made
 * where the lines are made: in the decode workers (`lines_worker.ts`), or on this thread.
 * @module
 */
import type { AsyncBuffer } from "hyparquet";
import { toJson } from "../transform/json.ts";
import { withMembers } from "../transform/line.ts";
import type { Obfuscator } from "../transform/obfuscate.ts";
import { parseEvent } from "./event_json.ts";
import { ByteOut } from "./json_bytes.ts";
import { readEventLines } from "./json_reader.ts";
import type { LineSlice, ReadEventLinesOptions } from "./json_reader.ts";

const decoder = new TextDecoder();

/** A slice of lines rewritten by {@link obfuscateLines}. */
export interface ObfuscatedLines {
  /** The lines, each with the header bytes it had. */
  readonly bytes: Uint8Array;
  /** The offset of each line in `bytes`. */
  readonly starts: Uint32Array<ArrayBuffer>;
  /**
   * The values the rules changed in each line's event (the obfuscator's `fieldsObfuscated` for
   * it; an event counts as touched when this is not 0).
   */
  readonly fields: Uint32Array<ArrayBuffer>;
}

/**
 * Rewrites `rows` lines (`header{json}\n`, one header of `headBytes` bytes before every line, or
 * of `lineHeadBytes[i]` before line i, the JSON without `members`): each event obfuscated by
 * `obfuscator` (whose `stats` count it), serialized, and `members` added as its last member.
 * The header is copied as it is.
 */
export function obfuscateLines(
  bytes: Uint8Array,
  rows: number,
  headBytes: number,
  obfuscator: Obfuscator,
  members: string,
  lineHeadBytes?: Uint32Array,
): ObfuscatedLines {
  // One decode for the slice (one per line cost 0.6 s per million lines more). Headers differ
  // only by their tag (ASCII): the characters a header's bytes make are its bytes less those
  // the first header's bytes make more than its characters (a hostname's non-ASCII letters).
  const text = decoder.decode(bytes);
  const first = lineHeadBytes?.[0] ?? headBytes;
  const extra = first - decoder.decode(bytes.subarray(0, first)).length;
  let byteAt = 0;
  const out = new ByteOut(bytes.length + (bytes.length >> 3) + 64);
  const starts = new Uint32Array(rows);
  const fields = new Uint32Array(rows);
  const stats = obfuscator.stats;
  let start = 0;
  for (let i = 0; i < rows; i++) {
    const end = text.indexOf("\n", start);
    const h = lineHeadBytes ? lineHeadBytes[i]! : headBytes;
    const headChars = h - extra;
    if (end < 0 || end - start < headChars) {
      throw new Error(`a slice of ${rows} lines ends after ${i}`);
    }
    const event = parseEvent(text.slice(start + headChars, end));
    starts[i] = out.pos;
    out.bytes(bytes.subarray(byteAt, byteAt + h));
    const before = stats.fieldsObfuscated;
    out.text(withMembers(toJson(obfuscator.apply(event)), members));
    fields[i] = stats.fieldsObfuscated - before;
    out.byte(0x0a);
    // The next line's bytes start after this one's newline (never part of a UTF-8 sequence).
    byteAt = bytes.indexOf(0x0a, byteAt) + 1;
    start = end + 1;
  }
  if (start !== text.length) throw new Error(`a slice of ${rows} lines has more`);
  return { bytes: out.take(), starts, fields };
}

/**
 * `readEventLines(file, options)` with every event obfuscated by `obfuscator`, `options.append`
 * as the members added after the rules: the rules applied as the lines are written
 * (`obfuscated_plan.ts`), or, with `maxEventBytes` (events cut down before the rules run) or
 * with `rules` (rows judged on their values as read), the same slices (rows, `rowStart`, the
 * lines kept and their routes) with each line rewritten by {@link obfuscateLines}.
 */
export async function* readObfuscatedLines(
  file: AsyncBuffer,
  options: ReadEventLinesOptions & { obfuscator: Obfuscator },
): AsyncGenerator<LineSlice> {
  if (options.maxEventBytes === undefined && options.rules === undefined) {
    yield* readEventLines(file, options);
    return;
  }
  yield* rewrittenLines(file, options);
}

/** {@link readObfuscatedLines} by {@link obfuscateLines}: each line parsed back and rewritten. */
export async function* rewrittenLines(
  file: AsyncBuffer,
  options: ReadEventLinesOptions & { obfuscator: Obfuscator },
): AsyncGenerator<LineSlice> {
  const { obfuscator, append = "", ...rest } = options;
  for await (const s of readEventLines(file, rest)) {
    const r = obfuscateLines(
      s.bytes,
      s.lines ?? s.rows,
      s.headBytes,
      obfuscator,
      append,
      s.lineHeadBytes,
    );
    yield {
      ...s,
      bytes: r.bytes,
      starts: options.lineStarts ? r.starts : undefined,
    };
  }
}
