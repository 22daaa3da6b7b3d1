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
import { decodeLines, decodeObjects, limitsFor } from "../parquet/decode.ts";
import type { DecodePool, JsonObject, ParquetLimits } from "../parquet/decode.ts";
import { toJson } from "../transform/json.ts";
import type { LineFormatter } from "../transform/line.ts";
import type { Obfuscator } from "../transform/obfuscate.ts";
import { DROP, hasRowRules, NO_ROUTE, RowRules } from "../transform/conditions.ts";
import type { RowRulesConfig } from "../transform/conditions.ts";
import { sourceMember } from "../source/partition.ts";
import { withMembers } from "../transform/line.ts";
import type {
  EventOutput,
  ObjectReader,
  ObjectRef,
  ObjectState,
  OpenedObject,
  Receipt,
} from "./ports.ts";
import { logEvent } from "../telemetry/events.ts";
import { EventFitter } from "./event_fitter.ts";
import { parquetCheckedReader, skipReasonOf } from "./content_check.ts";
import type { ContentSkipReason } from "./content_check.ts";

import { checkSize, OutputBudget } from "./output_budget.ts";

/** The result of one object, with the requests it took. */
export type ObjectOutcome = Outcome & { readonly requests: number; readonly seconds: number };

type Outcome =
  | {
    readonly ok: true;
    readonly ref: ObjectRef;
    /** Events delivered by this run. */
    readonly events: number;
    /** Events of this run not sent because a `drop_events` condition matched them. */
    readonly filtered?: number;
    /** The object had already been completed: nothing was sent; `events` it had. */
    readonly duplicate?: boolean;
    /** Rows skipped because an earlier run had them confirmed. */
    readonly resumedAt?: number;
    /**
     * The object was not read, for what it is (see `content_check.ts`): not Parquet, or
     * archived; `error` says so. Nothing was sent, and nothing retries it.
     */
    readonly skipped?: { readonly reason: ContentSkipReason; readonly error: CollectorError };
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
  | "freeBuffersFrom"
  | "rules"
  | "sourceFields"
  | "input"
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
  /**
   * `drop_events` and `tag_routes`: events dropped, and routed to tags, by conditions on their
   * values (on the fast path, judged while their lines are written: `parquet/row_rules.ts`).
   */
  rules?: RowRulesConfig;
  /** Called with the number of events of a slice that `rules` dropped. */
  onFiltered?: (n: number) => void;
  /** `source_fields`: add `"@source"` (the key's facts) to every event. */
  sourceFields?: boolean;
  /** The input's name, for metrics by input. */
  input?: string;
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
  /**
   * Row groups that need at least this many bytes have their buffers freed as soon as they are
   * decoded (under a memory budget; see `ReadEventLinesOptions`).
   */
  freeBuffersFrom?: number;
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
  // Content over names: whatever the key, an object is decoded only if it ends like Parquet.
  const checked = { ...options, reader: parquetCheckedReader(options.reader) };
  const outcome = asSkip(await deliver(ref, checked, tally));
  return { ...outcome, requests: tally.requests, seconds: (performance.now() - t0) / 1000 };
}

/** A failure that only says what the object is (not Parquet, archived), as a skip. */
function asSkip(outcome: Outcome): Outcome {
  const reason = outcome.ok ? undefined : skipReasonOf(outcome.error);
  if (outcome.ok || reason === undefined || outcome.events > 0) return outcome;
  return { ok: true, ref: outcome.ref, events: 0, skipped: { reason, error: outcome.error } };
}

async function deliver(
  ref: ObjectRef,
  options: ProcessObjectOptions,
  tally: { requests: number },
): Promise<Outcome> {
  const name = `s3://${ref.bucket}/${ref.key}`;
  const known = options.state?.completed(ref);
  if (known) return { ok: true, ref, events: known.events, duplicate: true };
  if (options.signal?.aborted) return stopped(ref, 0, options.signal, name);
  const delivery = new ObjectDelivery(ref, name, options);
  const attempts = options.attempts ?? 3;
  for (let attempt = 1;; attempt++) {
    const outcome = await delivery.attempt(attempt, attempts, tally);
    if (outcome) return outcome;
  }
}

/** The outcome of an object whose reading `signal` stopped, after `events` were confirmed. */
function stopped(ref: ObjectRef, events: number, signal: AbortSignal, name: string): Outcome {
  return { ok: false, ref, events, error: asCollectorError(signal.reason, name), stopped: true };
}

