/**
 * Reads one announced object and delivers its events: row group by row group, each event
 * serialized, formatted as a Devo line, written in large chunks to every output. The object is
 * done only when every output confirmed every one of its events; then it is recorded as
 * completed, so a repeated notification sends nothing. While it is in progress, the number of
 * leading rows confirmed is checkpointed, so a retry (after a crash, on this or another
 * instance) resumes after them.
 * @module
 */
import { sleep } from "../async.ts";
import { CollectorError, errorMessage } from "../errors.ts";
import { decodeLines, decodeObjects, limitsFor, outputBudget } from "../parquet/decode.ts";
import type { DecodePool, JsonObject, Oversized, ParquetLimits } from "../parquet/decode.ts";
import { toJson } from "../transform/json.ts";
import { isOversized, truncateEvent, utf8Length } from "../transform/truncate.ts";
import type { LineFormatter } from "../transform/line.ts";
import type { Obfuscator } from "../transform/obfuscate.ts";
import type {
  EventOutput,
  ObjectReader,
  ObjectRef,
  ObjectState,
  OpenedObject,
  Receipt,
} from "./ports.ts";
import { logEvent } from "../telemetry/events.ts";

/** The result of one object, with the requests it took. */
export type ObjectOutcome = Outcome & { readonly requests: number; readonly seconds: number };

type Outcome =
  | {
    readonly ok: true;
    readonly ref: ObjectRef;
    /** Events delivered by this run. */
    readonly events: number;
    /** The object had already been completed: nothing was sent; `events` it had. */
    readonly duplicate?: boolean;
    /** Rows skipped because an earlier run had them confirmed. */
    readonly resumedAt?: number;
  }
  | {
    readonly ok: false;
    readonly ref: ObjectRef;
    readonly events: number;
    readonly error: CollectorError;
    /**
     * Reading was stopped by `signal` (shutdown), not by a failure: the rows confirmed so far
     * are checkpointed and a retry resumes after them.
     */
    readonly stopped?: boolean;
  };

/**
 * What an input's configuration sets for every object it reads, whichever path reads it (the
 * queue, `historical_poll_datetime`, `seclake backfill`): obfuscation, the size limits and the
 * decode workers.
 */
export type InputObjectOptions = Pick<
  ProcessObjectOptions,
  | "eventTransform"
  | "obfuscator"
  | "maxObjectBytes"
  | "maxEventBytes"
  | "oversizedEvents"
  | "parquetLimits"
  | "onTruncated"
  | "decodePool"
  | "groupReadBytes"
>;

/** Options for {@link processObject}. */
export interface ProcessObjectOptions {
  reader: ObjectReader;
  outputs: readonly EventOutput[];
  formatter: LineFormatter;
  /** Completed objects and checkpoints; without it every object is read from its start. */
  state?: ObjectState;
  /** Stops reading; what was written is still confirmed and checkpointed. */
  signal?: AbortSignal;
  /** Bytes of lines per write. Default 256 KiB. */
  chunkBytes?: number;
  /** Attempts for transient S3 failures within one processing. Default 3. */
  attempts?: number;
  /** First retry delay, doubled each attempt; each wait is half to all of it. Default 1 s. */
  retryBaseMs?: number;
  /**
   * Applied to every decoded event before it is serialized (obfuscation); returning undefined
   * drops the event. When absent, events go the fast path: JSON text straight from the columns.
   */
  eventTransform?: (event: JsonObject) => JsonObject | undefined;
  /**
   * The input's obfuscation rules, applied to every event before it is serialized, where the
   * lines are made (in the decode workers when there are some: `parquet/obfuscated_lines.ts`);
   * its `stats` count what they did. With an `eventTransform` too, the rules run first, on the
   * object path.
   */
  obfuscator?: Obfuscator;
  /** Called with the number of events of each slice read. */
  onEvents?: (n: number) => void;
  /** Called after each retry of a transient failure. */
  onRetry?: (error: CollectorError) => void;
  /**
   * Largest object read (`max_object_bytes`): a larger one, by the size S3 reports (never the
   * notification's), fails with `DataError 603` before its body is read. Default: no limit.
   */
  maxObjectBytes?: number;
  /**
   * Largest event, in bytes of its JSON (`max_event_bytes`); see `oversizedEvents`.
   * Default: no limit.
   */
  maxEventBytes?: number;
  /**
   * A larger event is sent cut down and marked (`truncate`, the default: see
   * `transform/truncate.ts`) or fails its object with `DataError 607` (`quarantine`).
   */
  oversizedEvents?: "truncate" | "quarantine";
  /** Caps on what a Parquet object may declare. Default: derived from `maxObjectBytes`. */
  parquetLimits?: ParquetLimits;
  /** Called with the number of events of an object that were sent truncated. */
  onTruncated?: (n: number) => void;
  /**
   * Decode workers (`decode_threads`): the fast path decodes row groups in them instead of on
   * this thread. Default: none, decode on this thread.
   */
  decodePool?: DecodePool;
  /**
   * A row group of at most this many compressed bytes is read in one request; a larger one in
   * windows as its rows are reached (the memory budget lowers it). Default 16 MiB.
   */
  groupReadBytes?: number;
}

