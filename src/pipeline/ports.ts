/**
 * The small interfaces the pipeline drives, so tests can drive it with real or local parts:
 * the queue of notifications, the object reader, and the outputs.
 * @module
 */
import type { AsyncBuffer } from "hyparquet";
import type { QueueMessage, ReceiveOptions } from "../aws/sqs.ts";
import type { OutputStats, Receipt, WriteOptions } from "../output/output_stats.ts";
import type { ObjectRef } from "../source/notification.ts";

export type { ObjectRef, QueueMessage, Receipt, WriteOptions };

/** Where notifications come from (the SQS queue, or a local folder in the demo). */
export interface MessageQueue {
  receive(options: ReceiveOptions): Promise<QueueMessage[]>;
  delete(message: QueueMessage): Promise<void>;
  changeVisibility(message: QueueMessage, seconds: number): Promise<void>;
  /** Requests performed so far. */
  readonly requests: number;
}

/** An object opened for reading. */
export interface OpenedObject {
  readonly buffer: AsyncBuffer;
  readonly etag?: string;
  readonly size: number;
  /** Requests made for this object. */
  readonly requests?: number;
  close?(): void;
}

/**
 * `opened` seen through another `buffer` (a cache of its tail, a counter of its reads), with
 * `onClose` run after it is closed; its ETag, size and requests stay those of `opened`.
 */
export function viewOf(
  opened: OpenedObject,
  change: { buffer?: AsyncBuffer; onClose?: () => void },
): OpenedObject {
  return {
    get buffer() {
      return change.buffer ?? opened.buffer;
    },
    get etag() {
      return opened.etag;
    },
    get size() {
      return opened.size;
    },
    get requests() {
      return opened.requests;
    },
    close() {
      try {
        opened.close?.();
      } finally {
        change.onClose?.();
      }
    },
  };
}

/** What the processor asks of a reader when it opens an object. */
export interface OpenOptions {
  /**
   * Largest object accepted (`max_object_bytes`): a reader that can refuses a larger one
   * (`DataError 603`) before reading it, by the size its source reports.
   */
  readonly maxBytes?: number;
}

/** Opens announced objects (S3, or local files in the demo). */
export interface ObjectReader {
  open(ref: ObjectRef, signal?: AbortSignal, options?: OpenOptions): Promise<OpenedObject>;
  /** Requests performed so far. */
  readonly requests: number;
}

/** What the pipeline remembers between runs (see `state/store.ts`). */
export interface ObjectState {
  completed(o: ObjectRef): { readonly events: number } | undefined;
  markCompleted(o: ObjectRef, events: number): Promise<void>;
  checkpoint(o: ObjectRef): number;
  saveCheckpoint(o: ObjectRef, rows: number): Promise<void>;
}

/** Where events go, with confirmed delivery. */
export interface EventOutput {
  readonly name: string;
  readonly stats: OutputStats;
  /** Adds `chunk` (`events` whole lines) to the output (see {@link WriteOptions}). */
  write(chunk: Uint8Array, events: number, options?: WriteOptions): Promise<Receipt>;
  flush(): Promise<void>;
  close(): Promise<void>;
  abort(): void;
}
