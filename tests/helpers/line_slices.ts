/**
 * Slices of lines for the tests of the fast path on one thread and on decode workers: generated
 * objects (made once per run), an AsyncBuffer that counts its reads, and the slices a reader
 * yields, collected and compared.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { AsyncBuffer } from "hyparquet";
import { writeOcsfParquet } from "../lib/ocsf_fixtures.ts";
import type { FixtureCodec, OcsfClassUid, ParquetLayout } from "../lib/ocsf_fixtures.ts";
import type { LineSlice } from "../../src/parquet/json_reader.ts";
import { bufferFromBytes } from "../../src/parquet/reader.ts";

const enc = new TextEncoder();
/** A syslog header, as the collector writes before each line. */
export const HEAD = enc.encode(
  "<14>2024-04-10T12:05:00.123Z host cloud.aws.amazon.security_lake.events: ",
);
/** The header function of the options: {@link HEAD} for every slice. */
export const header = (): Uint8Array => HEAD;
/** Members appended to every event, as the collector adds them. */
export const APPEND = '"@devo_pulling_id":"1712750700000"';

// ---- fixtures -------------------------------------------------------------------------------------

let dir: string | undefined;
const fixtures = new Map<string, Promise<Uint8Array>>();

/** A generated object, by default 5,000 rows in 1,000-row groups (generated once per run). */
export function fixture(
  classUid: OcsfClassUid = 6003,
  codec: FixtureCodec = "ZSTD",
  layout: ParquetLayout = "avro",
  rows = 5000,
  rowGroupSize = 1000,
): Promise<Uint8Array> {
  const key = `${classUid}-${codec}-${layout}-${rows}-${rowGroupSize}`;
  let p = fixtures.get(key);
  if (!p) {
    p = (async () => {
      dir ??= await Deno.makeTempDir({ prefix: "seclake-parallel-" });
      const path = join(dir, `${key}.parquet`);
      await writeOcsfParquet(path, { classUid, rows, seed: 7, codec, layout, rowGroupSize });
      return await Deno.readFile(path);
    })();
    fixtures.set(key, p);
  }
  return p;
}

globalThis.addEventListener("unload", () => {
  if (dir) Deno.removeSync(dir, { recursive: true });
});

/** An AsyncBuffer over `bytes` that counts reads and bytes read; `fail` may refuse a read. */
export function counting(bytes: Uint8Array, fail?: (start: number) => unknown) {
  const inner = bufferFromBytes(bytes);
  const stats = { reads: 0, bytes: 0 };
  const buffer: AsyncBuffer = {
    byteLength: inner.byteLength,
    async slice(start: number, end?: number) {
      const refused = fail?.(start);
      if (refused !== undefined) throw refused;
      const b = await inner.slice(start, end);
      stats.reads++;
      stats.bytes += b.byteLength;
      return b;
    },
  };
  return { buffer, stats };
}

/** The slices a generator of lines yielded, and the error it ended with. */
export interface Run {
  slices: { rowStart: number; rows: number; bytes: Uint8Array }[];
  error?: unknown;
}

/** The slices of `gen`, taken one every `paceMs` (0: as fast as they come). */
export async function collect(gen: AsyncGenerator<LineSlice>, paceMs = 0): Promise<Run> {
  const slices: Run["slices"] = [];
  try {
    for await (const s of gen) {
      slices.push({ rowStart: s.rowStart, rows: s.rows, bytes: s.bytes });
      if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
    }
  } catch (error) {
    return { slices, error };
  }
  return { slices };
}

/** `actual` are the slices of `expected`: the same boundaries and bytes, rows never going back. */
export function assertSameSlices(
  actual: Run["slices"],
  expected: Run["slices"],
  what: string,
): void {
  assert.deepEqual(
    actual.map((s) => [s.rowStart, s.rows, s.bytes.length]),
    expected.map((s) => [s.rowStart, s.rows, s.bytes.length]),
    `${what}: slice boundaries`,
  );
  for (const [i, s] of actual.entries()) {
    assert.ok(equalBytes(s.bytes, expected[i]!.bytes), `${what}: bytes of slice ${i} differ`);
  }
  let next = -1;
  for (const s of actual) {
    assert.ok(s.rowStart >= next, `${what}: rowStart goes back`);
    next = s.rowStart + s.rows;
  }
}

/** Whether `a` and `b` hold the same bytes. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