const encoder = new TextEncoder();

function asCollectorError(e: unknown, name: string): CollectorError {
  if (e instanceof CollectorError) return e;
  if (e === undefined || (e instanceof DOMException && e.name === "AbortError")) {
    return new CollectorError("OUTPUT_WRITE", `Processing of ${name} stopped by shutdown`, {
      cause: e,
      retryable: true,
    });
  }
  return new CollectorError("PARQUET_INVALID", `Cannot process ${name}: ${errorMessage(e)}`, {
    cause: e,
  });
}

/** Reads `ref` and delivers its events; never throws, the outcome says what happened. */
export async function processObject(
  ref: ObjectRef,
  options: ProcessObjectOptions,
): Promise<ObjectOutcome> {
  const tally = { requests: 0 };
  const t0 = performance.now();
  const outcome = await deliver(ref, options, tally);
  return { ...outcome, requests: tally.requests, seconds: (performance.now() - t0) / 1000 };
}

async function deliver(
  ref: ObjectRef,
  options: ProcessObjectOptions,
  tally: { requests: number },
): Promise<Outcome> {
  const { reader, outputs, state, signal, chunkBytes = 256 * 1024 } = options;
  // The object's tag may differ per source (devo_tag_map).
  const formatter = options.formatter.forKey(ref.key);
  const attempts = options.attempts ?? 3;
  const name = `s3://${ref.bucket}/${ref.key}`;

  const known = state?.completed(ref);
  if (known) return { ok: true, ref, events: known.events, duplicate: true };
  if (signal?.aborted) {
    return {
      ok: false,
      ref,
      events: 0,
      error: asCollectorError(signal.reason, name),
      stopped: true,
    };
  }

  const limits = options.parquetLimits ??
    (options.maxObjectBytes !== undefined ? limitsFor(options.maxObjectBytes) : undefined);
  const fit = new EventFitter(name, options, formatter.extraMembers);
  let written = 0; // rows handed to the outputs (from the start of the object)
  let confirmed = 0; // leading rows every output confirmed
  let id = ref;
  let resumedAt: number | undefined;
  // Confirmations arrive in order; each one advances the checkpoint.
  let chain: Promise<void> = Promise.resolve();
  let chainError: unknown;
  /** The last checkpoint save queued; later chunks of the same batches join it. */
  let link: CheckpointLink | undefined;
  /** A batch holding rows of this object failed. */
  let failedBatch = false;

  for (let attempt = 1;; attempt++) {
    let opened: OpenedObject | undefined;
    try {
      // The reader refuses a larger object before reading its body (the size S3 reports, never
      // the notification's); checked again here for readers that cannot.
      opened = await reader.open(ref, signal, { maxBytes: options.maxObjectBytes });
      if (options.maxObjectBytes !== undefined) {
        checkSize(opened.size, options.maxObjectBytes, name);
      }
      if (!ref.etag && opened.etag) {
        id = { ...ref, etag: opened.etag };
        const again = state?.completed(id);
        if (again) return { ok: true, ref, events: again.events, duplicate: true };
      }
      if (attempt === 1) {
        written = confirmed = state?.checkpoint(id) ?? 0;
        if (written > 0) {
          resumedAt = written;
          logEvent("object_resumed", {
            object: name,
            rows: written,
          });
        }
      }
      let text = "";
      let pending = 0;
      // Output in proportion to the object in hand: a few repeated bytes cannot become gigabytes.
      const budget = outputBudget(opened.size);
      let output = 0;
      /** Hands `chunk` to every output; returns their confirmations. */
      const sendBytes = async (chunk: Uint8Array, rows: number): Promise<Promise<void>[]> => {
        output += chunk.length;
        if (output > budget) {
          throw new CollectorError(
            "OUTPUT_LIMIT",
            `Object ${name} of ${
              opened!.size
            } bytes makes more than ${budget} bytes of events (after ${
              written - (resumedAt ?? 0)
            } events)`,
            {
              context: {
                object: name,
                object_bytes: opened!.size,
                output_budget: budget,
                events_sent: written - (resumedAt ?? 0),
              },
            },
          );
        }
        // The outputs start their next batch only once this chunk's checkpoint is saved (or
        // failed), so a crash repeats at most the batch in flight; and once a batch of this
        // object failed, nothing after the gap is sent (it would only be sent again).
        const saved = Promise.withResolvers<void>();
        const write = { settled: saved.promise, admit: () => !failedBatch };
        const receipts: Receipt[] = [];
        try {
          for (const out of outputs) receipts.push(await out.write(chunk, rows, write));
        } catch (e) {
          saved.resolve();
          throw e;
        }
        for (const r of receipts) r.confirmed.catch(() => failedBatch = true);
        written += rows;
        const confirms = receipts.map((r) => r.confirmed);
        if (link && !link.started && sameBatches(link.confirms, confirms)) {
          // Rides in the batches of the save already queued: one checkpoint per batch, not
          // one per chunk.
          link.upTo = written;
        } else {
          const l: CheckpointLink = { confirms, upTo: written, started: false, done: chain };
          l.done = chain = chain.then(async () => {
            await Promise.all(confirms);
            l.started = true;
            confirmed = l.upTo;
            await state?.saveCheckpoint(id, l.upTo);
          });
          chain.catch((e) => chainError ??= e);
          link = l;
        }
        link.done.catch(() => {}).finally(() => saved.resolve());
        return confirms;
      };
      const send = async () => {
        if (pending === 0) return;
        const rows = pending;
        const chunk = encoder.encode(text);
        text = "";
        pending = 0;
        await sendBytes(chunk, rows);
      };
      if (options.eventTransform) {
        // Object path: events are transformed before they are serialized (after the
        // obfuscation rules, when there are some too); they are the fast path's lines parsed
        // back (parquet/event_objects.ts).
        const custom = options.eventTransform;
        const rules = options.obfuscator;
        const transform = rules ? (e: JsonObject) => custom(rules.apply(e)) : custom;
        for await (
          const slice of decodeObjects(opened.buffer, {
            signal,
            name,
            startRow: written,
            limits,
            pool: options.decodePool,
          })
        ) {
          const header = formatter.header();
          for (const event of slice.events) {
            const e = transform(event);
            if (e !== undefined) {
              text += formatter.line(fit.object(toJson(e), written + pending), header);
            }
            pending++;
            if (text.length >= chunkBytes) await send();
          }
          options.onEvents?.(slice.events.length);
          if (chainError) throw chainError;
        }
      } else {
        // Fast path: JSON bytes straight from the column data, whole lines at a time; in the
        // decode workers when there are some (the same slices either way). Obfuscation rules
        // rewrite each event of those lines where they are made.
        const obfuscator = options.obfuscator;
        const lineOptions = {
          signal,
          name,
          startRow: written,
          append: formatter.extraMembers,
          header: () => encoder.encode(formatter.header()),
          sliceBytes: chunkBytes,
          limits,
          groupReadBytes: options.groupReadBytes,
          // Events are cut off while they are built; obfuscation rules see events whole, and
          // their lines are fitted afterwards.
          ...(obfuscator ? {} : { maxEventBytes: options.maxEventBytes }),
        };
        const lines = decodeLines(opened.buffer, {
          ...lineOptions,
          pool: options.decodePool,
          obfuscator,
        });
        for await (const slice of lines) {
          // Each event starts right after its header, whatever the header holds (a hostname
          // may hold a "{").
          const confirms = await sendBytes(
            fit.lines(slice.bytes, written, slice.headBytes, slice.oversized),
            slice.rows,
          );
          // The outputs hold the slice until its batch is confirmed or failed for good; then its
          // buffer is freed at once (detached) rather than at V8's next full GC, which lets tens
          // of MB of sent slices wait: peak RSS -45 MB, and a little faster.
          const bytes = slice.bytes;
          void Promise.allSettled(confirms).then(() => release(bytes));
          options.onEvents?.(slice.rows);
          if (chainError) throw chainError;
        }
      }
      await send();
      await chain;
      await state?.markCompleted(id, written);
      fit.report();
      return { ok: true, ref, events: written - (resumedAt ?? 0), resumedAt };
    } catch (e) {
      // Whatever was written is confirmed (or fails) before anything else happens.
      await Promise.allSettled(outputs.map((o) => o.flush()));
      await chain.catch(() => {});
      // A failed batch is the cause, rather than the write refused after it.
      const error = asCollectorError(chainError ?? e, name);
      const events = confirmed - (resumedAt ?? 0);
      if (signal?.aborted && !chainError) {
        return {
          ok: false,
          ref,
          events,
          error: asCollectorError(signal.reason, name),
          stopped: true,
        };
      }
      const transient = error.retryable && error.family === "ApiError" && !chainError;
      if (!transient || attempt >= attempts) return { ok: false, ref, events, error };
      options.onRetry?.(error);
      logEvent("object_retry", {
        error: error.message,
        row: written,
        attempt: attempt + 1,
        attempts,
      });
      const delay = (options.retryBaseMs ?? 1000) * 2 ** (attempt - 1);
      await sleep(delay / 2 + Math.random() * delay / 2, signal);
    } finally {
      tally.requests += opened?.requests ?? 0;
      opened?.close?.();
    }
  }
}

