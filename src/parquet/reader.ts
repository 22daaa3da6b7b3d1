/**
 * Reads the events of one Parquet object, one row group at a time, through a hyparquet
 * `AsyncBuffer` (local file or S3 range reads). An object's rows are never all in memory:
 * only the row group being decoded is, and events leave in slices.
 * @module
 */
import { parquetMetadataAsync, parquetReadObjects, parquetSchema } from "hyparquet";
import type { AsyncBuffer, FileMetaData } from "hyparquet";
import { CollectorError, isCollectorError } from "../errors.ts";
import { TIMESTAMP_PARSERS } from "../transform/values.ts";

const jsonText = new TextDecoder();

/**
 * The value policy's parsers: timestamps as RFC 3339 text, and JSON documents as the string
 * they are (never parsed: a document that is not JSON still arrives, and the fast path sends
 * the same text).
 */
const PARSERS = {
  ...TIMESTAMP_PARSERS,
  jsonFromBytes: (bytes: Uint8Array) => bytes && jsonText.decode(bytes),
};
import { checkSchemaShape, DEFAULT_LIMITS, footerCheckedBuffer } from "./limits.ts";
import { ReadGuard } from "./read_guard.ts";
import type { ParquetLimits } from "./limits.ts";
import { compileColumnConverter } from "./shape.ts";
import type { JsonObject } from "./shape.ts";

/** A slice of consecutive events of one object. */
export interface EventSlice {
  /** Index of the first event of the slice in the object. */
  readonly rowStart: number;
  readonly events: JsonObject[];
}

/** Options for {@link readEvents}. */
export interface ReadEventsOptions {
  /** Cancels the read between slices. */
  signal?: AbortSignal;
  /** Rows to skip at the start of the object (resume after confirmed rows). Default 0. */
  startRow?: number;
  /** Events per slice. Default 1000. */
  sliceRows?: number;
  /** Names the object in errors. */
  name?: string;
  /** Caps on what the object may declare (see `limits.ts`). Default {@link DEFAULT_LIMITS}. */
  limits?: ParquetLimits;
}

/**
 * Reads the footer of `file`: a file that is not Parquet gives `DataError 601`, a footer length
 * beyond the object or `limits.maxFooterBytes` 604, a schema deeper or wider than the limits 606.
 */
export async function readMetadata(
  file: AsyncBuffer,
  name = "object",
  limits: ParquetLimits = DEFAULT_LIMITS,
): Promise<FileMetaData> {
  try {
    const metadata = await parquetMetadataAsync(footerCheckedBuffer(file, limits, name));
    checkSchemaShape(metadata, limits, name);
    return metadata;
  } catch (e) {
    throw wrap(e, name);
  }
}

/** Yields the events of `file` in row order, in slices, one row group decoded at a time. */
export async function* readEvents(
  file: AsyncBuffer,
  options: ReadEventsOptions = {},
): AsyncGenerator<EventSlice> {
  const { signal, startRow = 0, sliceRows = 1000, name = "object" } = options;
  const limits = options.limits ?? DEFAULT_LIMITS;
  const metadata = await readMetadata(file, name, limits);
  let guard: ReadGuard;
  let columns: string[];
  let convert: ReturnType<typeof compileColumnConverter>;
  try {
    // Checks the metadata now, and every page as its column chunk arrives.
    guard = new ReadGuard(metadata, file.byteLength, limits, name);
    const schema = parquetSchema(metadata);
    columns = schema.children.map((c) => c.element.name);
    convert = compileColumnConverter(schema);
  } catch (e) {
    throw wrap(e, name);
  }
  const guarded = guard.buffer(file);
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = groupStart + Number(group.num_rows);
    if (groupEnd > startRow && groupEnd > groupStart) {
      const rowStart = Math.max(groupStart, startRow);
      // One top-level column at a time: decoding garbage then scales with one column of the
      // row group, not with all of them.
      const values: unknown[][] = [];
      for (const column of columns) {
        signal?.throwIfAborted();
        try {
          const rows = await parquetReadObjects({
            file: guarded,
            metadata,
            rowStart,
            rowEnd: groupEnd,
            columns: [column],
            compressors: guard.compressors,
            parsers: PARSERS,
            // Byte arrays without a text annotation stay bytes: shape.ts decides text or base64.
            utf8: false,
          });
          values.push(rows.map((r) => r[column]));
        } catch (e) {
          throw wrap(e, name);
        } finally {
          guard.release();
        }
      }
      const count = groupEnd - rowStart;
      for (let i = 0; i < count; i += sliceRows) {
        signal?.throwIfAborted();
        const end = Math.min(count, i + sliceRows);
        const events: JsonObject[] = new Array(end - i);
        for (let j = i; j < end; j++) events[j - i] = convert(values, j);
        yield { rowStart: rowStart + i, events };
      }
    }
    groupStart = groupEnd;
  }
}

/**
 * Wraps whatever the decoder threw (an `Error`, a `RangeError` from a bad offset, a stack
 * overflow, even a non-Error value) once, as `DataError 601` or `602`.
 */
function wrap(e: unknown, name: string): CollectorError {
  if (isCollectorError(e)) return e;
  let msg: string;
  try {
    msg = e instanceof Error ? e.message : String(e);
  } catch {
    msg = "unknown failure";
  }
  const unsupported = /unsupported|not supported|codec/i.test(msg);
  return new CollectorError(
    unsupported ? "PARQUET_UNSUPPORTED" : "PARQUET_INVALID",
    `Cannot decode Parquet ${name}: ${msg}`,
    { cause: e, context: { object: name } },
  );
}

/** An AsyncBuffer over bytes in memory. */
export function bufferFromBytes(bytes: Uint8Array): AsyncBuffer {
  const ab = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer as ArrayBuffer
    : bytes.slice().buffer as ArrayBuffer;
  return { byteLength: ab.byteLength, slice: (s, e) => ab.slice(s, e) };
}

/** An AsyncBuffer over a local file, read with positioned reads. Close it with `close()`. */
export async function bufferFromFile(path: string): Promise<AsyncBuffer & { close(): void }> {
  const f = await Deno.open(path, { read: true });
  const { size } = await f.stat();
  let last: Promise<unknown> = Promise.resolve();
  const read = async (start: number, end: number): Promise<ArrayBuffer> => {
    const buf = new Uint8Array(Math.max(0, end - start));
    await f.seek(start, Deno.SeekMode.Start);
    let off = 0;
    while (off < buf.length) {
      const n = await f.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    return buf.buffer.slice(0, off);
  };
  return {
    byteLength: size,
    slice(start: number, end = size): Promise<ArrayBuffer> {
      // Positioned reads share the file offset: run them one after another.
      const p = last.then(() => read(start, end));
      last = p.catch(() => {});
      return p;
    },
    close: () => f.close(),
  };
}
