import assert from "node:assert/strict";
import {
  type FileMetaData,
  parquetMetadataAsync,
  parquetReadObjects,
  parquetSchema,
  type SchemaTree,
} from "hyparquet";
import { compressors } from "hyparquet-compressors";
import {
  BIG_INT64,
  BIG_INT64_ROW,
  EXPECTED_ROWS_LIMIT,
  type FixtureCodec,
  generateEvents,
  OCSF_CLASS_UIDS,
  ocsfSchema,
  type ParquetLayout,
  toExpected,
  writeDemoLake,
  writeOcsfParquet,
} from "./ocsf_fixtures.ts";

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

async function readBuffer(path: string): Promise<ArrayBuffer> {
  const bytes = await Deno.readFile(path);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ocsf_fixtures_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Hex SHA-256 of a file (cheap to compare and to print, unlike a byte-array diff). */
async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** JSON with bigints spelled `123n`, so key order and bigint-vs-number both count. */
function stringify(value: unknown): string {
  return JSON.stringify(value, (_k, v) => typeof v === "bigint" ? `${v}n` : v);
}

/**
 * Test-local value policy over what hyparquet returns, driven by the file's schema: INT64 to
 * number (bigint above 2^53), Date to ISO string, nulls dropped, a LIST to an array whatever its
 * layout (hyparquet returns a legacy 2-level list of structs as `{ array: [...] }`).
 */
function normalize(value: unknown, node: SchemaTree): unknown {
  if (value === null || value === undefined) return undefined;
  const { element, children } = node;
  if (!children.length) {
    if (typeof value === "bigint") {
      return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : value;
    }
    return value instanceof Date ? value.toISOString() : value;
  }
  if (element.converted_type === "LIST") {
    const repeated = children[0];
    const threeLevel = repeated.children.length === 1 && repeated.element.name === "list";
    const elementNode = threeLevel ? repeated.children[0] : repeated;
    const items = Array.isArray(value)
      ? value
      : (value as Record<string, unknown>)[repeated.element.name] as unknown[];
    assert(Array.isArray(items), `LIST ${element.name} read as ${stringify(value)}`);
    return items.map((item) => normalize(item, elementNode));
  }
  if (element.converted_type === "MAP") {
    const valueNode = children[0].children[1];
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map((
        [k, v],
      ) => [k, normalize(v, valueNode)]),
    );
  }
  const out: Record<string, unknown> = {};
  for (const child of children) {
    const v = normalize((value as Record<string, unknown>)[child.element.name], child);
    if (v !== undefined) out[child.element.name] = v;
  }
  return out;
}

async function readAll(path: string): Promise<
  { metadata: FileMetaData; rows: Record<string, unknown>[]; normalized: unknown[] }
> {
  const file = await readBuffer(path);
  const metadata = await parquetMetadataAsync(file);
  const rows = await parquetReadObjects({ file, compressors });
  const root = parquetSchema(metadata);
  return { metadata, rows, normalized: rows.map((r) => normalize(r, root)) };
}

function node(root: SchemaTree, path: string): SchemaTree {
  let current = root;
  for (const name of path.split(".")) {
    const next = current.children.find((c) => c.element.name === name);
    assert(next, `no schema node ${name} in ${path}`);
    current = next;
  }
  return current;
}

function codecs(metadata: FileMetaData): Set<string | undefined> {
  return new Set(metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec)));
}

// ---------------------------------------------------------------------------------------------
// generateEvents / toExpected
// ---------------------------------------------------------------------------------------------

Deno.test("generateEvents is deterministic and rows do not depend on the batch", () => {
  for (const classUid of OCSF_CLASS_UIDS) {
    const all = generateEvents({ classUid, rows: 40, seed: 11 });
    assert.deepEqual(generateEvents({ classUid, rows: 40, seed: 11 }), all);
    assert.deepEqual(
      generateEvents({ classUid, rows: 15, seed: 11, startRow: 20 }),
      all.slice(20, 35),
    );
    assert.notDeepEqual(generateEvents({ classUid, rows: 40, seed: 12 }), all);
    const uids = all.map((e) => (e.metadata as Record<string, unknown>).uid);
    assert.deepEqual(uids, all.map((_, i) => `11-${classUid}-${i}`));
  }
});

