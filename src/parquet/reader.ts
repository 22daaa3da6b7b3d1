/**
 * Reads the events of one Parquet object, one row group at a time, through a hyparquet
 * `AsyncBuffer` (local file or S3 range reads). An object's rows are never all in memory:
 * only the row group being decoded is, and events leave in slices.
 * @module
 */
import { parquetMetadataAsync, parquetReadObjects, parquetSchema } from "hyparquet";
import type { AsyncBuffer, FileMetaData } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { CollectorError, isCollectorError } from "../errors.ts";
import { TIMESTAMP_PARSERS } from "../transform/values.ts";
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
}

/** Reads the footer of `file`; a file that is not Parquet gives `DataError 601`. */
export async function readMetadata(file: AsyncBuffer, name = "object"): Promise<FileMetaData> {
  try {
    return await parquetMetadataAsync(file);
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
  const metadata = await readMetadata(file, name);
  const schema = parquetSchema(metadata);
  const columns = schema.children.map((c) => c.element.name);
  const convert = compileColumnConverter(schema);
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
            file,
            metadata,
            rowStart,
            rowEnd: groupEnd,
            columns: [column],
            compressors,
            parsers: TIMESTAMP_PARSERS,
          });
          values.push(rows.map((r) => r[column]));
        } catch (e) {
          throw wrap(e, name);
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

function wrap(e: unknown, name: string): CollectorError {
  if (isCollectorError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
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
