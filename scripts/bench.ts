/**
 * The collector's benchmark: `deno task bench [--quick] [--slow-output] ...`.
 *
 * Inputs are generated deterministically by `tests/lib/ocsf_fixtures.ts` and cached under
 * `.tmp/bench/` (see `scripts/bench_inputs.ts`). For each file it measures, each in its own
 * subprocess so that peak RSS is that measurement's alone:
 *
 * - **decode** — the collector's default path on one thread (`readEventLines`: Devo line bytes
 *   straight from the column data), as `pipeline/object_processor.ts` runs it, output discarded
 *   (`scripts/bench_decode.ts --stage fast`);
 * - **object path** — the work events with obfuscation rules take, on one thread: those lines
 *   parsed back into objects (`readEventObjects`), then `toJson` + `LineFormatter.line`
 *   (`--stage objects`); the collector does it in its decode workers, with the rules applied
 *   before `toJson` (`--obfuscate` gives the pipeline rules);
 * - **pipeline** — the real collector (`main.ts run --config X --once`, under `-P=seclake`,
 *   wrapped in `/usr/bin/time -v`) against moto (S3 + SQS, one EventBridge notification) and a
 *   mutual-TLS syslog receiver in its own process (`scripts/bench_receiver.py`, Python's
 *   OpenSSL, the cheapest on the shared CPUs; `--receiver deno` runs `scripts/bench_receiver.ts`
 *   instead), timed from the collector's start until the receiver answered the end of the last
 *   batch (every line received and confirmed); the collector must then exit 0 with the queue
 *   empty;
 * - **slow pipeline** (`--slow-output`) — the same, with the receiver down for the first
 *   seconds and then reading at a limited rate;
 * - **DuckDB** — `SET threads=1; COPY (SELECT * FROM read_parquet(f)) TO '/dev/null'
 *   (FORMAT json)` (`scripts/bench_duckdb.ts`), the anchor the rates are compared to.
 *
 * - **CPU per event** (`scripts/bench_efficiency.ts`) — the collector's user + system CPU seconds
 *   (the process, decode workers included) and DuckDB's, each less a run on a tiny file of the
 *   same shape (`--baseline-rows`, 20 by default), per million events, and their ratio (the
 *   efficiency); with `--obfuscation-ratio` the rate with obfuscation rules, with
 *   `--memory-limit` the peak RSS and rate under `globals.memory_limit`, with `--profile` where
 *   the collector's CPU goes (V8 profiles of every isolate, by category).
 *
 * It prints one Markdown table, then one line per target, and writes every number to
 * `.tmp/bench/results-*.json`. Targets (reported, not asserted; `efficiencyTargets`): CPU per
 * event against DuckDB's, the rate with obfuscation rules, peak and rate under a memory budget;
 * {@link references} adds the wall rate beside DuckDB's and the peak with the default settings.
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RUN_ENV, V8_FLAGS_OPTION } from "./compile.ts";
import { makeCerts } from "../tests/helpers/certs.ts";
import type { TestCerts } from "../tests/helpers/certs.ts";
import { createTestLake, eventBridgeBody, TEST_CREDENTIALS } from "../tests/helpers/lake.ts";
import type { TestLake } from "../tests/helpers/lake.ts";
import { MOTO_CA_FILE, motoPython, startMoto } from "../tests/helpers/moto.ts";
import type { DecodeResult, Stage } from "./bench_decode.ts";
import type { DuckDbResult } from "./bench_duckdb.ts";
import { BENCH_SEED, benchPlan, ensureInputs } from "./bench_inputs.ts";
import {
  efficiencyTable,
  efficiencyTargets,
  OBFUSCATION_RULES,
  profileTable,
  TARGET_FILES,
} from "./bench_efficiency.ts";
import type { BenchFile } from "./bench_inputs.ts";
import type { ParquetLayout } from "../tests/lib/ocsf_fixtures.ts";
import type { ReceiverStatus } from "./bench_receiver.ts";

const REPO = new URL("../", import.meta.url).pathname;
const SCRIPTS = new URL("./", import.meta.url).pathname;
const MB = 1024 * 1024;
const USAGE = `Usage: deno task bench [options]
  --quick             200,000 rows in all (CloudTrail ZSTD rg20k + VPC GZIP, one 100k group)
  --slow-output       also run the pipeline with the receiver down for --down-ms, then slow
  --down-ms N         receiver down time in slow mode (default 5000)
  --rate-mb N         receiver read rate in slow mode, MB/s (default 8)
  --rows N            rows per file (default 1,000,000; quick 100,000)
  --layout L          avro (default, Security Lake native) or standard
  --only TEXT         only files whose label contains TEXT (e.g. "cloudtrail zstd")
  --source S          pipeline input: s3 (default; moto S3 + SQS) or directory (the collector's
                      local directory input: the same pipeline without S3, to isolate the output)
  --receiver R        the TLS receiver: python (default; scripts/bench_receiver.py, OpenSSL) or
                      deno (scripts/bench_receiver.ts, node:tls; ~3x its CPU)
  --skip LIST         comma-separated: decode, object, pipeline, duckdb
  --stages            also time each decode stage (columns, rows, events, json)
  --repeat N          decode, DuckDB and pipeline runs per file, the fastest is kept; the
                      pipeline's peak RSS is the highest of its runs; the runs of decode,
                      the object path, DuckDB and the pipeline (without and with rules or a
                      limit) take turns (default 1)
  --cache-dir DIR     where inputs are cached (default .tmp/bench)
  --regenerate        regenerate the inputs even when cached
  --generate-only     make the inputs and stop
  --native-codecs     run the decode and collector processes with GZIP and ZSTD from node:zlib
                      (an import map sends hyparquet-compressors to bench_native_compressors.ts)
  --decode-threads N  the collector's globals.decode_threads (default: the collector's default)
  --obfuscate         the pipeline's input has obfuscation rules (one path hashed, an IPv4
                      pattern masked in every string), so its events are obfuscated
  --drop-quarter      the pipeline's input drops the events of one region with drop_events
                      (cloud.region us-east-1: a quarter of the CloudTrail-like rows); compare
                      the collector's CPU per input event with a run without it
  --batches-in-flight N  the output's batches_in_flight (default: the collector's default)
  --deno-flags="..."  extra deno run flags for the decode and collector processes, after the
                      collector's own V8 flags (scripts/compile.ts V8_FLAGS; a --v8-flags here
                      replaces them), e.g. "--v8-flags=--max-semi-space-size=2" or
                      "--cpu-prof --cpu-prof-dir=DIR"
  --row-groups LIST  CloudTrail ZSTD files only, one per row-group size in LIST (comma-separated,
                      e.g. 20000,131072), of --rows rows each
  --baseline-rows N   rows of the tiny file of the same shape whose pipeline and DuckDB runs are
                      subtracted for the marginal CPU per event (default 20; 0: no baseline runs)
  --obfuscation-ratio also run the pipeline with obfuscation rules (one path hashed, one IPv4
                      pattern masked) and report its rate relative to the rate without
  --memory-limit SIZE also run the pipeline with globals.memory_limit SIZE (e.g. 256MiB) and
                      report its peak RSS and its rate relative to the rate without a limit
  --profile           also run the pipeline under V8's CPU profiler (--cpu-prof, every isolate)
                      and print where the collector's CPU goes, by category (with
                      --obfuscation-ratio, the pipeline with those rules too)
  --malloc-arena-max N  MALLOC_ARENA_MAX for the decode and collector processes (default
                      ${RUN_ENV.MALLOC_ARENA_MAX}, as the deployment files set it: scripts/compile.ts
                      RUN_ENV); 0 sets nothing: glibc's default, 8 arenas per core, unless the
                      environment sets it`;

/** Everything measured for one file. */
interface FileResult {
  label: string;
  rows: number;
  fileBytes: number;
  generatedSeconds: number;
  /** The collector's default (fast) path: `readEventLines`. */
  decode?: DecodeResult;
  /** The object path (`readEventObjects` + `toJson` + `LineFormatter.line`): obfuscation's work. */
  objectPath?: DecodeResult;
  stages?: Partial<Record<Stage, DecodeResult>>;
  pipeline?: PipelineResult;
  slow?: PipelineResult;
  duckdb?: DuckDbResult;
  /** Rows of the tiny file whose runs are subtracted for the marginal CPU. */
  baselineRows?: number;
  baselinePipeline?: PipelineResult;
  baselineDuckdb?: DuckDbResult;
  /** The pipeline with {@link OBFUSCATION_RULES} (`--obfuscation-ratio`). */
  obfuscated?: PipelineResult;
  /** The pipeline with `globals.memory_limit` (`--memory-limit`). */
  limited?: PipelineResult;
  /** The slow pipeline (`--slow-output`) with `globals.memory_limit`. */
  limitedSlow?: PipelineResult;
  memoryLimit?: string;
  /** Where the collector's CPU went (`--profile`): the category table. */
  profile?: string;
}

