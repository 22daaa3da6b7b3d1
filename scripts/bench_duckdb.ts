/**
 * The DuckDB anchor of the benchmark, meant to run in its own process: one thread converts a
 * Parquet file to newline-delimited JSON (`COPY (SELECT * FROM read_parquet(f)) TO out
 * (FORMAT json)`) and the script prints one JSON object with the rows, the time, the bytes
 * written, the process's peak RSS (`VmHWM`) and its CPU seconds (user + system, start-up included:
 * the benchmark subtracts a run on a tiny file). The output goes to a scratch file that is
 * removed afterwards (its size is the output size); `--out /dev/null` discards it instead.
 *
 * ```sh
 * deno run -A scripts/bench_duckdb.ts FILE [--out PATH] [--threads 1]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
// Development-only dependency, named in full here so that `deno task` never installs it.
import { DuckDBInstance } from "npm:@duckdb/node-api@1.5.6-r.1";
import { procMemory } from "./bench_decode.ts";

/** What one DuckDB measurement printed. */
export interface DuckDbResult {
  file: string;
  rows: number;
  /** Bytes of JSON written (0 when the output was /dev/null). */
  bytes: number;
  seconds: number;
  peakRssBytes: number;
  /** User + system CPU seconds of the whole process, from its start to the end of the copy. */
  cpuSeconds: number;
  version: string;
}

/** User + system CPU seconds this process used so far (`/proc/self/stat`, USER_HZ 100). */
export function selfCpuSeconds(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { out: { type: "string" }, threads: { type: "string", default: "1" } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    console.error("Usage: deno run -A scripts/bench_duckdb.ts FILE [--out PATH] [--threads N]");
    return 2;
  }
  const file = positionals[0]!;
  const out = values.out ?? `${file}.duckdb-${Deno.pid}.json`;
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  await conn.run(`SET threads=${Number(values.threads)}`);
  const version = String((await conn.runAndReadAll("SELECT version()")).getRows()[0]![0]);
  const started = performance.now();
  const result = await conn.run(
    `COPY (SELECT * FROM read_parquet(${quote(file)})) TO ${quote(out)} (FORMAT json)`,
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = selfCpuSeconds();
  const rows = Number(result.rowsChanged);
  let bytes = 0;
  if (values.out === undefined) {
    bytes = (await Deno.stat(out)).size;
    await Deno.remove(out);
  }
  conn.closeSync();
  const r: DuckDbResult = {
    file,
    rows,
    bytes,
    seconds,
    peakRssBytes: procMemory().peakRssBytes,
    cpuSeconds,
    version,
  };
  console.log(JSON.stringify(r));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