Deno.test("generateEvents rejects out-of-range options with a RangeError naming them", () => {
  assert.throws(
    // @ts-expect-error an unsupported class
    () => generateEvents({ classUid: 3002, rows: 1, seed: 1 }),
    { name: "RangeError", message: /classUid/ },
  );
  assert.throws(
    () => generateEvents({ classUid: 6003, rows: -1, seed: 1 }),
    { name: "RangeError", message: /rows/ },
  );
  assert.throws(
    () => generateEvents({ classUid: 6003, rows: 1, seed: 1.5 }),
    { name: "RangeError", message: /seed/ },
  );
  assert.throws(
    () => generateEvents({ classUid: 6003, rows: 1, seed: 1, startRow: -3 }),
    { name: "RangeError", message: /startRow/ },
  );
});

Deno.test("toExpected applies the value policy and the null rule", () => {
  const events = generateEvents({ classUid: 6003, rows: 2_000, seed: 1 });
  const expected = events.map((e) => toExpected(e, 6003));
  const row7 = expected[BIG_INT64_ROW] as { metadata: { sequence: unknown } };
  assert.deepEqual(row7.metadata.sequence, BIG_INT64);
  assert.deepEqual(
    typeof (expected[8] as { metadata: { sequence: unknown } }).metadata.sequence,
    "number",
  );
  for (const [i, e] of expected.entries()) {
    const ev = events[i] as Record<string, unknown>;
    assert.deepEqual(e.time, Number(ev.time));
    assert.match(e.time_dt as string, /^2024-04-1[01]T\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(typeof e.type_uid, "number");
    assert(!stringify(e).includes("null"), `row ${i} has a null: ${stringify(e)}`);
    const unmapped = e.unmapped as Record<string, string>;
    const n = Object.keys(unmapped).length;
    assert(n >= 2 && n <= 6, `row ${i} unmapped has ${n} entries`);
  }
  // Every case of the null rule occurs, so the round-trip tests below exercise each of them.
  const api = (e: Record<string, unknown>) => e.api as Record<string, unknown>;
  const count = (pred: (e: Record<string, unknown>) => boolean) => expected.filter(pred).length;
  assert(count((e) => !("response" in api(e))) > 100, "null struct left out");
  assert(count((e) => stringify(api(e).response) === "{}") > 100, "all-null struct kept as {}");
  assert(count((e) => !("resources" in e)) > 100, "null list left out");
  assert(count((e) => stringify(e.resources) === "[]") > 100, "empty list kept as []");
  assert(count((e) => !("domain" in (e.src_endpoint as object))) > 100, "null leaf left out");
  const errors = count((e) => "error" in ((api(e).response ?? {}) as object));
  assert(errors > 300 && errors < 500, `api.response.error present in ${errors}/2000`);
});

// ---------------------------------------------------------------------------------------------
// writeOcsfParquet: round trips through hyparquet
// ---------------------------------------------------------------------------------------------

for (const layout of ["standard", "avro"] as const) {
  for (const classUid of OCSF_CLASS_UIDS) {
    Deno.test(`class ${classUid} ${layout}: hyparquet reads back exactly the expected events`, async () => {
      await withTempDir(async (dir) => {
        const path = `${dir}/f.parquet`;
        const result = await writeOcsfParquet(path, {
          classUid,
          rows: 1_234,
          seed: 3,
          rowGroupSize: 500,
          layout,
        });
        assert.deepEqual(result.rows, 1_234);
        assert.deepEqual(result.bytes, (await Deno.stat(path)).size);
        assert(result.expected);
        assert.deepEqual(result.expected.length, 1_234);
        const { metadata, normalized } = await readAll(path);
        assert.deepEqual(metadata.num_rows, 1_234n);
        assert.deepEqual(metadata.row_groups.map((g) => g.num_rows), [500n, 500n, 234n]);
        assert.deepEqual(codecs(metadata), new Set(["GZIP"]));
        for (let i = 0; i < normalized.length; i++) {
          assert.deepEqual(stringify(normalized[i]), stringify(result.expected[i]), `row ${i}`);
        }
      });
    });
  }
}

Deno.test("45,000 rows at 20,000 per group make 3 row groups, GZIP in every column chunk", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/ct.gz.parquet`;
    const result = await writeOcsfParquet(path, { classUid: 6003, rows: 45_000, seed: 1 });
    const metadata = await parquetMetadataAsync(await readBuffer(path));
    assert.deepEqual(metadata.num_rows, 45_000n);
    assert.deepEqual(metadata.row_groups.map((g) => g.num_rows), [20_000n, 20_000n, 5_000n]);
    assert.deepEqual(codecs(metadata), new Set(["GZIP"]));
    assert.deepEqual(result.expected?.length, 45_000);
    assert.deepEqual(
      (result.expected?.[44_999].metadata as Record<string, unknown>).uid,
      "1-6003-44999",
    );
  });
});

for (const codec of ["GZIP", "ZSTD", "SNAPPY", "UNCOMPRESSED"] as FixtureCodec[]) {
  Deno.test(`codec ${codec} is recorded in the footer and decodes`, async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/c.parquet`;
      const result = await writeOcsfParquet(path, { classUid: 6003, rows: 300, seed: 2, codec });
      const { metadata, normalized } = await readAll(path);
      assert.deepEqual(codecs(metadata), new Set([codec]));
      assert.deepEqual(stringify(normalized), stringify(result.expected));
    });
  });
}

