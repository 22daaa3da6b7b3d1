/**
 * Reads one announced object and delivers its events: row group by row group, each event
 * serialized, formatted as a Devo line, written in large chunks to every output. The object is
 * done only when every output confirmed every one of its events.
 * @module
 */
import { CollectorError, errorMessage } from "../errors.ts";
import { readEvents } from "../parquet/reader.ts";
import { toJson } from "../transform/json.ts";
import type { LineFormatter } from "../transform/line.ts";
import type { EventOutput, ObjectReader, ObjectRef, Receipt } from "./ports.ts";

/** The result of one object. */
export type ObjectOutcome =
  | { readonly ok: true; readonly ref: ObjectRef; readonly events: number }
  | {
    readonly ok: false;
    readonly ref: ObjectRef;
    readonly events: number;
    readonly error: CollectorError;
  };

/** Options for {@link processObject}. */
export interface ProcessObjectOptions {
  reader: ObjectReader;
  outputs: readonly EventOutput[];
  formatter: LineFormatter;
  signal?: AbortSignal;
  /** Bytes of lines per write. Default 256 KiB. */
  chunkBytes?: number;
  /** Called with the number of events of each slice read. */
  onEvents?: (n: number) => void;
}

const encoder = new TextEncoder();

/** Reads `ref` and delivers its events; never throws, the outcome says what happened. */
export async function processObject(
  ref: ObjectRef,
  options: ProcessObjectOptions,
): Promise<ObjectOutcome> {
  const { reader, outputs, formatter, signal, chunkBytes = 256 * 1024 } = options;
  const name = `s3://${ref.bucket}/${ref.key}`;
  let events = 0;
  const receipts: Receipt[] = [];
  let opened;
  try {
    opened = await reader.open(ref, signal);
    let text = "";
    let pending = 0;
    const send = async () => {
      if (pending === 0) return;
      const chunk = encoder.encode(text);
      for (const out of outputs) receipts.push(await out.write(chunk, pending));
      text = "";
      pending = 0;
    };
    for await (const slice of readEvents(opened.buffer, { signal, name })) {
      const header = formatter.header();
      for (const event of slice.events) {
        text += formatter.line(toJson(event), header);
        pending++;
        if (text.length >= chunkBytes) await send();
      }
      events += slice.events.length;
      options.onEvents?.(slice.events.length);
    }
    await send();
    await Promise.all(receipts.map((r) => r.confirmed));
    return { ok: true, ref, events };
  } catch (e) {
    const error = e instanceof CollectorError ? e : new CollectorError(
      "PARQUET_INVALID",
      `Cannot process ${name}: ${errorMessage(e)}`,
      { cause: e },
    );
    return { ok: false, ref, events, error };
  } finally {
    opened?.close?.();
  }
}
