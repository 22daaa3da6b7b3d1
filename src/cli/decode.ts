/**
 * The `decode` command: the events of a local Parquet file on standard output, one per line,
 * as OCSF JSON or as the Devo lines the collector would send. It decodes with the collector's
 * fast path; `--reference` uses the plain object path instead, to cross-check a file.
 * @module
 */
import { CollectorError, errorMessage } from "../errors.ts";
import { readEventLines } from "../parquet/json_reader.ts";
import { bufferFromFile, readEvents } from "../parquet/reader.ts";
import { toJson } from "../transform/json.ts";
import { LineFormatter } from "../transform/line.ts";
import { DEFAULT_TAG } from "../config/schema.ts";

/** Options for {@link decodeFile}. */
export interface DecodeOptions {
  /** ocsf (default): one JSON event per line; devo: the full syslog line. */
  format?: "ocsf" | "devo";
  /** Where output goes; defaults to standard output. */
  out?: { write(p: Uint8Array): Promise<number> };
  /** Decode with the plain reference path (row objects + serializer). Default false. */
  reference?: boolean;
}

const encoder = new TextEncoder();

/** Writes the events of `path`. */
export async function decodeFile(path: string, options: DecodeOptions = {}): Promise<number> {
  const out = options.out ?? Deno.stdout;
  let file;
  try {
    file = await bufferFromFile(path);
  } catch (e) {
    throw new CollectorError("PARQUET_INVALID", `Cannot open ${path}: ${errorMessage(e)}`, {
      cause: e,
    });
  }
  const formatter = new LineFormatter({
    hostname: Deno.hostname(),
    tag: DEFAULT_TAG,
    pullingId: String(Date.now()),
  });
  let n = 0;
  const write = async (bytes: Uint8Array) => {
    let off = 0;
    while (off < bytes.length) off += await out.write(bytes.subarray(off));
  };
  try {
    if (!options.reference) {
      const devo = options.format === "devo";
      const lines = readEventLines(file, {
        name: path,
        append: devo ? formatter.extraMembers : undefined,
        header: devo ? () => encoder.encode(formatter.header()) : undefined,
      });
      for await (const slice of lines) {
        await write(slice.bytes);
        n += slice.rows;
      }
      return n;
    }
    for await (const slice of readEvents(file, { name: path })) {
      let text = "";
      for (const e of slice.events) {
        text += options.format === "devo" ? formatter.line(toJson(e)) : toJson(e) + "\n";
      }
      await write(encoder.encode(text));
      n += slice.events.length;
    }
  } finally {
    file.close();
  }
  return n;
}
