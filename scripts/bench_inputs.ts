/**
 * Benchmark inputs: the OCSF Parquet files `scripts/bench.ts` measures, generated
 * deterministically by `tests/lib/ocsf_fixtures.ts` (hyparquet-writer, through `scripts/ocsf_fixtures.ts`) and cached on disk under
 * names that carry every generation parameter, so a rerun reuses them.
 *
 * Generation runs the fixture CLI in subprocesses (two at a time by default, one per core of the
 * reference machine) and writes to a temporary name that is renamed only when complete, so an
 * interrupted run never leaves a truncated file under a cached name. Beside each file a small
 * JSON sidecar records the parameters, the generation time and a hash of the generator script;
 * a cached file made by a different generator is reused with a warning (pass `regenerate`).
 * @module
 */
import { join } from "node:path";
import type { FixtureCodec, ParquetLayout } from "../tests/lib/ocsf_fixtures.ts";

/** One benchmark input file. */
export interface BenchFileSpec {
  /** 6003 API Activity (CloudTrail-like) or 4001 Network Activity (VPC-flow-like). */
  readonly classUid: 6003 | 4001;
  readonly rows: number;
  readonly rowGroupSize: number;
  readonly codec: FixtureCodec;
  readonly layout: ParquetLayout;
  readonly seed: number;
}

/** A benchmark input on disk. */
export interface BenchFile {
  readonly spec: BenchFileSpec;
  /** Short label for tables, e.g. `cloudtrail zstd rg20k`. */
  readonly label: string;
  readonly path: string;
  readonly bytes: number;
  /** Seconds the generator took (when it was made, possibly in an earlier run). */
  readonly generatedSeconds: number;
  /** Whether this run reused a cached file. */
  readonly cached: boolean;
}

/** The generators (hashed: a cached input made by another version is made again). */
const FIXTURES = new URL("../tests/lib/ocsf_fixtures.ts", import.meta.url).pathname;
/** Their command line. */
const FIXTURES_CLI = new URL("./ocsf_fixtures.ts", import.meta.url).pathname;
const REPO = new URL("../", import.meta.url).pathname;

/** Short label of `spec` for tables. */
export function specLabel(spec: BenchFileSpec): string {
  const cls = spec.classUid === 6003 ? "cloudtrail" : "vpcflow";
  return `${cls} ${spec.codec.toLowerCase()} rg${groupLabel(spec.rowGroupSize)}`;
}

