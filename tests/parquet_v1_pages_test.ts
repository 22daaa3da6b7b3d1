/**
 * Security Lake's objects come from parquet-mr: DATA_PAGE (v1) pages whose boundaries may fall
 * inside a row of a list or map column, many pages per column chunk, pages where every entry is
 * null, and chunks that fall back from dictionary to PLAIN pages. The fixtures of
 * `tests/lib/ocsf_fixtures.ts` have none of that (hyparquet-writer writes v2 pages that start at a
 * row), so they are rewritten into that layout (`helpers/parquet_v1.ts`) and the fast path must
 * give the very bytes it gives on the original.
 */
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { join } from "node:path";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import type { FixtureCodec, OcsfClassUid, ParquetLayout } from "./lib/ocsf_fixtures.ts";
import { readEventLines } from "../src/parquet/json_reader.ts";
import type { ReadEventLinesOptions } from "../src/parquet/json_reader.ts";
import { bufferFromBytes, readEvents } from "../src/parquet/reader.ts";
import type { JsonObject } from "../src/parquet/shape.ts";
import { toJson } from "../src/transform/json.ts";
import { columnValues, describePages, rewriteAsV1 } from "./helpers/parquet_v1.ts";
import type { ChunkInfo, RewriteV1Options } from "./helpers/parquet_v1.ts";

interface Fixture {
  classUid: OcsfClassUid;
  layout: ParquetLayout;
  rows: number;
  rowGroupSize: number;
  codec: FixtureCodec;
  variants: RewriteV1Options[];
}

const FIXTURES: Fixture[] = [
  {
    // CloudTrail-like: lists of structs, a map, a list of strings; legacy two-level lists.
    classUid: 6003,
    layout: "avro",
    rows: 1600,
    rowGroupSize: 700,
    codec: "UNCOMPRESSED",
    variants: [
      { pageEntries: 7, codec: "UNCOMPRESSED", plainFromPage: 20 },
      { pageEntries: 50, codec: "GZIP", booleanEncoding: "RLE" },
    ],
  },
  {
    // Fewer entries per page than many rows hold (lists of 3, maps of 6): rows span two or more
    // pages and some pages start no row. Fewer rows, as the pages are tiny.
    classUid: 6003,
    layout: "avro",
    rows: 600,
    rowGroupSize: 250,
    codec: "GZIP",
    variants: [{ pageEntries: 2, codec: "UNCOMPRESSED", plainFromPage: 40 }],
  },
  {
    classUid: 6003,
    layout: "standard",
    rows: 1200,
    rowGroupSize: 500,
    codec: "GZIP",
    variants: [
      { pageEntries: 11, codec: "GZIP", plainFromPage: 3, dictionaryEncoding: "RLE_DICTIONARY" },
      { pageEntries: 5, codec: "UNCOMPRESSED", stagger: false },
    ],
  },
  {
    classUid: 4001,
    layout: "avro",
    rows: 1500,
    rowGroupSize: 600,
    codec: "UNCOMPRESSED",
    variants: [{ pageEntries: 13, codec: "UNCOMPRESSED", plainFromPage: 1, stagger: false }],
  },
  {
    classUid: 4001,
    layout: "standard",
    rows: 1500,
    rowGroupSize: 600,
    codec: "UNCOMPRESSED",
    variants: [{ pageEntries: 50, codec: "SNAPPY", plainFromPage: 2 }],
  },
];