/** One run of the collector process. */
export interface PipelineResult {
  ok: boolean;
  /** Events filtered out by drop_events (`--drop-quarter`). */
  filtered: number;
  /**
   * Collector start to the receiver's answer to the end of the last batch: every line received
   * and confirmed (the rate's time). The collector's exit comes later (`exitSeconds`): `--once`
   * polls the queue once more to see it empty.
   */
  seconds: number;
  /** Collector start to exit. */
  exitSeconds: number;
  /** First to last byte at the receiver. */
  receiveSeconds: number;
  lines: number;
  bytes: number;
  connections: number;
  peakRssBytes: number;
  exitCode: number;
  /** CPU seconds (user + system) of the collector, of moto and of the receiver during the run. */
  cpu: { collector: number; moto: number; receiver: number };
  /**
   * The collector's main (JavaScript) thread: seconds on CPU and seconds runnable but waiting
   * for a CPU (`/proc/PID/schedstat`), sampled every 200 ms; wall − run − wait is time blocked
   * on I/O (S3 reads, output confirmations, timers).
   */
  mainThread: { runSeconds: number; waitSeconds: number };
  error?: string;
}

function log(msg: string) {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        quick: { type: "boolean", default: false },
        "slow-output": { type: "boolean", default: false },
        "down-ms": { type: "string", default: "5000" },
        "rate-mb": { type: "string", default: "8" },
        rows: { type: "string" },
        layout: { type: "string", default: "avro" },
        only: { type: "string" },
        skip: { type: "string", default: "" },
        stages: { type: "boolean", default: false },
        repeat: { type: "string", default: "1" },
        "cache-dir": { type: "string", default: join(REPO, ".tmp/bench") },
        regenerate: { type: "boolean", default: false },
        "generate-only": { type: "boolean", default: false },
        "deno-flags": { type: "string", default: "" },
        source: { type: "string", default: "s3" },
        receiver: { type: "string", default: "python" },
        "native-codecs": { type: "boolean", default: false },
        "decode-threads": { type: "string" },
        obfuscate: { type: "boolean", default: false },
        "drop-quarter": { type: "boolean", default: false },
        "batches-in-flight": { type: "string" },
        "malloc-arena-max": { type: "string", default: RUN_ENV.MALLOC_ARENA_MAX },
        "row-groups": { type: "string" },
        "baseline-rows": { type: "string", default: "20" },
        "obfuscation-ratio": { type: "boolean", default: false },
        "memory-limit": { type: "string" },
        profile: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const skip = new Set(values.skip.split(",").map((s) => s.trim()).filter(Boolean));
  const repeat = Math.max(1, Number(values.repeat));
  denoFlags = values["deno-flags"].split(/\s+/).filter(Boolean);
  if (values.source !== "s3" && values.source !== "directory") {
    console.error(`--source must be s3 or directory, got ${values.source}\n${USAGE}`);
    return 2;
  }
  source = values.source;
  if (values.receiver !== "python" && values.receiver !== "deno") {
    console.error(`--receiver must be python or deno, got ${values.receiver}\n${USAGE}`);
    return 2;
  }
  receiverKind = values.receiver;
  decodeThreads = values["decode-threads"];
  obfuscate = values.obfuscate;
  dropQuarter = values["drop-quarter"];
  batchesInFlight = values["batches-in-flight"];
  if (!/^\d+$/.test(values["malloc-arena-max"])) {
    console.error(`--malloc-arena-max must be a whole number\n${USAGE}`);
    return 2;
  }
  measuredEnv = values["malloc-arena-max"] === "0"
    ? {}
    : { MALLOC_ARENA_MAX: values["malloc-arena-max"] };
  if (values["native-codecs"]) {
    denoFlags.push(`--import-map=${await nativeCodecsImportMap(values["cache-dir"])}`);
  }
  const started = performance.now();

  const baselineRows = Number(values["baseline-rows"]);
  if (!(Number.isInteger(baselineRows) && baselineRows >= 0)) {
    console.error(`--baseline-rows must be a whole number\n${USAGE}`);
    return 2;
  }
  let specs = benchPlan({
    quick: values.quick,
    rows: values.rows ? Number(values.rows) : undefined,
    layout: values.layout as ParquetLayout,
  });
  if (values["row-groups"]) {
    const sizes = values["row-groups"].split(",").map((n) => Number(n.trim()));
    if (!sizes.every((n) => Number.isInteger(n) && n > 0)) {
      console.error(`--row-groups must list whole numbers\n${USAGE}`);
      return 2;
    }
    const rows = values.rows ? Number(values.rows) : values.quick ? 100_000 : 1_000_000;
    specs = sizes.map((rowGroupSize) => ({
      classUid: 6003,
      rows,
      rowGroupSize,
      codec: "ZSTD",
      layout: values.layout as ParquetLayout,
      seed: BENCH_SEED,
    }));
  }
  const generationStart = performance.now();
  let files = await ensureInputs(values["cache-dir"], specs, {
    regenerate: values.regenerate,
    log,
  });
  const generationSeconds = (performance.now() - generationStart) / 1000;
  if (values.only) files = files.filter((f) => f.label.includes(values.only!));
  specs = files.map((f) => f.spec);
  // The tiny files of the same shapes, whose runs are subtracted (start-up is not counted).
  const tiny = baselineRows > 0 && baselineRows < Math.min(...specs.map((sp) => sp.rows))
    ? await ensureInputs(values["cache-dir"], specs.map((sp) => ({ ...sp, rows: baselineRows })), {
      regenerate: values.regenerate,
      log,
    })
    : undefined;
  log(
    `inputs ready in ${generationSeconds.toFixed(1)} s (${
      files.filter((f) => f.cached).length
    } of ${files.length} cached)`,
  );
  if (values["generate-only"]) return 0;

  const results: FileResult[] = files.map((f) => ({
    label: f.label,
    rows: f.spec.rows,
    fileBytes: f.bytes,
    generatedSeconds: f.generatedSeconds,
    ...(tiny ? { baselineRows } : {}),
  }));

  /** One run of each one-thread measurement asked for, of the file at `path`; the fastest kept. */
  const oneThreadRound = async (r: FileResult, path: string) => {
    if (!skip.has("decode")) r.decode = fastest(r.decode, await runDecode(path, "fast"));
    if (!skip.has("object")) r.objectPath = fastest(r.objectPath, await runDecode(path, "objects"));
    if (!skip.has("duckdb")) r.duckdb = fastest(r.duckdb, await runDuckDb(path));
  };
  /** Logs the one-thread measurements of file `i` and measures DuckDB's baseline. */
  const oneThreadDone = async (r: FileResult, i: number) => {
    if (r.decode) {
      log(
        `${r.label}: decode ${rate(r.rows, r.decode.seconds)} ev/s, peak ${
          mb(r.decode.peakRssBytes)
        }, ${r.decode.reads} reads`,
      );
    }
    if (r.objectPath) {
      log(
        `${r.label}: object path ${rate(r.rows, r.objectPath.seconds)} ev/s, peak ${
          mb(r.objectPath.peakRssBytes)
        }, ${r.objectPath.reads} reads`,
      );
    }
    if (!r.duckdb) return;
    log(
      `${r.label}: duckdb ${rate(r.rows, r.duckdb.seconds)} rows/s, peak ${
        mb(r.duckdb.peakRssBytes)
      }, CPU ${r.duckdb.cpuSeconds} s`,
    );
    if (tiny) {
      r.baselineDuckdb = await best(repeat, () => runDuckDb(tiny[i]!.path));
      log(`${r.label}: duckdb on ${baselineRows} rows, CPU ${r.baselineDuckdb.cpuSeconds} s`);
    }
  };

  // The decode stages first, alone on the machine. Without the pipeline, the one-thread
  // measurements here too, taking turns; with it, they take turns with the pipeline's runs
  // (below), so that every ratio between them compares runs made under the same conditions.
  for (const [i, f] of files.entries()) {
    const r = results[i]!;
    if (!skip.has("decode") && values.stages) {
      r.stages = {};
      for (const stage of ["columns", "rows", "events", "json"] as const) {
        r.stages[stage] = await best(repeat, () => runDecode(f.path, stage));
        log(
          `${f.label}: stage ${stage} ${r.stages[stage]!.seconds.toFixed(2)} s, ` +
            `peak ${mb(r.stages[stage]!.peakRssBytes)}`,
        );
      }
    }
    if (skip.has("pipeline")) {
      for (let round = 0; round < repeat; round++) await oneThreadRound(r, f.path);
      await oneThreadDone(r, i);
    }
  }

  if (!skip.has("pipeline")) {
    const env = await startPipelineEnv(values["cache-dir"]);
    try {
      for (const [i, f] of files.entries()) {
        const r = results[i]!;
        // The one-thread measurements and the pipeline without and with rules or a limit, run in
        // turn (a round of each, then the next round), so that the machine's speed drifting
        // between runs weighs on every ratio alike.
        const plain = new Fastest();
        const obfuscated = values["obfuscation-ratio"] ? new Fastest() : undefined;
        const limited = values["memory-limit"] ? new Fastest() : undefined;
        const memoryLimit = values["memory-limit"];
        for (let round = 0; round < repeat; round++) {
          await oneThreadRound(r, f.path);
          await plain.run(() => runPipeline(env, f, {}));
          await obfuscated?.run(() => runPipeline(env, f, {}, { obfuscation: OBFUSCATION_RULES }));
          await limited?.run(() => runPipeline(env, f, {}, { memoryLimit }));
        }
        await oneThreadDone(r, i);
        r.pipeline = plain.result;
        log(`${f.label}: ${pipelineNote("pipeline", r.rows, r.pipeline)}`);
        if (obfuscated) {
          r.obfuscated = obfuscated.result;
          log(
            `${f.label}: ${pipelineNote("pipeline with obfuscation rules", r.rows, r.obfuscated)}`,
          );
        }
        if (tiny) {
          r.baselinePipeline = await bestPipeline(repeat, () => runPipeline(env, tiny[i]!, {}));
          log(
            `${f.label}: ${
              pipelineNote(`pipeline on ${baselineRows} rows`, baselineRows, r.baselinePipeline)
            }`,
          );
        }
        if (limited) {
          r.memoryLimit = memoryLimit;
          r.limited = limited.result;
          log(
            `${f.label}: ${
              pipelineNote(`pipeline with memory_limit ${r.memoryLimit}`, r.rows, r.limited)
            }`,
          );
          if (values["slow-output"]) {
            r.limitedSlow = await runPipeline(env, f, {
              downMs: Number(values["down-ms"]),
              rateBytes: Number(values["rate-mb"]) * 1e6,
            }, { memoryLimit: values["memory-limit"] });
            log(
              `${f.label}: ${
                pipelineNote(
                  `slow pipeline with memory_limit ${r.memoryLimit}`,
                  r.rows,
                  r.limitedSlow,
                )
              }`,
            );
          }
        }
        if (values.profile) {
          // The pipeline, and with --obfuscation-ratio the pipeline with those rules too.
          const kinds = [
            { what: "", extra: {} },
            ...(values["obfuscation-ratio"]
              ? [{ what: " with obfuscation rules", extra: { obfuscation: OBFUSCATION_RULES } }]
              : []),
          ];
          const tables: string[] = [];
          for (const k of kinds) {
            const dir = await Deno.makeTempDir({ prefix: "seclake-bench-prof-" });
            const run = await runPipeline(env, f, {}, { ...k.extra, profileDir: dir });
            log(`${f.label}: ${pipelineNote(`profiled pipeline${k.what}`, r.rows, run)}`);
            tables.push(await profileTable(dir, `${f.label}${k.what}`, run.cpu.collector));
            await Deno.remove(dir, { recursive: true }).catch(() => {});
          }
          r.profile = tables.join("\n\n");
        }
        if (values["slow-output"]) {
          r.slow = await runPipeline(env, f, {
            downMs: Number(values["down-ms"]),
            rateBytes: Number(values["rate-mb"]) * 1e6,
          });
          log(`${f.label}: ${pipelineNote("slow pipeline", r.rows, r.slow)}`);
        }
      }
    } finally {
      await env.stop();
    }
  }

  const totalSeconds = (performance.now() - started) / 1000;
  console.log(table(results, values["slow-output"]));
  if (values.stages) console.log("\n" + stageTable(results));
  if (results.some((r) => r.pipeline || r.duckdb)) {
    console.log("\n" + efficiencyTable(results));
  }
  for (const r of results) if (r.profile) console.log("\n" + r.profile);
  console.log("\n" + [...references(results), ...efficiencyTargets(results)].join("\n"));
  console.log(
    `\n${files.length} files, ${
      results.reduce((n, r) => n + r.rows, 0).toLocaleString("en-US")
    } rows; inputs ${generationSeconds.toFixed(1)} s (generation when not cached: ${
      files.reduce((s, f) => s + f.generatedSeconds, 0).toFixed(0)
    } s of generator time); bench ${totalSeconds.toFixed(1)} s. ` +
      `Pipeline input: ${source === "s3" ? "moto S3 + SQS" : "local directory"}${
        obfuscate ? ", with obfuscation rules (--obfuscate)" : ""
      }${dropQuarter ? `, dropping events with ${DROP_QUARTER} (--drop-quarter)` : ""}. ` +
      `Slow output: receiver down ${values["down-ms"]} ms, then ${values["rate-mb"]} MB/s. ` +
      `MALLOC_ARENA_MAX of decode and collector: ${
        measuredEnv.MALLOC_ARENA_MAX ?? Deno.env.get("MALLOC_ARENA_MAX") ?? "unset"
      }.`,
  );
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const out = join(values["cache-dir"], `results-${stamp}.json`);
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        args,
        deno: Deno.version,
        git: await gitState(),
        source,
        measuredEnv,
        nativeCodecs: values["native-codecs"],
        cpus: navigator.hardwareConcurrency,
        generationSeconds,
        totalSeconds,
        results,
      },
      null,
      2,
    ) + "\n",
  );
  log(`results written to ${out}`);
  const failed = results.some((r) => r.pipeline?.ok === false || r.slow?.ok === false);
  return failed ? 1 : 0;
}