/**
 * The delivery of one object over its attempts: the rows written and confirmed so far, and the
 * chain of checkpoint saves that follows the outputs' confirmations.
 */
class ObjectDelivery {
  readonly #ref: ObjectRef;
  readonly #name: string;
  readonly #options: ProcessObjectOptions;
  /** The object's tag may differ per source (devo_tag_map). */
  readonly #formatter: LineFormatter;
  readonly #limits?: ParquetLimits;
  readonly #fit: EventFitter;
  /** Rows handed to the outputs, or dropped (from the start of the object). */
  #written = 0;
  /** Rows of this run dropped by `drop_events`. */
  #dropped = 0;
  /** The members added at the end of every event: `@source`, then `@devo_pulling_id`. */
  readonly #extra: string;
  /** Leading rows every output confirmed. */
  #confirmed = 0;
  #id: ObjectRef;
  #resumedAt: number | undefined;
  /** Confirmations arrive in order; each one advances the checkpoint. */
  #chain: Promise<void> = Promise.resolve();
  #chainError: unknown;
  /** The last checkpoint save queued; later chunks of the same batches join it. */
  #link: CheckpointLink | undefined;
  /** A batch holding rows of this object failed. */
  #failedBatch = false;

  constructor(ref: ObjectRef, name: string, options: ProcessObjectOptions) {
    this.#ref = ref;
    this.#id = ref;
    this.#name = name;
    this.#options = options;
    this.#formatter = options.formatter.forKey(ref.key);
    this.#limits = options.parquetLimits ??
      (options.maxObjectBytes !== undefined ? limitsFor(options.maxObjectBytes) : undefined);
    const source = options.sourceFields ? sourceMember(ref.bucket, ref.key) : "";
    this.#extra = [source, this.#formatter.extraMembers].filter((m) => m !== "").join(",");
    this.#fit = new EventFitter(name, options, this.#extra);
  }