Deno.test("compression actually shrinks the file (the codec is applied, not just labelled)", async () => {
  await withTempDir(async (dir) => {
    const sizes: Record<string, number> = {};
    for (const codec of ["UNCOMPRESSED", "GZIP", "ZSTD"] as FixtureCodec[]) {
      const r = await writeOcsfParquet(`${dir}/${codec}.parquet`, {
        classUid: 4001,
        rows: 3_000,
        seed: 2,
        codec,
      });
      sizes[codec] = r.bytes;
    }
    assert(sizes.GZIP < sizes.UNCOMPRESSED * 0.8, JSON.stringify(sizes));
    assert(sizes.ZSTD < sizes.UNCOMPRESSED * 0.8, JSON.stringify(sizes));
  });
});

// ---------------------------------------------------------------------------------------------
// Schema shapes
// ---------------------------------------------------------------------------------------------

async function writtenSchema(
  dir: string,
  layout: ParquetLayout,
): Promise<{ metadata: FileMetaData; root: SchemaTree }> {
  const path = `${dir}/${layout}.parquet`;
  await writeOcsfParquet(path, { classUid: 6003, rows: 20, seed: 1, layout });
  const metadata = await parquetMetadataAsync(await readBuffer(path));
  return { metadata, root: parquetSchema(metadata) };
}

Deno.test("standard layout: nested groups, 3-level LIST, MAP key_value, INT64 and TIMESTAMP", async () => {
  await withTempDir(async (dir) => {
    const { metadata, root } = await writtenSchema(dir, "standard");
    assert.deepEqual(
      metadata.schema.map((e) => [e.name, e.type, e.repetition_type, e.converted_type]),
      ocsfSchema(6003, "standard").map((
        e,
      ) => [e.name, e.type, e.repetition_type, e.converted_type]),
    );
    assert.deepEqual(root.element.name, "schema");
    const el = (p: string) => node(root, p).element;
    assert.deepEqual(el("metadata.product.feature.name").type, "BYTE_ARRAY");
    assert.deepEqual(el("metadata.product.feature.name").converted_type, "UTF8");
    assert.deepEqual(el("metadata.profiles").converted_type, "LIST");
    assert.deepEqual(el("metadata.profiles").logical_type, { type: "LIST" });
    assert.deepEqual(el("metadata.profiles.list").repetition_type, "REPEATED");
    assert.deepEqual(el("metadata.profiles.list.element").type, "BYTE_ARRAY");
    assert.deepEqual(el("metadata.profiles.list.element").repetition_type, "OPTIONAL");
    assert.deepEqual(el("resources").converted_type, "LIST");
    assert.deepEqual(
      node(root, "resources.list.element").children.map((c) => c.element.name),
      ["uid", "owner", "type"],
    );
    assert.deepEqual(el("resources.list.element.owner.account.uid").type, "BYTE_ARRAY");
    assert.deepEqual(el("observables.list.element.type_id").type, "INT32");
    assert.deepEqual(el("unmapped").converted_type, "MAP");
    assert.deepEqual(el("unmapped").logical_type, { type: "MAP" });
    assert.deepEqual(el("unmapped.key_value").repetition_type, "REPEATED");
    assert.deepEqual(el("unmapped.key_value.key").repetition_type, "REQUIRED");
    assert.deepEqual(el("unmapped.key_value.value").repetition_type, "OPTIONAL");
    assert.deepEqual([el("time").type, el("time").converted_type], ["INT64", undefined]);
    assert.deepEqual([el("time_dt").type, el("time_dt").converted_type], [
      "INT64",
      "TIMESTAMP_MILLIS",
    ]);
    assert.deepEqual(el("time_dt").logical_type, {
      type: "TIMESTAMP",
      isAdjustedToUTC: true,
      unit: "MILLIS",
    });
    assert.deepEqual(el("metadata.processed_time_dt").converted_type, "TIMESTAMP_MILLIS");
    assert.deepEqual(el("actor.session.created_time_dt").converted_type, "TIMESTAMP_MILLIS");
    assert.deepEqual(el("actor.session.is_mfa").type, "BOOLEAN");
    assert.deepEqual(el("type_uid").type, "INT64");
    assert.deepEqual(el("metadata.sequence").type, "INT64");
    assert.deepEqual(el("class_uid").type, "INT32");
    assert.deepEqual(el("class_uid").repetition_type, "REQUIRED");
  });
});

