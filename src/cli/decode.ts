/**
 * The `decode` command: the events of a local Parquet file on standard output, one per line,
 * as OCSF JSON or as the Devo lines the collector would send. It decodes with the collector's
 * fast path; `--reference` uses the plain object path instead, to cross-check a file.
 *
 * With `--config FILE [--input NAME]`, the input's event settings are applied as the collector
 * applies them, to preview them on a local file: its obfuscation rules, `drop_events`,
 * `tag_routes` (the tag is in the Devo lines), `devo_tag_map` and `source_fields` (`@source`
 * from the file's path when it holds a lake key such as `.../aws/<SOURCE>/2.0/region=.../...`;
 * left out otherwise).
 * @module
 */
import { CollectorError, errorMessage } from "../errors.ts";
import { readEventLines } from "../parquet/json_reader.ts";
import { bufferFromFile, readEvents } from "../parquet/reader.ts";
import { toJson } from "../transform/json.ts";
import { LineFormatter } from "../transform/line.ts";
import { DEFAULT_TAG } from "../config/schema.ts";
import type { Config, InputConfig } from "../config/types.ts";
import { decodeLines } from "../parquet/decode.ts";
import { compileObfuscation } from "../transform/obfuscate.ts";
import { DROP, hasRowRules, NO_ROUTE, RowRules } from "../transform/conditions.ts";
import { withMembers } from "../transform/line.ts";
import { sourceMember } from "../source/partition.ts";
import { formatterFactory } from "./object_options.ts";

/** Options for {@link decodeFile}. */
export interface DecodeOptions {
  /** ocsf (default): one JSON event per line; devo: the full syslog line. */
  format?: "ocsf" | "devo";
  /** Where output goes; defaults to standard output. */
  out?: { write(p: Uint8Array): Promise<number> };
  /** Decode with the plain reference path (row objects + serializer). Default false. */
  reference?: boolean;
  /** Apply the event settings of this input of `config` (see the module). */
  input?: { config: Config; input: InputConfig };
}

/** The lake key in `path` (from its `aws/` or `ext/` folder), if it holds one. */
export function lakeKeyOf(path: string): string | undefined {
  const parts = path.replaceAll("\\", "/").split("/");
  for (let i = parts.length - 3; i >= 0; i--) {
    if (parts[i] !== "aws" && parts[i] !== "ext") continue;
    const key = parts.slice(i).join("/");
    if (parts.slice(i).some((p) => /^(region|accountid|eventday|eventhour)=/i.test(p))) return key;
  }
  return undefined;
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
  const settings = options.input;
  const key = lakeKeyOf(path);
  const formatter = settings
    ? formatterFactory(settings.config, settings.input)(Date.now()).forKey(key ?? path)
    : new LineFormatter({
      hostname: Deno.hostname(),
      tag: DEFAULT_TAG,
      pullingId: String(Date.now()),
    });
  const events = settings?.input.services.events;
  const obfuscator = compileObfuscation(events?.obfuscation);
  const rules = events ? { drop: events.drop_events, routes: events.tag_routes } : undefined;
  const source = events?.source_fields && key !== undefined ? sourceMember(undefined, key) : "";
  const formatterOf = (route: number) =>
    route === NO_ROUTE ? formatter : formatter.withTag(rules!.routes[route]!.tag);
  let n = 0;
  const write = async (bytes: Uint8Array) => {
    let off = 0;
    while (off < bytes.length) off += await out.write(bytes.subarray(off));
  };
  try {
    if (!options.reference) {
      const devo = options.format === "devo";
      const append = [source, devo ? formatter.extraMembers : ""].filter((m) => m !== "")
        .join(",");
      const lineOptions = {
        name: path,
        append: append === "" ? undefined : append,
        header: devo ? (route: number) => encoder.encode(formatterOf(route).header()) : undefined,
        ...(hasRowRules(rules) ? { rules } : {}),
      };
      const lines = settings
        ? decodeLines(file, { ...lineOptions, obfuscator })
        : readEventLines(file, lineOptions);
      for await (const slice of lines) {
        await write(slice.bytes);
        n += slice.lines ?? slice.rows;
      }
      return n;
    }
    const judge = hasRowRules(rules) ? new RowRules(rules) : undefined;
    for await (const slice of readEvents(file, { name: path })) {
      let text = "";
      for (const event of slice.events) {
        const verdict = judge ? judge.verdict(event) : NO_ROUTE;
        if (verdict === DROP) continue;
        const e = obfuscator ? obfuscator.apply(event) : event;
        const json = withMembers(toJson(e), source);
        text += options.format === "devo" ? formatterOf(verdict).line(json) : json + "\n";
        n++;
      }
      await write(encoder.encode(text));
    }
  } finally {
    file.close();
  }
  return n;
}
