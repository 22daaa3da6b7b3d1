/**
 * The fast path (JSON text straight from column data) must give exactly the events of the plain
 * reference path (row objects + a JSON serializer) on every fixture and every public sample; with
 * obfuscation rules, exactly the bytes of the object path (each line parsed back, obfuscated and
 * serialized again).
 */
import assert from "node:assert/strict";
import { listParquet, SAMPLES_PARQUET } from "./helpers/samples.ts";
import { corpus } from "./helpers/interop.ts";
import { isDeepStrictEqual } from "node:util";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import type { FixtureCodec, OcsfClassUid, ParquetLayout } from "./lib/ocsf_fixtures.ts";
import { readEventLines } from "../src/parquet/json_reader.ts";
import { bufferFromFile, readEvents } from "../src/parquet/reader.ts";
import { toJson } from "../src/transform/json.ts";
import { Obfuscator } from "../src/transform/obfuscate.ts";
import type { ObfuscationRule } from "../src/config/types.ts";
import { rewrittenLines } from "../src/parquet/obfuscated_lines.ts";

const SAMPLES = SAMPLES_PARQUET;

const exact = (s: string) =>
  JSON.parse(
    s,
    (_k, v, c?: { source?: string }) =>
      typeof v === "number" && !Number.isSafeInteger(v) && c?.source && /^-?\d+$/.test(c.source)
        ? BigInt(c.source)
        : v,
  );

/**
 * Compares both paths on `path` from `startRow`; `groupReadBytes` 0 makes the fast path read every
 * column chunk in windows instead of each row group at once.
 */
async function compare(
  path: string,
  startRow = 0,
  groupReadBytes?: number,
  pieceEntries?: number,
): Promise<number> {
  const file = await bufferFromFile(path);
  try {
    const reference: string[] = [];
    for await (const s of readEvents(file, { startRow })) {
      for (const e of s.events) reference.push(toJson(e));
    }
    const fast: string[] = [];
    const dec = new TextDecoder();
    for await (
      const s of readEventLines(file, { startRow, sliceRows: 333, groupReadBytes, pieceEntries })
    ) {
      const lines = dec.decode(s.bytes).split("\n");
      assert.equal(lines.pop(), "");
      assert.equal(lines.length, s.rows);
      fast.push(...lines);
    }
    assert.equal(fast.length, reference.length, path);
    for (let i = 0; i < fast.length; i++) {
      if (fast[i] !== reference[i]) {
        // Only map key order may differ (JavaScript objects put integer-like keys first).
        assert.ok(
          isDeepStrictEqual(exact(fast[i]!), exact(reference[i]!)),
          `${path} row ${startRow + i} differs:\nfast ${fast[i]}\nref  ${reference[i]}`,
        );
      }
    }
    return fast.length;
  } finally {
    file.close();
  }
}

function rule(r: Partial<ObfuscationRule> & Pick<ObfuscationRule, "method">): ObfuscationRule {
  return { value: "****", hash_length: 64, keep_last: 4, ...r };
}

const IPV4 = "\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b";

/** Rule sets the fast path must apply with the object path's bytes. */
const RULE_SETS: Record<string, ObfuscationRule[]> = {
  // One path hashed, one IPv4 pattern masked.
  pair: [
    rule({ paths: ["actor.user.name"], method: "hash", hash_key: "k" }),
    rule({ string_patterns: [IPV4], method: "mask", value: "x.x.x.x" }),
  ],
  // Every method on paths (strings, numbers, booleans, timestamps, list elements, map values,
  // whole structs and lists dropped), then patterns on every text and key, chained: a value
  // hashed by one rule is searched as its hash by the next.
  methods: [
    rule({
      paths: ["src_endpoint.ip", "time", "severity_id", "actor.session.is_mfa", "*.uid"],
      method: "hash",
      hash_key: "secret",
      hash_length: 12,
    }),
    rule({ paths: ["observables[].value", "metadata.product.*", "time_dt"], method: "partial" }),
    rule({ paths: ["unmapped.*", "api.operation", "actor.user.name"], method: "mask", value: "M" }),
    rule({
      paths: ["resources[].uid", "cloud.region", "http_request", "api.request", "dst_endpoint"],
      method: "drop",
    }),
    rule({ string_patterns: ["[0-9a-f]{6}", "\\d{3,}"], method: "mask", value: "#" }),
    rule({ string_patterns: ["Signature|Cipher|tls\\w+"], method: "mask", value: "K" }),
    rule({ string_patterns: ["^[a-c]"], method: "partial", keep_last: 2 }),
  ],
  // Patterns that drop strings (list elements, members, map entries by key) and rules on paths
  // below one another, applied twice through two paths to one field.
  drops: [
    rule({ paths: ["observables[]"], string_patterns: ["[aeiou]{2}"], method: "drop" }),
    rule({ paths: ["unmapped"], string_patterns: ["^re|true"], method: "drop" }),
    rule({ string_patterns: [IPV4, "@"], method: "drop" }),
    rule({ paths: ["actor.user.name", "*.user.name"], method: "hash", hash_key: "k" }),
    rule({ paths: ["resources[]"], method: "drop" }),
    rule({ paths: ["metadata.*"], string_patterns: ["\\."], method: "hash", hash_key: "z" }),
  ],
  // What the fast path leaves to the object path: a struct hashed, a map key named.
  fallback: [
    rule({ paths: ["actor"], method: "hash", hash_key: "k", hash_length: 8 }),
    rule({ paths: ["unmapped.eventCategory", "metadata"], method: "partial" }),
    rule({ string_patterns: [IPV4], method: "mask" }),
  ],
};

