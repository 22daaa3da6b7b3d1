/**
 * The interoperability corpus: Parquet files written by other projects' writers (run under Node
 * from `tests/interop/`, installed there on first use) and the rows DuckDB reads from them, the
 * oracle. {@link corpusEvents} reads a file on both of the collector's paths.
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readEventLines } from "../../src/parquet/json_reader.ts";
import { bufferFromFile, readEvents } from "../../src/parquet/reader.ts";
import { toJson } from "../../src/transform/json.ts";
import { listParquet, SAMPLES_PARQUET } from "./samples.ts";

/** The Node project of the writers and the oracle. */
export const INTEROP_DIR = fileURLToPath(
  new URL("../interop/", import.meta.url),
);

/** One file of the corpus, as `tests/interop/generate.mjs` describes it. */
export interface CorpusFile {
  readonly file: string;
  readonly writer: string;
  readonly features: readonly string[];
  readonly rows: number;
  /** JSON lines: the oracle's rows under the value policy. */
  readonly oracle: string;
  /** Where the oracle departs from the format, and the rows follow the format instead. */
  readonly notes: readonly string[];
  readonly sample?: boolean;
}

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const env = { RES_OPTIONS: "timeout:1 attempts:2" };
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    const dec = new TextDecoder();
    throw new Error(
      `${cmd} ${args.join(" ")} failed in ${cwd}:\n${dec.decode(out.stdout)}\n${
        dec.decode(out.stderr)
      }`,
    );
  }
}

/** Installs the writers' exact versions from the lock file when they are not there yet. */
export async function ensureWriters(): Promise<void> {
  try {
    await Deno.stat(join(INTEROP_DIR, "node_modules", ".package-lock.json"));
    return;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await run(
    "npm",
    ["ci", "--no-audit", "--no-fund", "--ignore-scripts"],
    INTEROP_DIR,
  );
}

/** Writes the corpus (and the oracle's rows for it and the public samples) into `dir`. */
export async function generateCorpus(dir: string): Promise<CorpusFile[]> {
  await ensureWriters();
  const samples = await listParquet(SAMPLES_PARQUET);
  await run(
    "node",
    [join(INTEROP_DIR, "generate.mjs"), dir, ...samples],
    INTEROP_DIR,
  );
  return JSON.parse(await Deno.readTextFile(join(dir, "manifest.json")));
}

/** JSON with integers beyond 2^53 read as bigints, so that no digit is lost in comparing. */
export const exactJson = (s: string): unknown =>
  JSON.parse(
    s,
    (_k, v, c?: { source?: string }) =>
      typeof v === "number" && !Number.isSafeInteger(v) && c?.source &&
        /^-?\d+$/.test(c.source)
        ? BigInt(c.source)
        : v,
  );

/** The events of `path` on the reference path (row objects serialized), as JSON lines. */
export async function referenceLines(path: string): Promise<string[]> {
  const file = await bufferFromFile(path);
  try {
    const out: string[] = [];
    for await (const s of readEvents(file)) {
      for (const e of s.events) out.push(toJson(e));
    }
    return out;
  } finally {
    file.close();
  }
}

/** The events of `path` on the fast path (JSON text from column data), as JSON lines. */
export async function fastLines(
  path: string,
  groupReadBytes?: number,
): Promise<string[]> {
  const file = await bufferFromFile(path);
  try {
    const out: string[] = [];
    const dec = new TextDecoder();
    for await (
      const s of readEventLines(file, { sliceRows: 333, groupReadBytes })
    ) {
      const lines = dec.decode(s.bytes).split("\n");
      lines.pop();
      out.push(...lines);
    }
    return out;
  } finally {
    file.close();
  }
}

/**
 * The first difference between events and the oracle's rows (undefined when they are equal:
 * the same values, map members in any order).
 */
export function firstDifference(
  events: string[],
  oracle: string[],
): string | undefined {
  if (events.length !== oracle.length) {
    return `${events.length} events, ${oracle.length} oracle rows`;
  }
  for (let i = 0; i < events.length; i++) {
    if (events[i] === oracle[i]) continue;
    if (!isDeepStrictEqual(exactJson(events[i]!), exactJson(oracle[i]!))) {
      return `row ${i}:\n  events ${events[i]!.slice(0, 600)}\n  oracle ${
        oracle[i]!.slice(0, 600)
      }`;
    }
  }
  return undefined;
}
