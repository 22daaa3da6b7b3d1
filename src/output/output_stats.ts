/**
 * What every output hands back: a receipt per write, the options of a write, and its counters.
 * @module
 */

/** Resolves when the events written are confirmed; rejects when delivery failed for good. */
export interface Receipt {
  readonly confirmed: Promise<void>;
}

/** Options of one write. */
export interface WriteOptions {
  /**
   * Once the batch holding this write is confirmed, the next batch starts only when `settled`
   * settled (or the confirmation timeout passed), so the writer can record the confirmation
   * (a checkpoint) before more is sent.
   */
  readonly settled?: Promise<unknown>;
  /**
   * Asked when the write's turn comes (writes wait while a batch is confirmed); false refuses
   * it (nothing is sent). A writer whose earlier batch just failed uses it to send nothing
   * after the gap. Asked again before the batch holding the write is sent again on a new
   * connection: false then fails that batch instead (with two batches in flight it was written
   * while the failed one was being confirmed).
   */
  readonly admit?: () => boolean;
}

/** Counters of one output. */
export interface OutputStats {
  eventsSent: number;
  bytesSent: number;
  batchesConfirmed: number;
  batchesFailed: number;
  retries: number;
  /** The last attempt to deliver failed (the receiver is down or refusing us). */
  failing: boolean;
  /** Bytes written and not yet confirmed. */
  pendingBytes: number;
}

/** Statistics of an output that has sent nothing yet. */
export function emptyOutputStats(): OutputStats {
  return {
    eventsSent: 0,
    bytesSent: 0,
    batchesConfirmed: 0,
    batchesFailed: 0,
    retries: 0,
    failing: false,
    pendingBytes: 0,
  };
}