/**
 * Compares the fast path with rules against the object path with the same rules on `path`
 * (its first `maxRows` rows from `startRow`): the same bytes, line by line, and the same counts.
 */
async function compareObfuscated(
  path: string,
  startRow = 0,
  groupReadBytes?: number,
  pieceEntries?: number,
  maxRows = Infinity,
): Promise<void> {
  const file = await bufferFromFile(path);
  const dec = new TextDecoder();
  try {
    for (const [name, rules] of Object.entries(RULE_SETS)) {
      const options = {
        startRow,
        sliceRows: 333,
        groupReadBytes,
        pieceEntries,
        append: '"@devo_pulling_id":"1234567890"',
      };
      const slow = new Obfuscator(rules);
      const fast = new Obfuscator(rules);
      const reference: string[] = [];
      for await (const s of rewrittenLines(file, { ...options, obfuscator: slow })) {
        reference.push(...dec.decode(s.bytes).split("\n").slice(0, -1));
        if (reference.length >= maxRows) break;
      }
      const lines: string[] = [];
      const fields: number[] = [];
      for await (const s of readEventLines(file, { ...options, obfuscator: fast })) {
        const text = dec.decode(s.bytes).split("\n");
        assert.equal(text.pop(), "");
        assert.equal(text.length, s.rows);
        assert.equal(s.fields?.length, s.rows);
        lines.push(...text);
        fields.push(...s.fields!);
        if (lines.length >= maxRows) break;
      }
      if (maxRows < Infinity) {
        // Slices of different sizes may end the two reads at different rows.
        lines.length = Math.min(lines.length, maxRows);
        reference.length = Math.min(reference.length, maxRows);
      }
      assert.equal(lines.length, reference.length, `${path} ${name}`);
      for (let i = 0; i < lines.length; i++) {
        assert.equal(
          lines[i],
          reference[i],
          `${path} with rules ${name}, row ${startRow + i} differs:\nfast ${lines[i]}\nref  ${
            reference[i]
          }`,
        );
      }
      if (maxRows === Infinity) {
        assert.deepEqual(fast.stats, slow.stats, `${path} ${name}`);
        assert.equal(fields.reduce((a, b) => a + b, 0), fast.stats.fieldsObfuscated);
      }
    }
  } finally {
    file.close();
  }
}

Deno.test("fast path equals the reference path on every public sample", async () => {
  const files = await listParquet(SAMPLES);
  let rows = 0;
  for (const f of files) rows += await compare(f);
  if (files.length > 0) assert.ok(rows >= files.length);
  // Column chunks read in windows give the same events.
  for (const f of files) await compare(f, 0, 0);
});

Deno.test("fast path with obfuscation rules equals the object path on every public sample", async () => {
  const files = await listParquet(SAMPLES);
  for (const f of files) {
    await compareObfuscated(f);
    await compareObfuscated(f, 0, 0, 7);
  }
});

Deno.test("fast path equals the reference path on every file of the interoperability corpus", async () => {
  // Written by DuckDB, arrow-rs, Polars, parquetjs and hyparquet-writer (see tests/interop/).
  const files = (await corpus()).filter((f) => !f.sample).map((f) => f.file);
  assert.ok(files.length >= 20, `${files.length} corpus files`);
  for (const f of files) {
    await compare(f);
    // Column chunks read in windows, and resuming inside a row group.
    await compare(f, 0, 0);
    await compare(f, 3);
    // With rules: resuming inside a row group, column chunks in windows, pages in pieces (the
    // first slices of the large files: the rules act on values, the same in every row group).
    await compareObfuscated(f, 3, 0, 5, 3000);
  }
});

