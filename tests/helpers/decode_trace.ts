/**
 * Runs the fast path (`readEventLines`, what each decode worker runs) over a Parquet file and
 * prints the number of lines, for `tests/decode_protector_test.ts`, which starts it under V8's
 * `--trace-protector-invalidation`. Each file is read whole (its slices also obfuscated, as a
 * worker does for an input with obfuscation rules), in column windows (`groupReadBytes: 0`) and
 * in small parts with every other part skipped (as two workers share a large row group), each
 * slice freed as the collector frees it once confirmed.
 *
 * With `--detach-view` it then detaches a buffer that a `subarray` view was made of, which does
 * invalidate the protector: the test's control that the trace shows what it looks for.
 *
 * ```sh
 * deno run -A --v8-flags=--trace-protector-invalidation tests/helpers/decode_trace.ts FILE...
 * ```
 * @module
 */
import { readEventLines } from "../../src/parquet/json_reader.ts";
import { obfuscateLines } from "../../src/parquet/obfuscated_lines.ts";
import { bufferFromFile } from "../../src/parquet/reader.ts";
import { Obfuscator } from "../../src/transform/obfuscate.ts";

const obfuscator = new Obfuscator([{
  paths: ["actor.user.uid", "src_endpoint.ip"],
  method: "hash",
  hash_key: "k",
  hash_length: 12,
  value: "",
  keep_last: 0,
}]);

let lines = 0;
for (const path of Deno.args.filter((a) => !a.startsWith("--"))) {
  const file = await bufferFromFile(path);
  try {
    const runs = [
      {},
      { groupReadBytes: 0 },
      { partRows: 64, takePart: (_group: number, part: number) => part % 2 === 0 },
    ];
    for (const [i, options] of runs.entries()) {
      for await (const s of readEventLines(file, { name: path, sliceRows: 100, ...options })) {
        lines += s.rows;
        // A worker with obfuscation rules sends a rewritten copy of each slice
        // (`lines_worker.ts`); the collector frees what it was sent once its batch is settled.
        const sent = i === 0 ? obfuscateLines(s.bytes, s.rows, 0, obfuscator, "").bytes : s.bytes;
        (sent.buffer as ArrayBuffer).transfer(0);
      }
    }
  } finally {
    file.close();
  }
}
if (Deno.args.includes("--detach-view")) {
  const buffer = new ArrayBuffer(64);
  new Uint8Array(buffer).subarray(8, 16).fill(1);
  buffer.transfer(0);
}
console.log(`lines ${lines}`);