function groupLabel(n: number): string {
  return n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

/** The cache file name of `spec`: every generation parameter is in it. */
export function cacheName(spec: BenchFileSpec): string {
  return `ocsf_${spec.classUid}_${spec.rows}r_rg${spec.rowGroupSize}_${spec.codec.toLowerCase()}_` +
    `${spec.layout}_seed${spec.seed}.parquet`;
}

async function generatorHash(): Promise<string> {
  const bytes = await Deno.readFile(FIXTURES);
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest).slice(0, 8), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

interface Sidecar {
  spec: BenchFileSpec;
  bytes: number;
  seconds: number;
  generator: string;
}

/** Options for {@link ensureInputs}. */
export interface EnsureInputsOptions {
  /** Generator subprocesses at once. Default 2. */
  parallel?: number;
  /** Regenerate even when a cached file exists. Default false. */
  regenerate?: boolean;
  /** Progress messages. Default: stderr. */
  log?: (msg: string) => void;
}

/** Returns every file of `specs` under `dir`, generating the missing ones. */
export async function ensureInputs(
  dir: string,
  specs: readonly BenchFileSpec[],
  options: EnsureInputsOptions = {},
): Promise<BenchFile[]> {
  const { parallel = 2, regenerate = false, log = (m: string) => console.error(m) } = options;
  await Deno.mkdir(dir, { recursive: true });
  const hash = await generatorHash();
  const out: BenchFile[] = new Array(specs.length);
  const todo: number[] = [];
  for (const [i, spec] of specs.entries()) {
    const path = join(dir, cacheName(spec));
    const side = await readSidecar(path);
    if (!regenerate && side) {
      if (side.generator !== hash) {
        log(
          `note: ${cacheName(spec)} was made by another version of ocsf_fixtures.ts ` +
            `(pass --regenerate to remake it)`,
        );
      }
      out[i] = {
        spec,
        label: specLabel(spec),
        path,
        bytes: side.bytes,
        generatedSeconds: side.seconds,
        cached: true,
      };
    } else {
      todo.push(i);
    }
  }
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const i = todo[next++]!;
      const spec = specs[i]!;
      const path = join(dir, cacheName(spec));
      log(`generating ${cacheName(spec)} ...`);
      const { bytes, seconds } = await generate(spec, path);
      const side: Sidecar = { spec, bytes, seconds, generator: hash };
      await Deno.writeTextFile(`${path}.json`, JSON.stringify(side, null, 2) + "\n");
      log(
        `generated ${cacheName(spec)}: ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(1)} s`,
      );
      out[i] = {
        spec,
        label: specLabel(spec),
        path,
        bytes,
        generatedSeconds: seconds,
        cached: false,
      };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
  return out;
}

async function readSidecar(path: string): Promise<Sidecar | undefined> {
  try {
    const side = JSON.parse(await Deno.readTextFile(`${path}.json`)) as Sidecar;
    const { size } = await Deno.stat(path);
    return size === side.bytes ? side : undefined;
  } catch {
    return undefined;
  }
}

async function generate(
  spec: BenchFileSpec,
  path: string,
): Promise<{ bytes: number; seconds: number }> {
  const partial = `${path.slice(0, -".parquet".length)}.partial-${Deno.pid}.parquet`;
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      FIXTURES_CLI,
      "--out",
      partial,
      "--rows",
      String(spec.rows),
      "--class",
      String(spec.classUid),
      "--codec",
      spec.codec,
      "--row-group",
      String(spec.rowGroupSize),
      "--seed",
      String(spec.seed),
      "--layout",
      spec.layout,
    ],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  if (!out.success) {
    await Deno.remove(partial).catch(() => {});
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`Cannot generate ${cacheName(spec)}: exit ${out.code}: ${err}`);
  }
  await Deno.rename(partial, path);
  const { size } = await Deno.stat(path);
  return { bytes: size, seconds };
}

/** Seed of every benchmark input. */
export const BENCH_SEED = 7;

/**
 * The files of the benchmark: the full plan is CloudTrail-like and VPC-flow-like files of
 * 1,000,000 rows each, in ZSTD and GZIP, with 20,000- and 128,000-row groups (8 files); the
 * quick plan is 200,000 rows in all: CloudTrail ZSTD with 20,000-row groups and VPC GZIP whose
 * 100,000 rows are one row group (the large-group memory case). Every file uses `layout`
 * (default `"avro"`, what Security Lake's own writer produces for native sources).
 */
export function benchPlan(
  options: { quick?: boolean; rows?: number; layout?: ParquetLayout } = {},
): BenchFileSpec[] {
  const layout = options.layout ?? "avro";
  if (options.quick) {
    const rows = options.rows ?? 100_000;
    return [
      { classUid: 6003, rows, rowGroupSize: 20_000, codec: "ZSTD", layout, seed: BENCH_SEED },
      { classUid: 4001, rows, rowGroupSize: 128_000, codec: "GZIP", layout, seed: BENCH_SEED },
    ];
  }
  const rows = options.rows ?? 1_000_000;
  const out: BenchFileSpec[] = [];
  for (const classUid of [6003, 4001] as const) {
    for (const codec of ["ZSTD", "GZIP"] as const) {
      for (const rowGroupSize of [20_000, 128_000]) {
        out.push({ classUid, rows, rowGroupSize, codec, layout, seed: BENCH_SEED });
      }
    }
  }
  return out;
}