Deno.test("fast path equals the reference path on generated fixtures of every class and layout", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-diff-" });
  try {
    const codecs: FixtureCodec[] = ["GZIP", "ZSTD", "SNAPPY", "UNCOMPRESSED"];
    let i = 0;
    for (const classUid of [6003, 4001, 4003, 2004] as OcsfClassUid[]) {
      for (const layout of ["avro", "standard"] as ParquetLayout[]) {
        const codec = codecs[i++ % codecs.length]!;
        const path = join(dir, `${classUid}-${layout}.parquet`);
        await writeOcsfParquet(path, {
          classUid,
          rows: 1200,
          seed: 500 + i,
          codec,
          layout,
          rowGroupSize: 500,
        });
        assert.equal(await compare(path), 1200);
        // Resuming mid row group gives the same rows as the reference path.
        assert.equal(await compare(path, 777), 1200 - 777);
        assert.equal(await compare(path, 777, 0), 1200 - 777);
        await compareObfuscated(path);
        await compareObfuscated(path, 777, 0, 7);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pages decoded a few entries at a time give the same events", async () => {
  // Pieces of 7 and 1 entries end inside runs of every stream, inside lists and maps, and
  // between the values of one row; the fixtures' pages hold up to 500 rows' entries.
  const dir = await Deno.makeTempDir({ prefix: "seclake-diff-" });
  try {
    const files = await listParquet(SAMPLES);
    let i = 0;
    for (const classUid of [6003, 4001, 4003, 2004] as OcsfClassUid[]) {
      const path = join(dir, `${classUid}.parquet`);
      const codec: FixtureCodec = i++ % 2 === 0 ? "ZSTD" : "UNCOMPRESSED";
      await writeOcsfParquet(path, { classUid, rows: 1200, seed: 77, codec, rowGroupSize: 500 });
      files.push(path);
    }
    for (const piece of [7, 1]) {
      for (const f of files) await compare(f, 0, undefined, piece);
      // Resuming inside a page that is decoded in pieces.
      for (const f of files.slice(-4)) {
        assert.equal(await compare(f, 777, undefined, piece), 1200 - 777);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a row group larger than groupReadBytes is read column by column in windows, with the same lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-diff-" });
  try {
    const path = join(dir, "ct.parquet");
    // 40,000 rows in one row group: several 1 MiB pages in the larger columns.
    await writeOcsfParquet(path, {
      classUid: 6003,
      rows: 40_000,
      seed: 9,
      codec: "GZIP",
      rowGroupSize: 40_000,
    });
    const file = await bufferFromFile(path);
    const reads: [number, number][] = [];
    const counted = {
      byteLength: file.byteLength,
      slice: (s: number, e?: number) => {
        reads.push([s, e ?? file.byteLength]);
        return file.slice(s, e);
      },
    };
    try {
      const all = async (groupReadBytes?: number) => {
        reads.length = 0;
        const out: Uint8Array[] = [];
        for await (const s of readEventLines(counted, { groupReadBytes })) out.push(s.bytes);
        return { bytes: Buffer.concat(out), reads: [...reads] };
      };
      const whole = await all();
      const windows = await all(0);
      assert.ok(whole.bytes.equals(windows.bytes));
      // Whole: the footer, then one read of the row group. Windows: one read per column chunk
      // at least, more for chunks over 1 MiB, and none larger than a chunk.
      const { parquetMetadataAsync } = await import("hyparquet");
      const md = await parquetMetadataAsync(file);
      const chunks = md.row_groups[0]!.columns.map((c) =>
        Number(c.meta_data!.total_compressed_size)
      );
      const group = chunks.reduce((a, b) => a + b, 0);
      const large = whole.reads.filter(([s, e]) => e - s >= group);
      assert.equal(large.length, 1);
      const dataReads = windows.reads.slice(whole.reads.length - 1);
      assert.ok(dataReads.length >= chunks.length, `${dataReads.length} reads`);
      assert.ok(dataReads.every(([s, e]) => e - s <= Math.max(...chunks)));
      assert.ok(group > 1 << 20, `row group of ${group} bytes`);
    } finally {
      file.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