/**
 * Writes an import map equal to `deno.json`'s imports except that `hyparquet-compressors` is
 * `bench_native_compressors.ts` (native GZIP and ZSTD); returns its path.
 */
async function nativeCodecsImportMap(dir: string): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  const imports: Record<string, string> = {};
  for (const [name, target] of Object.entries(config.imports as Record<string, string>)) {
    imports[name] = target;
    // deno.json lets `pkg/sub/path.js` through for an `npm:` entry; an import map needs `pkg/`.
    if (target.startsWith("npm:")) imports[`${name}/`] = `npm:/${target.slice(4)}/`;
  }
  imports["hyparquet-compressors"] = new URL("./bench_native_compressors.ts", import.meta.url).href;
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, "import_map.native.json");
  await Deno.writeTextFile(path, JSON.stringify({ imports }, null, 2) + "\n");
  return path;
}

/** The commit measured and the files of `src/` that differ from it (others edit as we run). */
async function gitState(): Promise<{ head: string; dirty: string[] }> {
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", { args, cwd: REPO, stdout: "piped", stderr: "null" })
      .output();
    return new TextDecoder().decode(out.stdout).trim();
  };
  try {
    const head = await git("rev-parse", "--short", "HEAD");
    const dirty = (await git("status", "--porcelain", "--", "src", "main.ts")).split("\n")
      .filter(Boolean);
    return { head, dirty };
  } catch {
    return { head: "unknown", dirty: [] };
  }
}

