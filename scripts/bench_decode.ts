/**
 * One decode measurement, meant to run in its own process (so its peak RSS is its own): reads a
 * local Parquet file through the collector's own code path and discards the output, then prints
 * one JSON object with the counts, the time and the process's peak RSS (`VmHWM`).
 *
 * `--stage` stops the path early, so the cost of each stage can be had by difference:
 *
 * - `columns` — hyparquet reads and decodes every column chunk (decompression, page decoding,
 *   repetition/definition levels) of each row group, with no row assembly;
 * - `rows` — `parquetReadObjects` per row group, as `readEvents` calls it: columns plus struct
 *   assembly and the transpose to row objects;
 * - `events` — `readEvents`: rows plus the OCSF shape conversion (`parquet/shape.ts`);
 * - `json` — events plus `toJson`;
 * - `lines` — the collector's object path (`pipeline/object_processor.ts` when events are
 *   transformed, e.g. obfuscated): `toJson`, `LineFormatter.line` with one header per slice,
 *   text gathered into 256 KiB chunks and encoded to UTF-8 with `TextEncoder`; chunks dropped;
 * - `objects` — the collector's object path as it runs now (`object_processor.ts` with an event
 *   transform, e.g. obfuscation): the fast path's lines parsed back into objects
 *   (`parquet/event_objects.ts`), then `toJson` and `LineFormatter.line` as in `lines`;
 * - `fast` (default) — the collector's default path (`object_processor.ts` without an event
 *   transform): `readEventLines` (`parquet/json_reader.ts`) writes the lines' bytes straight
 *   from the column data, with the formatter's header and extra members, in 256 KiB slices.
 *
 * `--obfuscate fast|rewrite` gives the `fast` stage {@link BENCH_RULES}: applied as the lines are
 * written (`fast`, `parquet/obfuscated_plan.ts`, what the collector does), or by parsing each line
 * back and serializing it again (`rewrite`, `parquet/obfuscated_lines.ts` with `maxEventBytes`).
 *
 * ```sh
 * deno run -A scripts/bench_decode.ts FILE [--stage fast] [--slice-rows 1000] [--max-rows N] \
 *   [--codecs js|native] [--obfuscate fast|rewrite]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { parquetRead, parquetReadObjects } from "hyparquet";
import type { Compressors } from "hyparquet";
import { compressors as jsCompressors } from "hyparquet-compressors";
import { readEventObjects } from "../src/parquet/event_objects.ts";
import { readEventLines } from "../src/parquet/json_reader.ts";
import { bufferFromFile, readEvents, readMetadata } from "../src/parquet/reader.ts";
import { toJson } from "../src/transform/json.ts";
import { LineFormatter } from "../src/transform/line.ts";
import { TIMESTAMP_PARSERS } from "../src/transform/values.ts";
import { Obfuscator } from "../src/transform/obfuscate.ts";
import type { ObfuscationRule } from "../src/config/types.ts";
import { rewrittenLines } from "../src/parquet/obfuscated_lines.ts";

/** The rules of `--obfuscate`: one path hashed, one IPv4 pattern masked in every string. */
export const BENCH_RULES: ObfuscationRule[] = [
  {
    paths: ["actor.user.name"],
    method: "hash",
    hash_key: "bench-hash-key-0123456789",
    hash_length: 64,
    value: "****",
    keep_last: 4,
  },
  {
    string_patterns: ["\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b"],
    method: "mask",
    value: "x.x.x.x",
    hash_length: 64,
    keep_last: 4,
  },
];

/**
 * Native decompressors (Deno's `node:zlib`: zlib and zstd in Rust/C) in place of the pure
 * JavaScript ones of hyparquet-compressors, for the `columns` and `rows` stages
 * (`--codecs native`); `readEvents` takes no compressors, so later stages always use the JS ones.
 */
export const NATIVE_COMPRESSORS: Compressors = {
  ...jsCompressors,
  GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)),
  ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)),
};

/** Stages of the decode path, in order. */
export const STAGES = ["columns", "rows", "events", "json", "lines", "objects", "fast"] as const;
/** A stage of {@link STAGES}. */
export type Stage = typeof STAGES[number];

/** What one decode measurement printed. */
export interface DecodeResult {
  file: string;
  stage: Stage;
  events: number;
  /** UTF-8 bytes of output (lines stage: Devo lines; json stage: JSON text length). */
  bytes: number;
  seconds: number;
  /** Peak resident set size of the process, in bytes. */
  peakRssBytes: number;
  /** Reads (`AsyncBuffer.slice` calls) made on the file: what would be S3 range requests. */
  reads: number;
  /** Bytes those reads returned. */
  readBytes: number;
  /**
   * Largest V8 heap (`heapTotal`) and memory outside it (`external`: ArrayBuffers such as
   * decompressed pages and file reads) seen between slices, in bytes (`Deno.memoryUsage()`).
   */
  maxHeapBytes: number;
  maxExternalBytes: number;
}

/** Peak and current RSS of this process from `/proc/self/status`, in bytes. */
export function procMemory(): { peakRssBytes: number; rssBytes: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { peakRssBytes: kb("VmHWM") * 1024, rssBytes: kb("VmRSS") * 1024 };
}

