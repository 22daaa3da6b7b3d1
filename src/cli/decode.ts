/**
 * The `decode` command: the events of a local Parquet file on standard output, one per line,
 * as OCSF JSON or as the Devo lines the collector would send.
 * @module
 */
import { CollectorError, errorMessage } from "../errors.ts";
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
  try {
    for await (const slice of readEvents(file, { name: path })) {
      let text = "";
      for (const e of slice.events) {
        text += options.format === "devo" ? formatter.line(toJson(e)) : toJson(e) + "\n";
      }
      const bytes = encoder.encode(text);
      let off = 0;
      while (off < bytes.length) off += await out.write(bytes.subarray(off));
      n += slice.events.length;
    }
  } finally {
    file.close();
  }
  return n;
}
