/**
 * The one place that decides what happens to an SQS message, from the outcome of every object
 * it named:
 * - delete it when every object was read to the end and every event confirmed (or the object
 *   was already complete, or skipped: by name, or for being no Parquet or archived), and for
 *   test events;
 * - leave it when something failed that a retry can fix (an output, a throttled or failing AWS
 *   call, a shutdown): its visibility runs out and it comes back; while the collector stops,
 *   release it instead (visibility 0) so that another instance takes it at once;
 * - for failures a retry cannot fix (a body that is not a notification, an object missing,
 *   forbidden or damaged Parquet), leave it until its receive count passes `max_receive_count`;
 *   then leave it to the queue's redrive policy when there is one, else quarantine it (its body
 *   and the reason are written to the state directory) and delete it;
 * - for failures certain to repeat (an object over the reader's limits), quarantine it at once.
 * @module
 */
import type { CollectorError } from "../errors.ts";
import type { ObjectOutcome } from "./object_processor.ts";

/** What to do with a message. */
export type AckAction = "delete" | "leave" | "release" | "quarantine";

/** Everything known about one message once its work ended. */
export interface MessageOutcome {
  /** The body was an `s3:TestEvent`. */
  readonly test: boolean;
  /** Why the body itself could not be used, if so. */
  readonly invalid?: CollectorError;
  readonly objects: readonly ObjectOutcome[];
  /** Objects and records named but not read (not Parquet, metadata/, other event types). */
  readonly skipped: number;
}

/** The queue facts and settings the decision depends on. */
export interface AckPolicy {
  /** `ApproximateReceiveCount` of this delivery. */
  receiveCount: number;
  /** `max_receive_count`. */
  maxReceiveCount: number;
  /** The queue has a redrive policy (a dead-letter queue takes poison messages). */
  redrive: boolean;
  /** Quarantine is enabled. */
  quarantine: boolean;
  /** The collector is stopping: a message left is released at once. Default false. */
  shuttingDown?: boolean;
}

/** The errors that made the message fail, if any. */
export function failures(outcome: MessageOutcome): CollectorError[] {
  const out: CollectorError[] = [];
  if (outcome.invalid) out.push(outcome.invalid);
  for (const o of outcome.objects) if (!o.ok) out.push(o.error);
  return out;
}

/** A failure a later retry cannot fix: bad data or a permanent AWS refusal. */
export function isPermanent(e: CollectorError): boolean {
  return !e.retryable && (e.family === "DataError" || e.family === "ApiError");
}

/**
 * Failures that the same object gives again, byte for byte, at the same cost: limits the object
 * exceeds (Security Lake never rewrites an object). Retrying them only wastes the work again.
 */
const CERTAIN_TO_REPEAT = new Set(["PARQUET_FOOTER_INVALID", "PARQUET_LIMIT", "OUTPUT_LIMIT"]);

/** A failure certain to repeat: quarantined at once rather than after `max_receive_count`. */
export function isCertainToRepeat(e: CollectorError): boolean {
  return isPermanent(e) && CERTAIN_TO_REPEAT.has(e.code);
}

/** Decides delete, leave, release or quarantine for a message. */
export function decide(outcome: MessageOutcome, policy: AckPolicy): AckAction {
  const errors = failures(outcome);
  if (errors.length === 0) return "delete";
  const leave = policy.shuttingDown ? "release" : "leave";
  if (!errors.every(isPermanent)) return leave;
  const repeat = errors.every(isCertainToRepeat);
  if (policy.receiveCount < policy.maxReceiveCount && !repeat) return leave;
  if (policy.redrive || !policy.quarantine) return leave;
  return "quarantine";
}
