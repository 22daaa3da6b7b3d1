/**
 * Reads one announced object and delivers its events: row group by row group, each event
 * serialized, formatted as a Devo line, written in large chunks to every output. The object is
 * done only when every output confirmed every one of its events; then it is recorded as
 * completed, so a repeated notification sends nothing. While it is in progress, the number of
 * leading rows confirmed is checkpointed, so a retry (after a crash, on this or another
 * instance) resumes after them.
 * @module
 */
import { CollectorError, errorMessage } from "../errors.ts";
import { readEventLines } from "../parquet/json_reader.ts";
import { readEvents } from "../parquet/reader.ts";
import type { JsonObject } from "../parquet/shape.ts";
import { toJson } from "../transform/json.ts";
import type { LineFormatter } from "../transform/line.ts";
import { logger } from "../telemetry/log.ts";
import type {
  EventOutput,
  ObjectReader,
  ObjectRef,
  ObjectState,
  OpenedObject,
  Receipt,
} from "./ports.ts";

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
  /** First retry delay, doubled each attempt. Default 1000 ms. */
  retryBaseMs?: number;
  /**
   * Applied to every decoded event before it is serialized (obfuscation); returning undefined
   * drops the event. When absent, events go the fast path: JSON text straight from the columns.
   */
  eventTransform?: (event: JsonObject) => JsonObject | undefined;
  /** Called with the number of events of each slice read. */
  onEvents?: (n: number) => void;
  /** Called after each retry of a transient failure. */
  onRetry?: (error: CollectorError) => void;
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
  const { reader, outputs, formatter, state, signal, chunkBytes = 256 * 1024 } = options;
  const attempts = options.attempts ?? 3;
  const name = `s3://${ref.bucket}/${ref.key}`;
  const log = logger("pipeline");

  const known = state?.completed(ref);
  if (known) return { ok: true, ref, events: known.events, duplicate: true };
  if (signal?.aborted) {
    return { ok: false, ref, events: 0, error: asCollectorError(signal.reason, name), stopped: true };
  }

  let written = 0; // rows handed to the outputs (from the start of the object)
  let confirmed = 0; // leading rows every output confirmed
  let id = ref;
  let resumedAt: number | undefined;
  // Confirmations arrive in order; each one advances the checkpoint.
  let chain: Promise<void> = Promise.resolve();
  let chainError: unknown;

  for (let attempt = 1;; attempt++) {
    let opened: OpenedObject | undefined;
    try {
      opened = await reader.open(ref, signal);
      if (!ref.etag && opened.etag) {
        id = { ...ref, etag: opened.etag };
        const again = state?.completed(id);
        if (again) return { ok: true, ref, events: again.events, duplicate: true };
      }
      if (attempt === 1) {
        written = confirmed = state?.checkpoint(id) ?? 0;
        if (written > 0) {
          resumedAt = written;
          log.info("Resuming {object} after {rows} confirmed rows", {
            object: name,
            rows: written,
          });
        }
      }
      let text = "";
      let pending = 0;
      const sendBytes = async (chunk: Uint8Array, rows: number) => {
        // The outputs start their next batch only once this chunk's checkpoint is saved (or
        // failed), so a crash repeats at most the batch in flight.
        const saved = Promise.withResolvers<void>();
        const receipts: Receipt[] = [];
        try {
          for (const out of outputs) receipts.push(await out.write(chunk, rows, saved.promise));
        } catch (e) {
          saved.resolve();
          throw e;
        }
        written += rows;
        const upTo = written;
        chain = chain.then(async () => {
          await Promise.all(receipts.map((r) => r.confirmed));
          confirmed = upTo;
          await state?.saveCheckpoint(id, upTo);
        });
        chain.catch((e) => chainError ??= e).finally(() => saved.resolve());
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
        // Object path: events are transformed (obfuscation) before they are serialized.
        const transform = options.eventTransform;
        for await (const slice of readEvents(opened.buffer, { signal, name, startRow: written })) {
          const header = formatter.header();
          for (const event of slice.events) {
            const e = transform(event);
            if (e !== undefined) text += formatter.line(toJson(e), header);
            pending++;
            if (text.length >= chunkBytes) await send();
          }
          options.onEvents?.(slice.events.length);
          if (chainError) throw chainError;
        }
      } else {
        // Fast path: JSON bytes straight from the column data, whole lines at a time.
        const lines = readEventLines(opened.buffer, {
          signal,
          name,
          startRow: written,
          append: formatter.extraMembers,
          header: () => encoder.encode(formatter.header()),
          sliceBytes: chunkBytes,
        });
        for await (const slice of lines) {
          await sendBytes(slice.bytes, slice.rows);
          options.onEvents?.(slice.rows);
          if (chainError) throw chainError;
        }
      }
      await send();
      await chain;
      await state?.markCompleted(id, written);
      return { ok: true, ref, events: written - (resumedAt ?? 0), resumedAt };
    } catch (e) {
      const error = asCollectorError(chainError ?? e, name);
      // Whatever was written is confirmed (or fails) before anything else happens.
      await Promise.allSettled(outputs.map((o) => o.flush()));
      await chain.catch(() => {});
      const events = confirmed - (resumedAt ?? 0);
      if (signal?.aborted && !chainError) {
        return { ok: false, ref, events, error: asCollectorError(signal.reason, name), stopped: true };
      }
      const transient = error.retryable && error.family === "ApiError" && !chainError;
      if (!transient || attempt >= attempts) return { ok: false, ref, events, error };
      options.onRetry?.(error);
      log.warn("{error}; retrying from row {row} (attempt {attempt} of {attempts})", {
        error: error.message,
        row: written,
        attempt: attempt + 1,
        attempts,
      });
      await sleep((options.retryBaseMs ?? 1000) * 2 ** (attempt - 1), signal);
    } finally {
      tally.requests += opened?.requests ?? 0;
      opened?.close?.();
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
