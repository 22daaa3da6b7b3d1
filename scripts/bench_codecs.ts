/**
 * Decompression alone, for the benchmark's proposals: collects every compressed page of a
 * Parquet file (data pages v1 and v2, dictionary pages) and times decompressing all of them
 * with hyparquet-compressors' pure-JavaScript codecs and with Deno's native `node:zlib`
 * (gunzip, zstd), alternating, best of `--repeat`. Prints one JSON object.
 *
 * ```sh
 * deno run -A scripts/bench_codecs.ts FILE [--repeat 5]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { parquetMetadataAsync } from "hyparquet";
import { parquetHeader } from "hyparquet/src/column.js";
import { compressors as jsCompressors } from "hyparquet-compressors";
import { NATIVE_COMPRESSORS } from "./bench_decode.ts";

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { repeat: { type: "string", default: "5" } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    console.error("Usage: deno run -A scripts/bench_codecs.ts FILE [--repeat N]");
    return 2;
  }
  const bytes = await Deno.readFile(positionals[0]!);
  const ab = bytes.buffer as ArrayBuffer;
  const metadata = await parquetMetadataAsync(ab);
  const pages: { data: Uint8Array; size: number }[] = [];
  let codec = "";
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      const meta = chunk.meta_data!;
      codec = meta.codec;
      const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
      const end = start + Number(meta.total_compressed_size);
      const reader = { view: new DataView(ab, start, end - start), offset: 0 };
      while (reader.offset < reader.view.byteLength - 1) {
        const header = parquetHeader(reader);
        const at = start + reader.offset;
        reader.offset += header.compressed_page_size;
        let skip = 0;
        let size = header.uncompressed_page_size;
        const v2 = header.data_page_header_v2;
        if (v2) {
          if (v2.is_compressed === false) continue;
          skip = v2.repetition_levels_byte_length + v2.definition_levels_byte_length;
          size -= skip;
        }
        pages.push({ data: bytes.subarray(at + skip, at + header.compressed_page_size), size });
      }
    }
  }
  const compressed = pages.reduce((n, p) => n + p.data.length, 0);
  const uncompressed = pages.reduce((n, p) => n + p.size, 0);
  const js = jsCompressors[codec as keyof typeof jsCompressors]!;
  const native = NATIVE_COMPRESSORS[codec as keyof typeof NATIVE_COMPRESSORS]!;
  const time = (fn: (input: Uint8Array, size: number) => Uint8Array) => {
    const t = performance.now();
    let out = 0;
    for (const p of pages) out += fn(p.data, p.size).length;
    if (out !== uncompressed) {
      throw new Error(`decompressed ${out} bytes, expected ${uncompressed}`);
    }
    return (performance.now() - t) / 1000;
  };
  let bestJs = Infinity;
  let bestNative = Infinity;
  for (let i = 0; i < Number(values.repeat); i++) {
    bestJs = Math.min(bestJs, time(js));
    bestNative = Math.min(bestNative, time(native));
  }
  console.log(JSON.stringify({
    file: positionals[0],
    codec,
    pages: pages.length,
    compressedBytes: compressed,
    uncompressedBytes: uncompressed,
    jsSeconds: bestJs,
    nativeSeconds: bestNative,
    speedup: bestJs / bestNative,
  }));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
