/**
 * Applies `max_event_bytes` to an object's events: each one too large is cut down and marked
 * (`truncate`) or fails its object (`quarantine`).
 * @module
 */
import { CollectorError } from "../errors.ts";
import type { Oversized } from "../parquet/decode.ts";
import { isOversized, truncateEvent, utf8Length } from "../transform/truncate.ts";
import { logEvent } from "../telemetry/events.ts";
import type { ProcessObjectOptions } from "./object_processor.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Applies `max_event_bytes` to events, as JSON text (object path) or as whole lines. */
export class EventFitter {
  #truncated = 0;
  readonly #name: string;
  readonly #max?: number;
  readonly #quarantine: boolean;
  readonly #options: ProcessObjectOptions;
  readonly #last: string[];
  /** Bytes the line formatter adds to an event's JSON (`,` and the extra members). */
  readonly #extraBytes: number;

  constructor(name: string, options: ProcessObjectOptions, extraMembers: string) {
    this.#name = name;
    this.#max = options.maxEventBytes;
    this.#quarantine = options.oversizedEvents === "quarantine";
    this.#options = options;
    this.#last = extraMembers ? [extraMembers] : [];
    this.#extraBytes = extraMembers ? utf8Length(extraMembers) + 1 : 0;
  }

  /**
   * The JSON of a transformed event of row `row`, which the line formatter then completes with
   * the extra members (`@devo_pulling_id`): fitted so that the completed event is at most
   * `max_event_bytes`.
   */
  object(json: string, row: number): string {
    return this.json(json, row, [], this.#extraBytes);
  }

  /**
   * `json` (the event of row `row`), or its truncated form when it is too large; `reserve`
   * bytes are added to it later.
   */
  json(json: string, row: number, last: readonly string[] = [], reserve = 0): string {
    if (this.#max === undefined) return json;
    const max = this.#max - reserve;
    if (!isOversized(json, max)) return json;
    const bytes = utf8Length(json) + reserve; // as sent
    this.#oversized(row, bytes);
    return truncateEvent(json, max, bytes, last);
  }

  /** An event of row `row` over the limit: the object fails (quarantine), or it is counted. */
  #oversized(row: number, bytes: number): void {
    if (this.#quarantine) {
      throw new CollectorError(
        "EVENT_TOO_LARGE",
        `Event at row ${row} of ${this.#name} has ${bytes} bytes, more than max_event_bytes (${this.#max})`,
        { context: { object: this.#name, row, event_bytes: bytes } },
      );
    }
    this.#truncated++;
  }

  /**
   * Lines (`header{json}\n`..., each header `headBytes` long) whose first is row `row`, with
   * oversized events fitted. With `lineRows` (rows dropped), line i is of row `row + lineRows[i]`;
   * with `lineHeadBytes`, its header is `lineHeadBytes[i]` bytes long.
   */
  lines(
    bytes: Uint8Array,
    row: number,
    headBytes: number,
    oversized: readonly Oversized[] = [],
    lineRows?: Uint32Array,
    lineHeadBytes?: Uint32Array,
  ): Uint8Array {
    const first = row;
    let line = 0;
    if (lineRows) row = first + (lineRows[0] ?? 0);
    // Events the reader already cut down while building them.
    for (const o of oversized) this.#oversized(o.row, o.bytes);
    const max = this.#max;
    if (max === undefined || bytes.length <= max) return bytes;
    let parts: Uint8Array[] | undefined;
    let copied = 0;
    let start = 0;
    while (start < bytes.length) {
      let end = bytes.indexOf(0x0a, start);
      if (end < 0) end = bytes.length;
      if (end - start > max) {
        // The event starts after its header.
        const open = start + (lineHeadBytes ? lineHeadBytes[line]! : headBytes);
        if (bytes[open] !== 0x7b) {
          throw new Error(`the line of row ${row} does not start its event after the header`);
        }
        if (end - open > max) {
          const json = decoder.decode(bytes.subarray(open, end));
          const fitted = this.json(json, row, this.#last);
          if (fitted !== json) {
            (parts ??= []).push(bytes.subarray(copied, open), encoder.encode(fitted));
            copied = end;
          }
        }
      }
      start = end + 1;
      line++;
      row = lineRows ? first + (lineRows[line] ?? 0) : row + 1;
    }
    if (!parts) return bytes;
    parts.push(bytes.subarray(copied));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /** Logs and reports the events truncated in this object. */
  report(): void {
    if (this.#truncated === 0) return;
    logEvent("object_events_truncated", {
      count: this.#truncated,
      object: this.#name,
      max: this.#max,
    });
    this.#options.onTruncated?.(this.#truncated);
    this.#truncated = 0;
  }
}