/** Frees the memory of `bytes` now, when they are their buffer's only view (see `LineSlice`). */
function release(bytes: Uint8Array): void {
  const b = bytes.buffer;
  if (
    b instanceof ArrayBuffer && !b.detached && bytes.byteOffset === 0 &&
    bytes.byteLength === b.byteLength
  ) b.transfer(0);
}

/** A queued checkpoint save: rows up to `upTo` once every output confirmed `confirms`. */
interface CheckpointLink {
  readonly confirms: Promise<void>[];
  upTo: number;
  /** Set once the save read `upTo`: later chunks need a save of their own. */
  started: boolean;
  done: Promise<void>;
}

/** Whether two writes landed in the same batch of every output. */
function sameBatches(a: Promise<void>[], b: Promise<void>[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}

/** Refuses an object larger than `max` (`DataError 603`). */
function checkSize(size: number, max: number, name: string): void {
  if (size > max) {
    throw new CollectorError(
      "OBJECT_TOO_LARGE",
      `Object ${name} of ${size} bytes is larger than max_object_bytes (${max} bytes)`,
      { context: { object: name, object_bytes: size, max_object_bytes: max } },
    );
  }
}

/** Applies `max_event_bytes` to events, as JSON text (object path) or as whole lines. */
class EventFitter {
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
   * oversized events fitted.
   */
  lines(
    bytes: Uint8Array,
    row: number,
    headBytes: number,
    oversized: readonly Oversized[] = [],
  ): Uint8Array {
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
        const open = start + headBytes; // the event starts after its header
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
      row++;
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

const decoder = new TextDecoder();