Deno.test("avro layout: Security Lake's legacy 2-level LIST and MAP (MAP_KEY_VALUE)", async () => {
  await withTempDir(async (dir) => {
    const { metadata, root } = await writtenSchema(dir, "avro");
    assert.deepEqual(
      metadata.schema.map((e) => [e.name, e.type, e.repetition_type, e.converted_type]),
      ocsfSchema(6003, "avro").map((e) => [e.name, e.type, e.repetition_type, e.converted_type]),
    );
    assert.deepEqual(root.element.name, "api_activity");
    const el = (p: string) => node(root, p).element;
    assert.deepEqual(el("metadata.profiles").converted_type, "LIST");
    assert.deepEqual(el("metadata.profiles").logical_type, undefined);
    assert.deepEqual(el("metadata.profiles.array").repetition_type, "REPEATED");
    assert.deepEqual(el("metadata.profiles.array").type, "BYTE_ARRAY");
    assert.deepEqual(el("metadata.profiles.array").converted_type, "UTF8");
    assert.deepEqual(el("resources.array").repetition_type, "REPEATED");
    assert.deepEqual(
      node(root, "resources.array").children.map((c) => c.element.name),
      ["uid", "owner", "type"],
    );
    assert.deepEqual(el("unmapped").converted_type, "MAP");
    assert.deepEqual(el("unmapped.map").converted_type, "MAP_KEY_VALUE");
    assert.deepEqual(el("unmapped.map").repetition_type, "REPEATED");
    assert.deepEqual(el("unmapped.map.key").repetition_type, "REQUIRED");
    assert.deepEqual(el("unmapped.map.value").repetition_type, "REQUIRED");
    assert.deepEqual(el("time_dt").converted_type, "TIMESTAMP_MILLIS");
    assert.deepEqual(el("time_dt").logical_type, undefined);
  });
});

