/**
 * How one object's work is reported, the same for the live path and the backfill: the hooks
 * that count its events, truncations and retries as they happen, and the event that says how it
 * ended (delivered, already complete, skipped for what it is, stopped by the shutdown, failed).
 * @module
 */
import type { CollectorError } from "../errors.ts";
import type { Telemetry } from "../telemetry/events.ts";
import type { ObjectOutcome } from "./object_processor.ts";

/** The `processObject` hooks reporting to `tele`; `onEvents` is also told each count. */
export function objectHooks(
  tele: Telemetry,
  onEvents?: (count: number) => void,
  input?: string,
  onFiltered?: (count: number) => void,
): {
  onEvents: (count: number) => void;
  onFiltered: (count: number) => void;
  onTruncated: (count: number) => void;
  onRetry: (error: CollectorError) => void;
} {
  return {
    onEvents: (count) => {
      onEvents?.(count);
      tele.emit("events_received", { count });
    },
    onFiltered: (count) => {
      onFiltered?.(count);
      tele.emit("events_filtered", { count, input: input ?? "" });
    },
    onTruncated: (count) => tele.emit("events_truncated", { count }),
    onRetry: (error) =>
      tele.emit("retry", { error: error.message, error_id: error.id, stage: "s3" }),
  };
}

/** Reports how an object ended. */
export function reportOutcome(tele: Telemetry, outcome: ObjectOutcome): void {
  const where = { bucket: outcome.ref.bucket, key: outcome.ref.key };
  if (outcome.ok && outcome.skipped) {
    // Not Parquet, or archived: counted by reason, with the error that says why.
    tele.emit("object_skipped_after_open", {
      ...where,
      reason: outcome.skipped.reason,
      error: outcome.skipped.error.message,
      error_id: outcome.skipped.error.id,
    });
  } else if (outcome.ok && outcome.duplicate) {
    tele.emit("object_duplicate", { ...where, events: outcome.events });
  } else if (outcome.ok) {
    tele.emit("object_delivered", {
      ...where,
      events: outcome.events,
      seconds: outcome.seconds.toFixed(3),
    });
  } else if (outcome.stopped) {
    // Stopped by the shutdown: checkpointed, read again from there later.
    tele.metrics.objectsInFlight.inc({}, -1);
    tele.emit("object_stopped", { ...where, events: outcome.events });
  } else {
    tele.emit("object_failed", {
      ...where,
      error: outcome.error.message,
      error_id: outcome.error.id,
    });
  }
}