  /** The formatter of the lines of `route` (`tag_routes`), or the object's. */
  #formatterOf(route: number): LineFormatter {
    if (route === NO_ROUTE) return this.#formatter;
    return this.#formatter.withTag(this.#options.rules!.routes[route]!.tag);
  }

  /** One attempt: the outcome, or undefined when a transient failure is to be retried. */
  async attempt(
    attempt: number,
    attempts: number,
    tally: { requests: number },
  ): Promise<Outcome | undefined> {
    const { reader, signal, maxObjectBytes } = this.#options;
    let opened: OpenedObject | undefined;
    try {
      // The reader refuses a larger object before reading its body (the size S3 reports, never
      // the notification's); checked again here for readers that cannot.
      opened = await reader.open(this.#ref, signal, { maxBytes: maxObjectBytes });
      const duplicate = this.#identify(opened);
      if (duplicate) return duplicate;
      if (attempt === 1) this.#resume();
      // Output in proportion to the object in hand: a few repeated bytes cannot become gigabytes.
      const budget = new OutputBudget(this.#name, opened.size);
      if (this.#options.eventTransform) await this.#readObjects(opened, budget);
      else await this.#readLines(opened, budget);
      return await this.#complete();
    } catch (e) {
      return await this.#failed(e, attempt, attempts);
    } finally {
      tally.requests += opened?.requests ?? 0;
      opened?.close?.();
    }
  }

  /**
   * Checks the opened object's size and learns its ETag: the outcome when that makes it one
   * already completed.
   */
  #identify(opened: OpenedObject): Outcome | undefined {
    const ref = this.#ref;
    if (this.#options.maxObjectBytes !== undefined) {
      checkSize(opened.size, this.#options.maxObjectBytes, this.#name);
    }
    if (!ref.etag && opened.etag) {
      this.#id = { ...ref, etag: opened.etag };
      const again = this.#options.state?.completed(this.#id);
      if (again) return { ok: true, ref, events: again.events, duplicate: true };
    }
    return undefined;
  }

  /** Starts after the rows an earlier run had confirmed. */
  #resume(): void {
    this.#written = this.#confirmed = this.#options.state?.checkpoint(this.#id) ?? 0;
    if (this.#written > 0) {
      this.#resumedAt = this.#written;
      logEvent("object_resumed", {
        object: this.#name,
        rows: this.#written,
      });
    }
  }

  /**
   * Object path: events are transformed before they are serialized (after the obfuscation
   * rules, when there are some too); they are the fast path's lines parsed back
   * (parquet/event_objects.ts).
   */
  async #readObjects(opened: OpenedObject, budget: OutputBudget): Promise<void> {
    const options = this.#options;
    const { signal, chunkBytes = 256 * 1024 } = options;
    const custom = options.eventTransform!;
    const rules = options.obfuscator;
    const transform = rules ? (e: JsonObject) => custom(rules.apply(e)) : custom;
    const judge = hasRowRules(options.rules) ? new RowRules(options.rules) : undefined;
    const source = options.sourceFields ? sourceMember(this.#ref.bucket, this.#ref.key) : "";
    let text = "";
    let pending = 0;
    /** Rows of `pending` dropped by conditions. */
    let pendingDropped = 0;
    const send = async () => {
      if (pending === 0) return;
      const rows = pending;
      const lines = pending - pendingDropped;
      const chunk = encoder.encode(text);
      text = "";
      pending = pendingDropped = 0;
      if (lines === 0) this.#skipRows(rows);
      else await this.#sendBytes(chunk, lines, budget, rows);
    };
    const slices = decodeObjects(opened.buffer, {
      signal,
      name: this.#name,
      startRow: this.#written,
      limits: this.#limits,
      pool: options.decodePool,
    });
    for await (const slice of slices) {
      const headers = new Map<number, string>();
      let dropped = 0;
      for (const event of slice.events) {
        // Conditions see the event as read, before any rule or transform.
        const verdict = judge ? judge.verdict(event) : NO_ROUTE;
        const e = verdict === DROP ? undefined : transform(event);
        if (verdict === DROP) {
          dropped++;
          pendingDropped++;
        }
        if (e !== undefined) {
          const formatter = this.#formatterOf(verdict);
          let header = headers.get(verdict);
          if (header === undefined) headers.set(verdict, header = formatter.header());
          const json = this.#fit.object(withMembers(toJson(e), source), this.#written + pending);
          text += formatter.line(json, header);
        }
        pending++;
        if (text.length >= chunkBytes) await send();
      }
      options.onEvents?.(slice.events.length);
      this.#filtered(dropped);
      if (this.#chainError) throw this.#chainError;
    }
    await send();
  }

  /**
   * Fast path: JSON bytes straight from the column data, whole lines at a time; in the decode
   * workers when there are some (the same slices either way). Obfuscation rules rewrite each
   * event of those lines where they are made.
   */
  async #readLines(opened: OpenedObject, budget: OutputBudget): Promise<void> {
    const options = this.#options;
    const { signal, chunkBytes = 256 * 1024 } = options;
    const obfuscator = options.obfuscator;
    const lineOptions = {
      signal,
      name: this.#name,
      startRow: this.#written,
      append: this.#extra,
      header: (route: number) => encoder.encode(this.#formatterOf(route).header()),
      ...(hasRowRules(options.rules) ? { rules: options.rules } : {}),
      sliceBytes: chunkBytes,
      limits: this.#limits,
      groupReadBytes: options.groupReadBytes,
      freeBuffersFrom: options.freeBuffersFrom,
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
      const lines = slice.lines ?? slice.rows;
      options.onEvents?.(slice.rows);
      this.#filtered(slice.rows - lines);
      if (lines === 0) {
        // Every row dropped: nothing to send, the checkpoint goes past them.
        this.#skipRows(slice.rows);
        if (this.#chainError) throw this.#chainError;
        continue;
      }
      // Each event starts right after its header, whatever the header holds (a hostname
      // may hold a "{").
      const confirms = await this.#sendBytes(
        this.#fit.lines(
          slice.bytes,
          this.#written,
          slice.headBytes,
          slice.oversized,
          slice.lineRows,
          slice.lineHeadBytes,
        ),
        lines,
        budget,
        slice.rows,
      );
      // The outputs hold the slice until its batch is confirmed or failed for good; then its
      // buffer is freed at once (detached) rather than at V8's next full GC, which lets tens
      // of MB of sent slices wait: peak RSS -45 MB, and a little faster.
      const bytes = slice.bytes;
      void Promise.allSettled(confirms).then(() => release(bytes));
      if (this.#chainError) throw this.#chainError;
    }
  }

  /** Counts `n` rows dropped by `drop_events`. */
  #filtered(n: number): void {
    if (n === 0) return;
    this.#dropped += n;
    this.#options.onFiltered?.(n);
  }

  /**
   * `rows` rows that need no sending (all dropped): the checkpoint after the batches before
   * them covers them too.
   */
  #skipRows(rows: number): void {
    this.#written += rows;
    const link = this.#link;
    if (link && !link.started) link.upTo = this.#written;
    else this.#checkpointAfter([]);
  }

  /**
   * Hands `chunk` (`lines` events) to every output; returns their confirmations. The chunk
   * covers `rows` rows of the object (more than `lines` when some were dropped).
   */
  async #sendBytes(
    chunk: Uint8Array,
    lines: number,
    budget: OutputBudget,
    rows = lines,
  ): Promise<Promise<void>[]> {
    budget.spend(chunk.length, this.#written - (this.#resumedAt ?? 0));
    // The outputs start their next batch only once this chunk's checkpoint is saved (or
    // failed), so a crash repeats at most the batch in flight; and once a batch of this
    // object failed, nothing after the gap is sent (it would only be sent again).
    const saved = Promise.withResolvers<void>();
    const write = { settled: saved.promise, admit: () => !this.#failedBatch };
    const receipts: Receipt[] = [];
    try {
      for (const out of this.#options.outputs) receipts.push(await out.write(chunk, lines, write));
    } catch (e) {
      saved.resolve();
      throw e;
    }
    for (const r of receipts) r.confirmed.catch(() => this.#failedBatch = true);
    this.#written += rows;
    const confirms = receipts.map((r) => r.confirmed);
    const link = this.#checkpointAfter(confirms);
    link.done.catch(() => {}).finally(() => saved.resolve());
    return confirms;
  }

  /** Queues the checkpoint of the rows written, once every output confirmed `confirms`. */
  #checkpointAfter(confirms: Promise<void>[]): CheckpointLink {
    const link = this.#link;
    if (link && !link.started && sameBatches(link.confirms, confirms)) {
      // Rides in the batches of the save already queued: one checkpoint per batch, not
      // one per chunk.
      link.upTo = this.#written;
      return link;
    }
    const l: CheckpointLink = { confirms, upTo: this.#written, started: false, done: this.#chain };
    l.done = this.#chain = this.#chain.then(async () => {
      await Promise.all(confirms);
      l.started = true;
      this.#confirmed = l.upTo;
      await this.#options.state?.saveCheckpoint(this.#id, l.upTo);
    });
    this.#chain.catch((e) => this.#chainError ??= e);
    this.#link = l;
    return l;
  }

  /** Every row confirmed: the object is recorded as completed. */
  async #complete(): Promise<Outcome> {
    await this.#chain;
    await this.#options.state?.markCompleted(this.#id, this.#written);
    this.#fit.report();
    const resumedAt = this.#resumedAt;
    const dropped = this.#dropped;
    return {
      ok: true,
      ref: this.#ref,
      events: this.#written - (resumedAt ?? 0) - dropped,
      resumedAt,
      ...(dropped > 0 ? { filtered: dropped } : {}),
    };
  }

  /**
   * After a failure: the outcome, or undefined once the wait before retrying a transient
   * failure is over.
   */
  async #failed(e: unknown, attempt: number, attempts: number): Promise<Outcome | undefined> {
    const { outputs, signal } = this.#options;
    const ref = this.#ref;
    // Whatever was written is confirmed (or fails) before anything else happens.
    await Promise.allSettled(outputs.map((o) => o.flush()));
    await this.#chain.catch(() => {});
    // A failed batch is the cause, rather than the write refused after it.
    const error = asCollectorError(this.#chainError ?? e, this.#name);
    const events = this.#confirmed - (this.#resumedAt ?? 0);
    if (signal?.aborted && !this.#chainError) return stopped(ref, events, signal, this.#name);
    // The console's reader went away: the run stops, as for a shutdown.
    if (error.code === "OUTPUT_CLOSED") return { ok: false, ref, events, error, stopped: true };
    const transient = error.retryable && error.family === "ApiError" && !this.#chainError;
    if (!transient || attempt >= attempts) return { ok: false, ref, events, error };
    this.#options.onRetry?.(error);
    logEvent("object_retry", {
      error: error.message,
      row: this.#written,
      attempt: attempt + 1,
      attempts,
    });
    const delay = (this.#options.retryBaseMs ?? 1000) * 2 ** (attempt - 1);
    await sleep(delay / 2 + Math.random() * delay / 2, signal);
    return undefined;
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