// ---------------------------------------------------------------------------------------------
// Subprocess measurements
// ---------------------------------------------------------------------------------------------

/**
 * The fastest of the pipeline runs given to {@link run}, with the highest peak RSS of them all
 * (memory is not best-of); after a failed run the others are not made, and the failure is the
 * result.
 */
class Fastest {
  #winner?: PipelineResult;
  #failed?: PipelineResult;
  #peak = 0;

  async run(make: () => Promise<PipelineResult>): Promise<void> {
    if (this.#failed) return;
    const r = await make();
    this.#peak = Math.max(this.#peak, r.peakRssBytes);
    if (!r.ok) this.#failed = r;
    else this.#winner = fastest(this.#winner, r);
  }

  get result(): PipelineResult {
    return { ...(this.#failed ?? this.#winner!), peakRssBytes: this.#peak };
  }
}

/** The fastest of `n` pipeline runs, as {@link Fastest} keeps it. */
async function bestPipeline(
  n: number,
  run: () => Promise<PipelineResult>,
): Promise<PipelineResult> {
  const runs = new Fastest();
  for (let i = 0; i < n; i++) await runs.run(run);
  return runs.result;
}

/** The faster of two runs (`b` when there is no `a`). */
function fastest<T extends { seconds: number }>(a: T | undefined, b: T): T {
  return a === undefined || b.seconds < a.seconds ? b : a;
}

async function best<T extends { seconds: number }>(n: number, run: () => Promise<T>): Promise<T> {
  let winner: T | undefined;
  for (let i = 0; i < n; i++) winner = fastest(winner, await run());
  return winner!;
}

async function runJson<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    env,
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${args.join(" ")} exited ${out.code}: ${dec.decode(out.stderr).trim()}`);
  }
  const lines = dec.decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!) as T;
}

function runDecode(path: string, stage: Stage): Promise<DecodeResult> {
  return runJson<DecodeResult>([
    "run",
    "-A",
    "--quiet",
    V8_FLAGS_OPTION, // as the collector runs
    ...denoFlags,
    join(SCRIPTS, "bench_decode.ts"),
    path,
    "--stage",
    stage,
  ], measuredEnv);
}

function runDuckDb(path: string): Promise<DuckDbResult> {
  return runJson<DuckDbResult>([
    "run",
    "-A",
    "--quiet",
    join(SCRIPTS, "bench_duckdb.ts"),
    path,
    "--out",
    "/dev/null",
    "--threads",
    "1",
  ]);
}

// ---------------------------------------------------------------------------------------------
// Full pipeline: moto + TLS receiver + the collector process
// ---------------------------------------------------------------------------------------------

interface PipelineEnv {
  endpoint: string;
  /** moto's process id (for its CPU time), when found. */
  motoPid?: number;
  certs: TestCerts;
  dir: string;
  /** Where the logs of failed runs are kept. */
  keepDir: string;
  stop(): Promise<void>;
}

async function startPipelineEnv(keepDir: string): Promise<PipelineEnv> {
  const moto = await startMoto();
  const certs = await makeCerts();
  const dir = await Deno.makeTempDir({ prefix: "seclake-bench-" });
  try {
    return {
      endpoint: moto.endpoint,
      motoPid: findPid(["moto.server", String(moto.port)]),
      certs,
      dir,
      keepDir,
      async stop() {
        await moto.stop();
        await certs.cleanup();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  } catch (e) {
    await moto.stop();
    await certs.cleanup();
    throw e;
  }
}

/**
 * The process whose command line has every one of `parts` in its arguments, and whose program
 * (first argument) contains `program` when given.
 */
function findPid(parts: string[], program?: string): number | undefined {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const args = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (program !== undefined && !args[0]!.includes(program)) continue;
      if (parts.every((p) => args.some((a) => a.includes(p)))) return Number(e.name);
    } catch { /* gone */ }
  }
  return undefined;
}

/** CPU seconds (user + system) process `pid` used so far; 0 when it is gone. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return 0;
  }
}

/** A receiver subprocess and the latest status it printed. */
interface ReceiverProc {
  port: number;
  /** CPU seconds it used so far. */
  cpu(): number;
  status(): ReceiverStatus;
  /** Resolves once the receiver reported at least `lines`, or after `timeoutMs`. */
  waitFor(lines: number, timeoutMs: number): Promise<ReceiverStatus>;
  stop(): Promise<ReceiverStatus>;
}

async function startReceiver(
  certs: TestCerts,
  opts: { downMs?: number; rateBytes?: number },
): Promise<ReceiverProc> {
  const program = receiverKind === "python"
    ? [await motoPython(), join(SCRIPTS, "bench_receiver.py")]
    : [Deno.execPath(), "run", "-A", "--quiet", join(SCRIPTS, "bench_receiver.ts")];
  const child = new Deno.Command(program[0], {
    args: [
      ...program.slice(1),
      "--ca",
      certs.caCertPath,
      "--cert",
      certs.serverCertPath,
      "--key",
      certs.serverKeyPath,
      "--down-ms",
      String(opts.downMs ?? 0),
      "--rate-bytes",
      String(Math.round(opts.rateBytes ?? 0)),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let status: ReceiverStatus = {
    lines: 0,
    bytes: 0,
    connections: 0,
    handshakeErrors: 0,
    firstMs: 0,
    lastMs: 0,
    confirmedMs: 0,
  };
  let onLine: (() => void) | undefined;
  let port: number | undefined;
  let portReady!: (p: number) => void;
  const portPromise = new Promise<number>((r) => (portReady = r));
  const reading = (async () => {
    let buf = "";
    const dec = new TextDecoder();
    for await (const chunk of child.stdout) {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (typeof msg.port === "number" && port === undefined) {
          port = msg.port;
          portReady(msg.port);
        } else {
          status = msg as ReceiverStatus;
          onLine?.();
        }
      }
    }
  })();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 30_000);
  const p = await Promise.race([portPromise, child.status.then(() => -1)]);
  clearTimeout(timer);
  if (p < 0) throw new Error(`${program.at(-1)} exited before listening`);
  return {
    port: p,
    cpu: () => cpuSeconds(child.pid),
    status: () => status,
    async waitFor(lines, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (status.lines < lines && Date.now() < deadline) {
        await new Promise<void>((r) => {
          onLine = r;
          setTimeout(r, 100);
        });
      }
      return status;
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await reading;
      return status;
    },
  };
}

function configYaml(
  env: PipelineEnv,
  lake: TestLake,
  port: number,
  state: string,
  localDir: string,
  extra: RunExtra = {},
): string {
  const c = env.certs;
  const events = source === "directory"
    ? []
    : ["wait_time_seconds: 1", "visibility_timeout_seconds: 300"];
  const rules = extra.obfuscation ?? (obfuscate ? OBFUSCATION : undefined);
  if (rules) events.push(`obfuscation: ${rules}`);
  if (dropQuarter) events.push(`drop_events: [${DROP_QUARTER}]`);
  const services = events.length === 0 ? "" : `    services:
      events: { ${events.join(", ")} }
`;
  const input = source === "directory"
    ? `  local:
    id: 1
    type: directory
    directory: ${localDir}
${services}`
    : `  security_lake:
    id: 1
    enabled: true
    credentials: { aws_access_key_id: "\${AWS_ACCESS_KEY_ID}", aws_secret_access_key: "\${AWS_SECRET_ACCESS_KEY}" }
    region: us-east-1
    queue_name: ${lake.queueName}
    endpoint_url: ${env.endpoint}
${services}`;
  return `globals:
  id: bench
  name: seclake-bench
  persistence: { type: filesystem, directory_name: ${state} }
  log_level: info${decodeThreads === undefined ? "" : `\n  decode_threads: ${decodeThreads}`}${
    extra.memoryLimit === undefined ? "" : `\n  memory_limit: ${extra.memoryLimit}`
  }
outputs:
  devo_1:
    type: devo_platform
    config: { address: localhost, port: ${port}, chain: ${c.caCertPath}, cert: ${c.clientCertPath}, key: ${c.clientKeyPath}, hostname: bench-host${
    batchesInFlight === undefined ? "" : `, batches_in_flight: ${batchesInFlight}`
  } }
inputs:
${input}`;
}

let runNo = 0;
/** Extra `deno run` flags for the measured processes (decode and collector). */
let denoFlags: string[] = [];
/** Where the collector reads the file from in the pipeline measurement. */
let source: "s3" | "directory" = "s3";
/** Which benchmark receiver runs (`--receiver`). */
let receiverKind: "python" | "deno" = "python";
/** `globals.decode_threads` and the output's `batches_in_flight` when given (else defaults). */
let decodeThreads: string | undefined;
/** `--drop-quarter`: the input drops the events {@link DROP_QUARTER} matches. */
let dropQuarter = false;
/** A quarter of the CloudTrail-like rows are in this region (four regions, evenly). */
const DROP_QUARTER = "{ path: cloud.region, equals: us-east-1 }";

/** The events the collector's statistics lines in `log` say were filtered out. */
function filteredIn(log: string): number {
  let n = 0;
  for (const m of log.matchAll(/Number of events filtered out: (\d+)/g)) n += Number(m[1]);
  return n;
}

/** `--obfuscate`: the input has {@link OBFUSCATION}'s rules, so events take that path. */
let obfuscate = false;
/**
 * The rules of `--obfuscate`, in YAML flow style: one path hashed, and an IPv4 pattern masked in
 * every string and map key of every event (`scripts/bench_decode.ts` BENCH_RULES).
 */
const OBFUSCATION = "[{ paths: [actor.user.name], method: hash, " +
  "hash_key: bench-hash-key-0123456789 }, " +
  "{ string_patterns: ['\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b'], method: mask, value: x.x.x.x }]";
let batchesInFlight: string | undefined;
/**
 * Environment of the measured processes (decode and collector): `MALLOC_ARENA_MAX` as the
 * deployment files (deploy/systemd, deploy/kubernetes, Dockerfile) set it for the collector.
 */
let measuredEnv: Record<string, string> = {};

/** What one pipeline run changes: obfuscation rules, a memory limit, a CPU profile. */
interface RunExtra {
  /** Obfuscation rules (YAML flow style), instead of those of `--obfuscate`. */
  obfuscation?: string;
  /** `globals.memory_limit`, as written in YAML. */
  memoryLimit?: string;
  /** Where the collector writes its CPU profiles (`--cpu-prof`). */
  profileDir?: string;
}

async function runPipeline(
  env: PipelineEnv,
  f: BenchFile,
  slow: { downMs?: number; rateBytes?: number },
  extra: RunExtra = {},
): Promise<PipelineResult> {
  const n = ++runNo;
  // A lake (bucket and queue) per run: a failed run's message cannot spill into the next.
  const lake = await createTestLake(env.endpoint, {
    bucket: `aws-security-data-lake-us-east-1-bench${n}`,
    queueName: `AmazonSecurityLake-bench-${n}-Main-Queue`,
    visibilityTimeout: 300,
  });
  try {
    return await runPipelineOn(env, lake, n, f, slow, extra);
  } finally {
    lake.destroy();
  }
}

async function runPipelineOn(
  env: PipelineEnv,
  lake: TestLake,
  n: number,
  f: BenchFile,
  slow: { downMs?: number; rateBytes?: number },
  extra: RunExtra,
): Promise<PipelineResult> {
  const key = `aws/BENCH/2.0/region=us-east-1/accountId=111122223333/eventDay=20240410/` +
    `run${n}-${f.label.replaceAll(" ", "-")}.gz.parquet`;
  const runDir = join(env.dir, `run${n}`);
  const localDir = join(runDir, "lake");
  if (source === "directory") {
    const local = join(localDir, key);
    await Deno.mkdir(local.slice(0, local.lastIndexOf("/")), { recursive: true });
    await Deno.link(f.path, local).catch(() => Deno.copyFile(f.path, local));
  } else {
    await lake.put(key, await Deno.readFile(f.path));
  }
  const receiver = await startReceiver(env.certs, slow);
  await Deno.mkdir(runDir, { recursive: true });
  const config = join(runDir, "config.yaml");
  await Deno.writeTextFile(
    config,
    configYaml(env, lake, receiver.port, join(runDir, "state"), localDir, extra),
  );
  const timeFile = join(runDir, "time.txt");
  const stderrFile = join(runDir, "collector.log");
  if (source === "s3") await lake.send(eventBridgeBody(lake.bucket, key, { size: f.bytes }));

  const motoCpu0 = cpuSeconds(env.motoPid);
  const receiverCpu0 = receiver.cpu();
  const started = Date.now();
  const log = await Deno.open(stderrFile, { write: true, create: true, truncate: true });
  const child = new Deno.Command("/usr/bin/time", {
    args: [
      "-v",
      "-o",
      timeFile,
      Deno.execPath(),
      "run",
      "-P=seclake",
      V8_FLAGS_OPTION,
      "--quiet",
      ...denoFlags,
      ...(extra.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${extra.profileDir}`] : []),
      "main.ts",
      "run",
      "--config",
      config,
      "--once",
    ],
    cwd: REPO,
    env: {
      ...measuredEnv,
      NO_COLOR: "1",
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_CA_BUNDLE: MOTO_CA_FILE,
    },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const pump = child.stderr.pipeTo(log.writable);
  // The collector is the child of /usr/bin/time: find it, then sample its main thread.
  let sched = { run: 0, wait: 0 };
  let collectorPid: number | undefined;
  const sampler = setInterval(() => {
    collectorPid ??= findPid(["main.ts", config], "deno");
    if (collectorPid === undefined) return;
    try {
      const [run, wait] = Deno.readTextFileSync(`/proc/${collectorPid}/schedstat`).split(" ");
      sched = { run: Number(run) / 1e9, wait: Number(wait) / 1e9 };
    } catch { /* exited */ }
  }, 200);
  const kill = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 30 * 60_000);
  const { code } = await child.status;
  let doneAt = Date.now();
  clearInterval(sampler);
  await pump.catch(() => {});
  clearTimeout(kill);
  // With --drop-quarter, the lines are the rows not filtered out.
  const filtered = dropQuarter ? filteredIn(await Deno.readTextFile(stderrFile)) : 0;
  const want = f.spec.rows - filtered;
  if (code === 0 && receiver.status().lines < want) {
    // Normally every line is in before the exit (a batch is confirmed by the receiver's EOF).
    // A collector that failed sent what it sent: no reason to wait for more.
    await receiver.waitFor(want, 5_000);
    doneAt = Date.now();
  }
  const motoCpu = cpuSeconds(env.motoPid) - motoCpu0;
  const receiverCpu = receiver.cpu() - receiverCpu0;
  const status = await receiver.stop();
  const exitSeconds = (doneAt - started) / 1000;
  const timeText = await Deno.readTextFile(timeFile).catch(() => "");
  const peakKb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(timeText)?.[1] ?? 0);
  const wrappedCode = Number(/Exit status: (\d+)/.exec(timeText)?.[1] ?? code);
  const collectorCpu = Number(/User time \(seconds\): ([\d.]+)/.exec(timeText)?.[1] ?? 0) +
    Number(/System time \(seconds\): ([\d.]+)/.exec(timeText)?.[1] ?? 0);
  const depth = await lake.depth();
  let error: string | undefined;
  if (wrappedCode !== 0) error = `collector exited ${wrappedCode}`;
  else if (status.lines < want) {
    error = `receiver got ${status.lines} of ${want} lines`;
  } else if (depth.visible + depth.inFlight !== 0) {
    error = `queue not empty after the run: ${JSON.stringify(depth)}`;
  }
  // Every run's collector log is kept (the last bench's), for failures and retries.
  const kept = join(
    env.keepDir,
    "logs",
    `run${n}-${f.label.replaceAll(" ", "-")}${slow.downMs || slow.rateBytes ? "-slow" : ""}.log`,
  );
  await Deno.mkdir(join(env.keepDir, "logs"), { recursive: true });
  await Deno.copyFile(stderrFile, kept).catch(() => {});
  if (error !== undefined) error += ` (log: ${kept})`;
  return {
    ok: error === undefined,
    filtered,
    seconds: status.lines >= want && status.confirmedMs > started
      ? (status.confirmedMs - started) / 1000
      : exitSeconds,
    exitSeconds,
    receiveSeconds: status.firstMs ? (status.lastMs - status.firstMs) / 1000 : 0,
    lines: status.lines,
    bytes: status.bytes,
    connections: status.connections,
    peakRssBytes: peakKb * 1024,
    exitCode: wrappedCode,
    cpu: {
      collector: round2(collectorCpu),
      moto: round2(motoCpu),
      receiver: round2(receiverCpu),
    },
    mainThread: { runSeconds: round2(sched.run), waitSeconds: round2(sched.wait) },
    error,
  };
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * The progress line of one pipeline run: its rate, or, for a run that failed, that it failed and
 * why (a failed run has no rate: its lines were not all confirmed).
 */