Deno.test("avro layout reads like Security Lake's own files: struct lists come back as { array }", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/a.parquet`;
    await writeOcsfParquet(path, { classUid: 6003, rows: 50, seed: 1, layout: "avro" });
    const { rows } = await readAll(path);
    const withResources = rows.find((r) =>
      Array.isArray((r.resources as { array?: unknown })?.array)
    );
    assert(withResources, "no row has resources as { array: [...] }");
    assert(rows.every((r) => Array.isArray((r.metadata as { profiles: unknown }).profiles)));
  });
});

// ---------------------------------------------------------------------------------------------
// Determinism, INT64 exactness, expected limit
// ---------------------------------------------------------------------------------------------

for (const layout of ["standard", "avro"] as const) {
  Deno.test(`${layout}: same seed gives the same bytes, another seed other bytes`, async () => {
    await withTempDir(async (dir) => {
      const opts = { classUid: 6003 as const, rows: 700, rowGroupSize: 300, layout };
      await writeOcsfParquet(`${dir}/a.parquet`, { ...opts, seed: 5 });
      await writeOcsfParquet(`${dir}/b.parquet`, { ...opts, seed: 5 });
      await writeOcsfParquet(`${dir}/c.parquet`, { ...opts, seed: 6 });
      const [a, b, c] = await Promise.all(
        ["a", "b", "c"].map((n) => sha256(`${dir}/${n}.parquet`)),
      );
      assert.equal(a, b);
      assert.notEqual(a, c);
    });
  });
}

Deno.test("INT64 9007199254740993n survives the file as a bigint", async () => {
  await withTempDir(async (dir) => {
    for (const layout of ["standard", "avro"] as const) {
      const path = `${dir}/${layout}.parquet`;
      await writeOcsfParquet(path, { classUid: 6003, rows: 20, seed: 9, layout });
      const file = await readBuffer(path);
      const [row] = await parquetReadObjects({
        file,
        compressors,
        rowStart: BIG_INT64_ROW,
        rowEnd: BIG_INT64_ROW + 1,
      });
      const sequence = (row.metadata as { sequence: unknown }).sequence;
      assert.deepEqual(typeof sequence, "bigint");
      assert.deepEqual(sequence, 9007199254740993n);
      assert.deepEqual(row.time_dt instanceof Date, true);
      assert.deepEqual(typeof row.time, "bigint");
    }
  });
});

Deno.test("expected is left out above EXPECTED_ROWS_LIMIT rows", async () => {
  await withTempDir(async (dir) => {
    const result = await writeOcsfParquet(`${dir}/big.parquet`, {
      classUid: 4001,
      rows: EXPECTED_ROWS_LIMIT + 1,
      seed: 1,
      rowGroupSize: 30_000,
      codec: "UNCOMPRESSED",
    });
    assert.deepEqual(result.expected, undefined);
    assert.deepEqual(result.rows, EXPECTED_ROWS_LIMIT + 1);
    const metadata = await parquetMetadataAsync(await readBuffer(result.path));
    assert.deepEqual(metadata.row_groups.map((g) => g.num_rows), [30_000n, 20_001n]);
  });
});

Deno.test("zero rows make a valid empty file", async () => {
  await withTempDir(async (dir) => {
    const result = await writeOcsfParquet(`${dir}/empty.parquet`, {
      classUid: 4003,
      rows: 0,
      seed: 1,
    });
    assert.deepEqual(result.expected, []);
    const { metadata, rows } = await readAll(result.path);
    assert.deepEqual(metadata.num_rows, 0n);
    assert.deepEqual(rows, []);
  });
});

Deno.test("writeOcsfParquet rejects bad options before creating the file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/x.parquet`;
    const base = { classUid: 6003 as const, rows: 1, seed: 1 };
    await assertRejectsRange(
      () => writeOcsfParquet(path, { ...base, rowGroupSize: 0 }),
      "rowGroupSize",
    );
    await assertRejectsRange(
      // @ts-expect-error an unsupported codec
      () => writeOcsfParquet(path, { ...base, codec: "LZ4" }),
      "codec",
    );
    await assertRejectsRange(
      // @ts-expect-error an unsupported layout
      () => writeOcsfParquet(path, { ...base, layout: "arrow" }),
      "layout",
    );
    await assertRejectsRange(() => writeOcsfParquet(path, { ...base, seed: -1 }), "seed");
    const exists = await Deno.stat(path).then(() => true, () => false);
    assert.deepEqual(exists, false);
  });
});

function assertRejectsRange(fn: () => Promise<unknown>, word: string): Promise<void> {
  return assert.rejects(fn, { name: "RangeError", message: new RegExp(word) });
}

// ---------------------------------------------------------------------------------------------
// Demo lake
// ---------------------------------------------------------------------------------------------

const NATIVE_KEY =
  /^aws\/[A-Z0-9_]+\/2\.0\/region=[a-z]{2}-[a-z]+-\d\/accountId=\d{12}\/eventDay=\d{8}\/[0-9a-f]{32}\.gz\.parquet$/;
const CUSTOM_KEY =
  /^ext\/my_source\/1\.0\/region=[a-z]{2}-[a-z]+-\d\/accountId=\d{12}\/eventDay=\d{8}\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.parquet$/;

async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const key = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) out.push(...await listFiles(dir, key));
    else out.push(key);
  }
  return out.sort();
}

