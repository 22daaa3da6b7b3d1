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

/** Hash of what the corpus is made from: the writers, their versions, the samples. */
async function corpusKey(samples: string[]): Promise<string> {
  const parts: string[] = [...samples];
  const walk = async (dir: string) => {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.name !== "node_modules") names.push(e.name);
    }
    for (const name of names.sort()) {
      const p = join(dir, name);
      if ((await Deno.stat(p)).isDirectory) await walk(p);
      else parts.push(name, await Deno.readTextFile(p));
    }
  };
  await walk(INTEROP_DIR);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return Array.from(new Uint8Array(digest).slice(0, 8), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Where generated corpora are kept between test files and runs (ignored by git and Deno). */
const CACHE = fileURLToPath(new URL("../../.tmp/", import.meta.url));

/**
 * The corpus: written once into `.tmp/interop-<hash>` (with the oracle's rows for it and for the
 * public samples) and reused until the writers or the samples change. Files of the manifest are
 * given with absolute paths.
 */
export async function corpus(): Promise<CorpusFile[]> {
  const samples = await listParquet(SAMPLES_PARQUET);
  const dir = join(CACHE, `interop-${await corpusKey(samples)}`);
  const read = async () => {
    const list: CorpusFile[] = JSON.parse(await Deno.readTextFile(join(dir, "manifest.json")));
    const at = (p: string) => (p.startsWith("/") ? p : join(dir, p));
    return list.map((f) => ({ ...f, file: at(f.file), oracle: at(f.oracle) }));
  };
  try {
    return await read();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(CACHE, { recursive: true });
  return await locked(join(CACHE, "interop.lock"), async () => {
    try {
      return await read(); // written by another test file while this one waited
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await ensureWriters();
    await generate(dir, samples);
    return await read();
  });
}

/**
 * Runs `f` holding the lock folder `path` (test files run in parallel processes; one installs
 * and generates, the others wait). A lock older than ten minutes was left by a killed run.
 */
async function locked<T>(path: string, f: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await Deno.mkdir(path);
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      const age = Date.now() - ((await Deno.stat(path).catch(() => null))?.mtime?.getTime() ?? 0);
      if (age > 10 * 60_000) await Deno.remove(path).catch(() => {});
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await f();
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

async function generate(dir: string, samples: string[]): Promise<void> {
  // Written aside and moved in whole: test files running at once never see half a corpus.
  const tmp = await Deno.makeTempDir({ dir: CACHE, prefix: "interop-partial-" });
  try {
    await run("node", [join(INTEROP_DIR, "generate.mjs"), tmp, ...samples], INTEROP_DIR);
    await Deno.rename(tmp, dir).catch(() => {});
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
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
  pieceEntries?: number,
): Promise<string[]> {
  const file = await bufferFromFile(path);
  try {
    const out: string[] = [];
    const dec = new TextDecoder();
    for await (
      const s of readEventLines(file, { sliceRows: 333, groupReadBytes, pieceEntries })
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