export function pipelineNote(what: string, rows: number, p: PipelineResult): string {
  if (!p.ok) {
    return `${what} FAILED after ${p.exitSeconds.toFixed(1)} s, peak ${
      mb(p.peakRssBytes)
    }: ${p.error} (${p.lines} lines received)`;
  }
  const perEvent = (p.cpu.collector / rows * 1e6).toFixed(2);
  const dropped = p.filtered > 0 ? `, ${p.filtered} filtered out` : "";
  return `${what} ${rate(rows, p.seconds)} ev/s, peak ${
    mb(p.peakRssBytes)
  }, collector CPU ${perEvent} µs per input event${dropped}${cpuNote(p)}`;
}

function cpuNote(p: PipelineResult): string {
  return ` (${p.seconds.toFixed(1)} s to the last confirmation, exit at ${
    p.exitSeconds.toFixed(1)
  } s; CPU s: collector ${p.cpu.collector}, moto ${p.cpu.moto}, ` +
    `receiver ${p.cpu.receiver}; main thread on CPU ${p.mainThread.runSeconds} s, waiting for ` +
    `a CPU ${p.mainThread.waitSeconds} s; ${p.connections} connections, ${p.lines} lines received)`;
}

function rate(n: number, seconds: number): string {
  return Math.round(n / seconds).toLocaleString("en-US");
}