async function measure(
  path: string,
  stage: Stage,
  sliceRows: number,
  maxRows = Infinity,
  compressors: Compressors = jsCompressors,
  obfuscate?: "fast" | "rewrite",
): Promise<DecodeResult> {
  const inner = await bufferFromFile(path);
  let reads = 0;
  let readBytes = 0;
  let maxHeapBytes = 0;
  let maxExternalBytes = 0;
  const sample = () => {
    const m = Deno.memoryUsage();
    if (m.heapTotal > maxHeapBytes) maxHeapBytes = m.heapTotal;
    if (m.external > maxExternalBytes) maxExternalBytes = m.external;
  };
  const file = {
    byteLength: inner.byteLength,
    async slice(start: number, end?: number) {
      const b = await inner.slice(start, end);
      reads++;
      readBytes += b.byteLength;
      return b;
    },
    close: () => inner.close(),
  };
  const started = performance.now();
  let events = 0;
  let bytes = 0;
  try {
    if (stage === "columns" || stage === "rows") {
      const metadata = await readMetadata(file, path);
      let groupStart = 0;
      for (const group of metadata.row_groups) {
        const groupEnd = groupStart + Number(group.num_rows);
        const options = {
          file,
          metadata,
          rowStart: groupStart,
          rowEnd: groupEnd,
          compressors,
          parsers: TIMESTAMP_PARSERS,
        };
        if (stage === "columns") {
          await parquetRead(options); // no onChunk/onComplete: columns decoded, not assembled
          events += groupEnd - groupStart;
        } else {
          const rows = await parquetReadObjects(options);
          events += rows.length;
        }
        groupStart = groupEnd;
        if (events >= maxRows) break;
      }
    } else if (stage === "events") {
      for await (const slice of readEvents(file, { sliceRows, name: path })) {
        events += slice.events.length;
        if (events >= maxRows) break;
      }
    } else if (stage === "json") {
      for await (const slice of readEvents(file, { sliceRows, name: path })) {
        for (const event of slice.events) bytes += toJson(event).length;
        events += slice.events.length;
        if (events >= maxRows) break;
      }
    } else if (stage === "fast") {
      // Mirrors processObject's fast path: the same formatter, 256 KiB slices of line bytes.
      const formatter = new LineFormatter({
        hostname: "bench-host",
        tag: "cloud.aws.amazon.security_lake.events",
        pullingId: String(Date.now()),
      });
      const encoder = new TextEncoder();
      const options = {
        name: path,
        append: formatter.extraMembers,
        header: () => encoder.encode(formatter.header()),
        sliceBytes: 256 * 1024,
        sliceRows,
      };
      const obfuscator = obfuscate && new Obfuscator(BENCH_RULES);
      const lines = !obfuscator
        ? readEventLines(file, options)
        : obfuscate === "fast"
        ? readEventLines(file, { ...options, obfuscator })
        : rewrittenLines(file, { ...options, obfuscator });
      for await (const slice of lines) {
        sample();
        bytes += slice.bytes.length;
        events += slice.rows;
        if (events >= maxRows) break;
      }
    } else {
      // Mirrors processObject: the same formatter options as the collector's defaults
      // (add_pulling_id true), the same 256 KiB chunking and UTF-8 encoding.
      const formatter = new LineFormatter({
        hostname: "bench-host",
        tag: "cloud.aws.amazon.security_lake.events",
        pullingId: String(Date.now()),
      });
      const encoder = new TextEncoder();
      const chunkBytes = 256 * 1024;
      let text = "";
      const send = () => {
        if (text === "") return;
        bytes += encoder.encode(text).length;
        text = "";
      };
      const slices = stage === "objects"
        ? readEventObjects(file, { sliceRows, name: path })
        : readEvents(file, { sliceRows, name: path });
      for await (const slice of slices) {
        sample();
        const header = formatter.header();
        for (const event of slice.events) {
          text += formatter.line(toJson(event), header);
          if (text.length >= chunkBytes) send();
        }
        events += slice.events.length;
        if (events >= maxRows) break;
      }
      send();
    }
  } finally {
    file.close();
  }
  const seconds = (performance.now() - started) / 1000;
  sample();
  return {
    file: path,
    stage,
    events,
    bytes,
    seconds,
    ...procMemory(),
    reads,
    readBytes,
    maxHeapBytes,
    maxExternalBytes,
  };
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      stage: { type: "string", default: "fast" },
      "slice-rows": { type: "string", default: "1000" },
      "max-rows": { type: "string" },
      codecs: { type: "string", default: "js" },
      obfuscate: { type: "string" },
    },
    allowPositionals: true,
  });
  const stage = values.stage as Stage;
  const obfuscate = values.obfuscate as "fast" | "rewrite" | undefined;
  if (
    positionals.length !== 1 || !STAGES.includes(stage) ||
    (obfuscate !== undefined && (stage !== "fast" || !["fast", "rewrite"].includes(obfuscate)))
  ) {
    console.error(
      `Usage: deno run -A scripts/bench_decode.ts FILE [--stage ${STAGES.join("|")}] ` +
        `[--slice-rows N] [--obfuscate fast|rewrite (stage fast)]`,
    );
    return 2;
  }
  const maxRows = values["max-rows"] ? Number(values["max-rows"]) : Infinity;
  const codecs = values.codecs === "native" ? NATIVE_COMPRESSORS : jsCompressors;
  const result = await measure(
    positionals[0]!,
    stage,
    Number(values["slice-rows"]),
    maxRows,
    codecs,
    obfuscate,
  );
  console.log(JSON.stringify(result));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