/** The fast path's output: every slice's bytes concatenated, and where each slice starts. */
async function fastPath(bytes: Uint8Array, options: ReadEventLinesOptions) {
  const parts: Uint8Array[] = [];
  const slices: [number, number][] = [];
  for await (const s of readEventLines(bufferFromBytes(bytes), options)) {
    parts.push(s.bytes);
    slices.push([s.rowStart, s.rows]);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { bytes: out, slices };
}

/** Where two lines first differ, with some text around it. */
function difference(actual: string, expected: string): string {
  let at = 0;
  while (at < actual.length && actual[at] === expected[at]) at++;
  const from = Math.max(0, at - 60);
  return `at character ${at}:\nrewritten …${actual.slice(from, at + 100)}\n` +
    `original  …${expected.slice(from, at + 100)}`;
}

/** Fails with the first differing line of two outputs. */
function assertSameLines(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (isDeepStrictEqual(actual, expected)) return;
  const dec = new TextDecoder();
  const a = dec.decode(actual).split("\n");
  const e = dec.decode(expected).split("\n");
  const i = a.findIndex((line, i) => line !== e[i]);
  assert.fail(
    `${what}: ${a.length - 1} lines, expected ${e.length - 1}; line ${i} differs ` +
      difference(a[i] ?? "", e[i] ?? ""),
  );
}

/**
 * hyparquet 1.33.0's object path (`parquetReadObjects`, under `readEvents`) mis-assembles a
 * two-level list of primitives (a REPEATED leaf, here `metadata.profiles` of the "avro" layout)
 * when a page starts inside a row: the rest of the row becomes a row of its own. The reference
 * comparison leaves that field out; the fast path and the column values check it. See the
 * last test, which fails once hyparquet gets this right.
 */
const KNOWN_HYPARQUET_BUG = ["metadata", "profiles"] as const;

/** The reference path's events as JSON, with {@link KNOWN_HYPARQUET_BUG} left out if asked. */
async function referencePath(bytes: Uint8Array, dropProfiles: boolean): Promise<string[]> {
  const out: string[] = [];
  for await (const s of readEvents(bufferFromBytes(bytes))) {
    for (const e of s.events) {
      if (dropProfiles) delete (e[KNOWN_HYPARQUET_BUG[0]] as JsonObject | undefined)?.profiles;
      out.push(toJson(e));
    }
  }
  return out;
}

/** Checks that the rewritten file's pages are what the test claims (assertion 1). */
function checkPages(pages: ChunkInfo[], options: RewriteV1Options, repeated: boolean): void {
  const data = (c: ChunkInfo) => c.pages.filter((p) => p.type !== "DICTIONARY_PAGE");
  const dictionaryEncoded = (p: { encoding?: string }) => p.encoding?.endsWith("_DICTIONARY");
  for (const c of pages) {
    assert.equal(c.codec, options.codec, c.path);
    const d = data(c);
    assert.ok(d.every((p) => p.type === "DATA_PAGE"), `${c.path}: only v1 data pages`);
    assert.ok(d.length > 1, `${c.path}: ${d.length} data page(s)`);
    assert.ok(d.every((p) => p.entries <= options.pageEntries), `${c.path}: page sizes`);
    // PLAIN pages only after the dictionary-encoded ones, as parquet-mr falls back.
    const firstPlain = d.findIndex((p) => !dictionaryEncoded(p));
    if (c.pages[0]!.type === "DICTIONARY_PAGE" && firstPlain >= 0) {
      assert.ok(d.slice(firstPlain).every((p) => !dictionaryEncoded(p)), c.path);
    }
  }
  const mixed = pages.filter((c) =>
    data(c).some(dictionaryEncoded) && data(c).some((p) => p.encoding === "PLAIN")
  );
  assert.equal(mixed.length > 0, options.plainFromPage !== undefined, "dictionary → PLAIN");
  const midRow = pages.filter((c) => c.maxRep > 0 && data(c).some((p) => p.firstRep! > 0));
  assert.equal(midRow.length > 0, repeated, "a page of a repeated column starts inside a row");
  if (repeated && options.pageEntries <= 3) {
    assert.ok(
      pages.some((c) => c.maxRep > 0 && data(c).some((p) => p.rowStarts === 0)),
      "a page lies wholly inside one row",
    );
  }
  assert.ok(pages.some((c) => data(c).some((p) => p.allNull)), "a page of nulls only");
}

const name = (f: Fixture) => `${f.classUid} ${f.layout}, ${f.rows} rows`;
const describeVariant = (v: RewriteV1Options) =>
  `${v.pageEntries} entries/page, ${v.codec}` +
  (v.plainFromPage === undefined ? "" : `, PLAIN from page ${v.plainFromPage}`);

for (const fixture of FIXTURES) {
  Deno.test(`v1 pages split inside rows give the same events: ${name(fixture)}`, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "seclake-v1-" });
    try {
      const path = join(dir, "original.parquet");
      const { classUid, layout, rows, rowGroupSize, codec } = fixture;
      await writeOcsfParquet(path, { classUid, layout, rows, rowGroupSize, codec, seed: 7 });
      const original = await Deno.readFile(path);
      const repeated = describePages(original).some((c) => c.maxRep > 0);
      const midGroup = rowGroupSize + 137;
      const reads: ReadEventLinesOptions[] = [
        {},
        { startRow: midGroup, sliceRows: 333 },
        { sliceRows: 7, append: '"@devo_pulling_id":"1"' },
      ];
      const expected = await Promise.all(reads.map((o) => fastPath(original, o)));
      const dropProfiles = layout === "avro" && classUid === 6003;
      const reference = await referencePath(original, dropProfiles);
      const values = columnValues(original);
      for (const variant of fixture.variants) {
        await t.step(describeVariant(variant), async () => {
          const rewritten = rewriteAsV1(original, variant);
          // 1. The rewritten file has what we claim.
          checkPages(describePages(rewritten), variant, repeated);
          // The rewrite is faithful: the same levels and values in every column chunk.
          const got = columnValues(rewritten);
          assert.equal(got.length, values.length);
          for (const [i, c] of got.entries()) {
            assert.ok(isDeepStrictEqual(c, values[i]), `column values of ${c.path}`);
          }
          // 2. The fast path gives the same bytes, in the same slices.
          for (const [i, options] of reads.entries()) {
            const actual = await fastPath(rewritten, options);
            const what = `readEventLines ${JSON.stringify(options)}`;
            assertSameLines(actual.bytes, expected[i]!.bytes, what);
            assert.deepEqual(actual.slices, expected[i]!.slices, what);
          }
          // 3. So does the reference path.
          const events = await referencePath(rewritten, dropProfiles);
          assert.equal(events.length, reference.length);
          for (const [i, e] of events.entries()) {
            if (e !== reference[i]) {
              assert.fail(
                `readEvents row ${i} differs:\nrewritten ${e}\noriginal  ${reference[i]}`,
              );
            }
          }
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("the checks notice two data pages out of order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-v1-" });
  try {
    const path = join(dir, "original.parquet");
    await writeOcsfParquet(path, { classUid: 6003, layout: "avro", rows: 40, seed: 7 });
    const original = await Deno.readFile(path);
    const rewritten = rewriteAsV1(original, { pageEntries: 3 });
    // Swap two consecutive data pages of a list column: every page stays valid on its own.
    const bad = swapPages(rewritten, "resources");
    assert.ok(!isDeepStrictEqual(columnValues(bad), columnValues(original)));
    const a = await fastPath(bad, {});
    const b = await fastPath(original, {});
    assert.ok(!isDeepStrictEqual(a.bytes, b.bytes));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** `file` with the 2nd and 3rd data pages of the first chunk under `column` swapped. */
function swapPages(file: Uint8Array, column: string): Uint8Array {
  const chunk = describePages(file).find((c) => c.path.startsWith(column + "."))!;
  const data = chunk.pages.filter((p) => p.type === "DATA_PAGE");
  const [p, q] = [data[1]!, data[2]!];
  const out = file.slice();
  const first = file.subarray(p.offset, p.offset + p.bytes);
  const second = file.subarray(q.offset, q.offset + q.bytes);
  assert.equal(p.offset + p.bytes, q.offset);
  out.set(second, p.offset);
  out.set(first, p.offset + second.length);
  return out;
}

Deno.test("hyparquet still mis-assembles a two-level list of strings split across pages", async () => {
  // Pins the bug KNOWN_HYPARQUET_BUG works around; when this fails, drop both.
  const dir = await Deno.makeTempDir({ prefix: "seclake-v1-" });
  try {
    const path = join(dir, "original.parquet");
    await writeOcsfParquet(path, { classUid: 6003, layout: "avro", rows: 50, seed: 3 });
    const original = await Deno.readFile(path);
    const rewritten = rewriteAsV1(original, { pageEntries: 7, stagger: false });
    const a = await referencePath(original, false);
    const b = await referencePath(rewritten, false);
    const fast = await fastPath(rewritten, {});
    assert.deepEqual(fast.bytes, (await fastPath(original, {})).bytes);
    assert.notDeepEqual(
      b,
      a,
      "readEvents now reads a two-level list split across pages right: drop KNOWN_HYPARQUET_BUG",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