function mb(bytes: number): string {
  return `${Math.round(bytes / MB)} MB`;
}

function rss(bytes: number | undefined): string {
  if (bytes === undefined) return "–";
  return `${Math.round(bytes / MB)}`;
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}×` : "–";
}

/**
 * Two figures for reference, with no target: the pipeline's wall rate beside DuckDB's on
 * CloudTrail ZSTD, and the highest peak RSS without a memory limit. The targets are in
 * `bench_efficiency.ts` (CPU per event, obfuscation, the memory budget).
 */
export function references(results: FileResult[]): string[] {
  const speed = results
    .filter((r) => r.label.startsWith(TARGET_FILES) && r.pipeline?.ok && r.duckdb)
    .map((r) => `${r.label} ${(r.duckdb!.seconds / r.pipeline!.seconds).toFixed(2)}×`);
  const peaks: { what: string; bytes: number }[] = [];
  for (const r of results) {
    const add = (what: string, bytes: number | undefined) => {
      if (bytes !== undefined) peaks.push({ what: `${r.label} ${what}`, bytes });
    };
    add("decode", r.decode?.peakRssBytes);
    add("object path", r.objectPath?.peakRssBytes);
    // A failed run's peak (the collector exited early) says nothing: it is named instead.
    add("pipeline", r.pipeline?.ok ? r.pipeline.peakRssBytes : undefined);
    add("slow pipeline", r.slow?.ok ? r.slow.peakRssBytes : undefined);
  }
  const failed = results.flatMap((r) => [
    ...(r.pipeline && !r.pipeline.ok ? [`${r.label} pipeline`] : []),
    ...(r.slow && !r.slow.ok ? [`${r.label} slow pipeline`] : []),
  ]);
  const highest = peaks.sort((a, b) => b.bytes - a.bytes)[0];
  const memoryLine = [
    highest
      ? `highest ${highest.what} ${mb(highest.bytes)} of ${peaks.length} measurement${
        peaks.length === 1 ? "" : "s"
      }`
      : "",
    failed.length > 0 ? `not measured: ${failed.join(", ")} failed` : "",
  ].filter((t) => t !== "").join("; ") || "not measured";
  // Smaller files than 1,000,000 rows (--quick, --rows) weigh start-up more.
  const small = results.some((r) => r.rows < 1_000_000)
    ? " (files under 1,000,000 rows: start-up weighs more, so this only indicates)"
    : "";
  return [
    `Pipeline wall rate ÷ DuckDB's (one thread), CloudTrail ZSTD: ${
      speed.length === 0
        ? "not measured (needs the pipeline and DuckDB on a CloudTrail ZSTD file)"
        : speed.join(", ")
    }${small}.`,
    `Peak RSS with the default settings (no memory_limit): ${memoryLine}${small}.`,
  ];
}

function table(results: FileResult[], slow: boolean): string {
  const head = [
    "file",
    "rows",
    "decode ev/s",
    "decode MB/s",
    "decode RSS MB",
    "object path ev/s",
    "object path RSS MB",
    "pipeline ev/s",
    "pipeline RSS MB",
    ...(slow ? ["slow-output ev/s", "slow-output RSS MB"] : []),
    "DuckDB rows/s",
    "DuckDB RSS MB",
    "decode ÷ DuckDB",
    "pipeline ÷ DuckDB",
  ];
  const rows = results.map((r) => {
    const dec = r.decode ? r.rows / r.decode.seconds : undefined;
    const pipe = r.pipeline?.ok ? r.rows / r.pipeline.seconds : undefined;
    const slowRate = r.slow?.ok ? r.rows / r.slow.seconds : undefined;
    const duck = r.duckdb ? r.rows / r.duckdb.seconds : undefined;
    return [
      r.label,
      r.rows.toLocaleString("en-US"),
      dec !== undefined ? Math.round(dec).toLocaleString("en-US") : "–",
      r.decode ? (r.decode.bytes / 1e6 / r.decode.seconds).toFixed(1) : "–",
      rss(r.decode?.peakRssBytes),
      r.objectPath ? rate(r.rows, r.objectPath.seconds) : "–",
      rss(r.objectPath?.peakRssBytes),
      pipe !== undefined ? Math.round(pipe).toLocaleString("en-US") : r.pipeline ? "failed" : "–",
      rss(r.pipeline?.peakRssBytes),
      ...(slow
        ? [
          slowRate !== undefined
            ? Math.round(slowRate).toLocaleString("en-US")
            : r.slow
            ? "failed"
            : "–",
          rss(r.slow?.peakRssBytes),
        ]
        : []),
      duck !== undefined ? Math.round(duck).toLocaleString("en-US") : "–",
      rss(r.duckdb?.peakRssBytes),
      ratio(dec, duck),
      ratio(pipe, duck),
    ];
  });
  return markdown(head, rows) +
    "\n\nDecode is the collector's default path (`readEventLines`, JSON bytes straight from the " +
    "column data); the object path (those lines parsed back by `readEventObjects`, then `toJson` + " +
    "`LineFormatter.line`, on one thread) is the reference path: what a row takes when the fast " +
    "path cannot apply its obfuscation rules exactly, or when events are cut down to a size. " +
    "Rates are events (rows) per second of wall time; MB/s is Devo line output (10^6 bytes). " +
    "RSS is peak resident set (VmHWM / ru_maxrss) in MiB.";
}

function stageTable(results: FileResult[]): string {
  const head = [
    "file",
    "columns s",
    "rows s",
    "events s",
    "json s",
    "lines s",
    "fast s",
    "peak RSS by stage MB",
  ];
  const rows = results.filter((r) => r.stages).map((r) => {
    const s = r.stages!;
    const sec = (d?: DecodeResult) => (d ? d.seconds.toFixed(2) : "–");
    return [
      r.label,
      sec(s.columns),
      sec(s.rows),
      sec(s.events),
      sec(s.json),
      sec(r.objectPath),
      sec(r.decode),
      [s.columns, s.rows, s.events, s.json, r.objectPath, r.decode].map((
        d,
      ) => (d ? Math.round(d.peakRssBytes / MB) : "–"))
        .join(" / "),
    ];
  });
  return "Object-path stages (cumulative wall seconds; each includes the ones before it; " +
    "`fast` is the default path for comparison):\n\n" +
    markdown(head, rows);
}

function markdown(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    "| " +
    cells.map((c, i) => (i < 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ") +
    " |";
  return [
    line(head),
    "|" +
    widths.map((w, i) => (i < 1 ? "-".repeat(w + 1) + "-" : "-".repeat(w + 1) + ":")).join("|") +
    "|",
    ...rows.map(line),
  ].join("\n");
}

if (import.meta.main) Deno.exit(await main(Deno.args));
