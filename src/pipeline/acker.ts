/**
 * The one place that decides what happens to an SQS message, from the outcome of every object
 * it named: delete it only when every object was read to the end and every event confirmed;
 * otherwise leave it, so its visibility runs out and it comes back.
 * @module
 */
import type { CollectorError } from "../errors.ts";
import type { ObjectOutcome } from "./object_processor.ts";

/** What to do with a message. */
export type AckAction = "delete" | "leave";

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

/** Decides delete or leave for a message. */
export function decide(outcome: MessageOutcome): AckAction {
  if (outcome.invalid) return "leave";
  return outcome.objects.every((o) => o.ok) ? "delete" : "leave";
}