Deno.test("writeDemoLake writes a Security Lake-shaped tree that reads back as announced", async () => {
  await withTempDir(async (dir) => {
    const lake = await writeDemoLake(dir, { seed: 4 });
    const keys = lake.files.map((f) => f.key);
    assert.deepEqual(await listFiles(dir), [...keys, ...lake.skipped].sort());
    assert(keys.some((k) => k.startsWith("aws/CLOUD_TRAIL_MGMT/2.0/")));
    assert(keys.some((k) => k.startsWith("aws/VPC_FLOW/2.0/")));
    assert(keys.some((k) => k.startsWith("ext/")));
    assert(new Set(lake.files.map((f) => f.classUid)).size >= 3, "several classes");
    assert(lake.totalRows >= 2_000 && lake.totalRows <= 10_000, `${lake.totalRows} rows`);
    assert.deepEqual(lake.totalRows, lake.files.reduce((n, f) => n + f.rows, 0));
    assert(lake.files.some((f) => f.rowGroups >= 3), "one file has several row groups");
    for (const f of lake.files) {
      assert.deepEqual(f.path, `${dir}/${f.key}`);
      if (f.key.startsWith("aws/")) {
        assert.match(f.key, NATIVE_KEY);
        assert.deepEqual([f.codec, f.layout], ["GZIP", "avro"]);
      } else {
        assert.match(f.key, CUSTOM_KEY);
        assert.deepEqual([f.codec, f.layout], ["ZSTD", "standard"]);
      }
      const { metadata, rows } = await readAll(f.path);
      assert.deepEqual(metadata.num_rows, BigInt(f.rows));
      assert.deepEqual(metadata.row_groups.length, f.rowGroups);
      assert.deepEqual(codecs(metadata), new Set([f.codec]));
      assert(rows.every((r) => r.class_uid === f.classUid));
      const account = f.key.match(/accountId=(\d+)/)?.[1];
      assert(rows.every((r) => (r.cloud as { account: { uid: string } }).account.uid === account));
    }
    assert.deepEqual(lake.skipped.length >= 1, true);
    for (const key of lake.skipped) {
      assert.match(key, /\/metadata\/\d{5}-[0-9a-f-]{36}\.metadata\.json$/);
      const head = (await Deno.readFile(`${dir}/${key}`)).subarray(0, 4);
      assert.notDeepEqual(new TextDecoder().decode(head), "PAR1");
      JSON.parse(await Deno.readTextFile(`${dir}/${key}`));
    }
  });
});

Deno.test("writeDemoLake is deterministic for a seed", async () => {
  await withTempDir(async (dir) => {
    const a = await writeDemoLake(`${dir}/a`, { seed: 4 });
    const b = await writeDemoLake(`${dir}/b`, { seed: 4 });
    const c = await writeDemoLake(`${dir}/c`, { seed: 5 });
    assert.deepEqual(a.files.map((f) => f.key), b.files.map((f) => f.key));
    assert.notDeepEqual(a.files.map((f) => f.key), c.files.map((f) => f.key));
    for (const [i, f] of a.files.entries()) {
      assert.equal(await sha256(f.path), await sha256(b.files[i].path), f.key);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

const SCRIPT = new URL("../../scripts/ocsf_fixtures.ts", import.meta.url).pathname;
const REPO = new URL("../..", import.meta.url).pathname;

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, stdout: dec.decode(stdout), stderr: dec.decode(stderr) };
}

Deno.test("CLI --out writes one file with the asked class, codec, layout and row groups", async () => {
  await withTempDir(async (dir) => {
    const { code, stdout, stderr } = await runCli([
      "--out",
      dir,
      "--rows",
      "250",
      "--class",
      "4003",
      "--codec",
      "zstd",
      "--row-group",
      "100",
      "--layout",
      "avro",
      "--seed",
      "8",
    ]);
    assert.deepEqual(code, 0, stderr);
    const summary = JSON.parse(stdout);
    assert.deepEqual([summary.rows, summary.classUid, summary.codec], [250, 4003, "ZSTD"]);
    assert(summary.path.startsWith(dir));
    const { metadata, rows } = await readAll(summary.path);
    assert.deepEqual(metadata.row_groups.map((g) => g.num_rows), [100n, 100n, 50n]);
    assert.deepEqual(codecs(metadata), new Set(["ZSTD"]));
    assert.deepEqual(parquetSchema(metadata).element.name, "dns_activity");
    assert.deepEqual((rows[0].metadata as { uid: string }).uid, "8-4003-0");
  });
});

Deno.test("CLI --demo-lake writes the lake; bad arguments fail with a message", async () => {
  await withTempDir(async (dir) => {
    const ok = await runCli(["--demo-lake", dir]);
    assert.deepEqual(ok.code, 0, ok.stderr);
    const summary = JSON.parse(ok.stdout);
    assert(summary.totalRows > 0);
    assert.deepEqual((await listFiles(dir)).length, summary.files.length + summary.skipped.length);

    const unknown = await runCli(["--bogus"]);
    assert.deepEqual(unknown.code, 2);
    assert.match(unknown.stderr, /bogus/);
    const badClass = await runCli(["--out", dir, "--class", "9999"]);
    assert.deepEqual(badClass.code, 1);
    assert.match(badClass.stderr, /classUid/);
    const nothing = await runCli([]);
    assert.deepEqual(nothing.code, 2);
  });
});
