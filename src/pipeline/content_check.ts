/**
 * Content over names: an object is read for what it holds, not for what its key ends with
 * (custom sources name their Parquet objects `...gz`). Opening an object reads its last bytes
 * (as many as the Parquet footer reader asks for first, so nothing is read twice) and checks the
 * Parquet end marker `PAR1`; an object without it is refused with `DataError 612` before any
 * decoding. Those bytes then serve every later read that falls inside them.
 *
 * An object whose key ends in `.parquet` promises Parquet: without the marker it is truncated
 * or damaged, and it is left to the decoder to fail (`DataError 601`, retried and then
 * quarantined) rather than skipped, so that a damaged data object is never passed over quietly.
 *
 * The other refusal that is not a failure: S3 does not serve an archived object
 * (`ApiError 411`). {@link skipReasonOf} tells the processor which errors mean "skip and count"
 * rather than "fail and retry".
 * @module
 */
import type { AsyncBuffer } from "hyparquet";
import { CollectorError } from "../errors.ts";
import type { ObjectReader, ObjectRef, OpenedObject, OpenOptions } from "./ports.ts";
import { viewOf } from "./ports.ts";

/** Bytes read from an object's end at open: the Parquet metadata reader's first read. */
export const TAIL_BYTES = 512 * 1024;

/** The smallest Parquet file: `PAR1`, a footer length and `PAR1` around an empty footer. */
const MIN_PARQUET_BYTES = 12;

/** `PAR1` read as a little-endian 32-bit number. */
const PAR1 = 0x31524150;

/** Why an object opened and refused is skipped rather than failed. */
export type ContentSkipReason = "not_parquet" | "archived";

/** The skip reason an error of `processObject` stands for, if it is one (see the module). */
export function skipReasonOf(error: CollectorError): ContentSkipReason | undefined {
  if (error.code === "OBJECT_NOT_PARQUET") return "not_parquet";
  if (error.code === "S3_OBJECT_ARCHIVED") return "archived";
  return undefined;
}

/** Whether `tail`, the last bytes of an object, ends with the Parquet end marker. */
export function endsLikeParquet(tail: ArrayBuffer): boolean {
  return tail.byteLength >= 4 &&
    new DataView(tail).getUint32(tail.byteLength - 4, true) === PAR1;
}

/**
 * `reader`, with each object's end checked when it is opened: an object that is not Parquet
 * (and not named `.parquet`) fails its `open` with `DataError 612` (and is closed).
 */
export function parquetCheckedReader(reader: ObjectReader): ObjectReader {
  return {
    get requests() {
      return reader.requests;
    },
    async open(ref: ObjectRef, signal?: AbortSignal, options?: OpenOptions) {
      const opened = await reader.open(ref, signal, options);
      // An object over max_object_bytes is refused by the processor before any byte is read.
      if (options?.maxBytes !== undefined && opened.size > options.maxBytes) return opened;
      try {
        return await checkedObject(ref, opened);
      } catch (e) {
        opened.close?.();
        throw e;
      }
    },
  };
}

async function checkedObject(ref: ObjectRef, opened: OpenedObject): Promise<OpenedObject> {
  const size = opened.buffer.byteLength;
  const name = `s3://${ref.bucket}/${ref.key}`;
  const refuse = (why: string): never => {
    throw new CollectorError("OBJECT_NOT_PARQUET", `Object ${name} is not Parquet: ${why}`, {
      context: { object: name, object_bytes: size },
    });
  };
  const named = ref.key.toLowerCase().endsWith(".parquet");
  if (size < MIN_PARQUET_BYTES) {
    if (named) return opened;
    refuse(`it has ${size} bytes, fewer than any Parquet file`);
  }
  const tailStart = Math.max(0, size - TAIL_BYTES);
  const tail = await opened.buffer.slice(tailStart, size);
  if (!endsLikeParquet(tail) && !named) {
    refuse("its last bytes are not the Parquet end marker PAR1");
  }
  const buffer: AsyncBuffer = {
    byteLength: size,
    slice(start: number, end: number = size): ArrayBuffer | Promise<ArrayBuffer> {
      if (start >= tailStart && end <= size && start <= end) {
        return tail.slice(start - tailStart, end - tailStart);
      }
      return opened.buffer.slice(start, end);
    },
  };
  return viewOf(opened, { buffer });
}
