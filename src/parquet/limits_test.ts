import assert from "node:assert/strict";
import { brotliCompressSync, gzipSync, zstdCompressSync } from "node:zlib";
import { parquetReadObjects, parquetSchema } from "hyparquet";
import type { FileMetaData } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import { compressors } from "hyparquet-compressors";
import { CollectorError, isCollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { toJson } from "../transform/json.ts";
import { checkSchemaShape, DEFAULT_LIMITS, limitsFor } from "./limits.ts";
import { ReadGuard } from "./read_guard.ts";
import { readPageHeader } from "./page_header.ts";
import type { ParquetLimits } from "./limits.ts";
import { bufferFromBytes, readEvents, readMetadata } from "./reader.ts";
import { readEventLines } from "./json_reader.ts";

const SAMPLES = new URL("../../../shared/research/samples/parquet/", import.meta.url);

async function samples(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: URL) => {
    try {
      for await (const e of Deno.readDir(dir)) {
        if (e.isDirectory) await walk(new URL(e.name + "/", dir));
        else if (e.name.endsWith(".parquet")) out.push(new URL(e.name, dir).pathname);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  };
  await walk(SAMPLES);
  return out.sort();
}

const S = (name: string) => ({
  name,
  type: "BYTE_ARRAY",
  converted_type: "UTF8",
  repetition_type: "OPTIONAL",
});

function write(
  schema: unknown[],
  columnData: { name: string; data: unknown[]; encoding?: string }[],
  codec = "UNCOMPRESSED",
): Uint8Array {
  return new Uint8Array(parquetWriteBuffer({
    schema: [{ name: "root", num_children: schema.length }, ...schema] as never,
    columnData: columnData as never,
    codec: codec as never,
  }));
}

async function readAll(bytes: Uint8Array, limits?: ParquetLimits): Promise<string[]> {
  const out: string[] = [];
  for await (const s of readEvents(bufferFromBytes(bytes), { limits })) {
    for (const e of s.events) out.push(toJson(e));
  }
  return out;
}

async function rejects(p: Promise<unknown>, code: ErrorCode, match?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isCollectorError(e), `expected a CollectorError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.family, "DataError");
    if (match) assert.match(e.message, match);
    return true;
  });
}

/** Offset of the first page of `column` in row group 0, and its parsed header. */
function firstPage(bytes: Uint8Array, metadata: FileMetaData, column: string) {
  const chunk = metadata.row_groups[0]!.columns.find((c) =>
    c.meta_data!.path_in_schema.join(".") === column
  )!.meta_data!;
  const start = Number(chunk.dictionary_page_offset || chunk.data_page_offset);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { start, header: readPageHeader(view, start) };
}

Deno.test("every page of well-formed files passes, and no page is inflated twice", async () => {
  const files: Uint8Array[] = [];
  for (const codec of ["UNCOMPRESSED", "SNAPPY"]) {
    files.push(write(
      [S("a"), { name: "n", type: "INT64", repetition_type: "OPTIONAL" }],
      [
        { name: "a", data: Array.from({ length: 500 }, (_, i) => i % 7 ? `v${i % 5}` : null) },
        { name: "n", data: Array.from({ length: 500 }, (_, i) => i % 3 ? BigInt(i) : null) },
      ],
      codec,
    ));
  }
  for (const path of await samples()) files.push(await Deno.readFile(path));
  for (const bytes of files) {
    const file = bufferFromBytes(bytes);
    const metadata = await readMetadata(file);
    const guard = new ReadGuard(metadata, bytes.length, DEFAULT_LIMITS, "test");
    const guarded = guard.buffer(file);
    for (const column of parquetSchema(metadata).children.map((c) => c.element.name)) {
      const plain = await parquetReadObjects({ file, metadata, columns: [column], compressors });
      const checked = await parquetReadObjects({
        file: guarded,
        metadata,
        columns: [column],
        compressors: guard.compressors,
      });
      guard.release();
      assert.deepEqual(checked, plain);
    }
    assert.equal(guard.unchecked, 0);
  }
});

Deno.test("a footer length beyond the object gives DataError 604", async () => {
  const bytes = write([S("a")], [{ name: "a", data: ["x", "y"] }]);
  const view = new DataView(bytes.buffer);
  view.setUint32(bytes.length - 8, bytes.length + 100, true);
  await rejects(readAll(bytes), "PARQUET_FOOTER_INVALID", /footer length \d+ exceeds the object/);
  const ok = write([S("a")], [{ name: "a", data: ["x", "y"] }]);
  await rejects(
    readAll(ok, { ...DEFAULT_LIMITS, maxFooterBytes: 16 }),
    "PARQUET_FOOTER_INVALID",
    /exceeds the 16 bytes accepted/,
  );
});

Deno.test("a schema deeper than 32 levels or wider than the cap gives DataError 606", () => {
  const deep = [{ name: "root", num_children: 1 }];
  for (let i = 0; i < 40; i++) deep.push({ name: `s${i}`, num_children: 1 });
  deep.push({ name: "leaf", num_children: 0 });
  assert.throws(
    () => checkSchemaShape({ schema: deep } as unknown as FileMetaData, DEFAULT_LIMITS, "x"),
    (e: unknown) => isCollectorError(e, "PARQUET_SCHEMA_LIMIT") && /deeper than 32/.test(e.message),
  );
  const wide = [{ name: "root", num_children: 20 }];
  for (let i = 0; i < 20; i++) wide.push({ name: `c${i}`, num_children: 0 });
  assert.throws(
    () =>
      checkSchemaShape(
        { schema: wide } as unknown as FileMetaData,
        { ...DEFAULT_LIMITS, maxColumns: 10 },
        "x",
      ),
    (e: unknown) => isCollectorError(e, "PARQUET_SCHEMA_LIMIT"),
  );
});

Deno.test("a run of 2^30 levels in a page of 4 is read only as far as the page needs, not a crash", async () => {
  const bytes = write([S("a")], [{ name: "a", data: ["x", null, "y", "z"] }]);
  const metadata = await readMetadata(bufferFromBytes(bytes));
  const { start, header } = firstPage(bytes, metadata, "a");
  assert.equal(header.type, 3); // hyparquet-writer writes DATA_PAGE_V2: levels come first
  // Definition levels: one RLE run of 2^30 values (hyparquet would write them all). The bytes
  // after it are the page's values no more: the page fails as damaged, once, at once.
  bytes.set([0x80, 0x80, 0x80, 0x80, 0x08, 0x01], start + header.headerBytes);
  const t = performance.now();
  await rejects(readAll(bytes), "PARQUET_INVALID");
  assert.ok(performance.now() - t < 2000);
});

Deno.test("a dictionary declaring more values than its bytes hold gives DataError 605", async () => {
  const data = Array.from({ length: 200 }, (_, i) => `s${i % 3}`);
  const bytes = write([S("a")], [{ name: "a", data, encoding: "RLE_DICTIONARY" }]);
  const metadata = await readMetadata(bufferFromBytes(bytes));
  const { start, header } = firstPage(bytes, metadata, "a");
  assert.equal(header.type, 2, "the column starts with its dictionary");
  const n = header.dictionary!.numValues!;
  const at = bytes.subarray(start, start + header.headerBytes).findIndex((b, i, a) =>
    (b & 0x0f) === 12 && a[i + 1] === 0x15 && a[i + 2] === n * 2
  );
  assert.ok(at >= 0);
  bytes[start + at + 2] = 126; // zigzag of 63 values, in the same single byte
  await rejects(readAll(bytes), "PARQUET_LIMIT", /dictionary page declares 63 BYTE_ARRAY values/);
});

Deno.test("pages over the value or size caps give DataError 605", async () => {
  const bytes = write([S("a")], [{
    name: "a",
    data: Array.from({ length: 300 }, (_, i) => `v${i}`),
  }]);
  await rejects(
    readAll(bytes, { ...DEFAULT_LIMITS, maxPageValues: 100 }),
    "PARQUET_LIMIT",
    /declares 300 values \(at most 100 accepted\)/,
  );
  await rejects(
    readAll(bytes, { ...DEFAULT_LIMITS, maxPageBytes: 64 }),
    "PARQUET_LIMIT",
    /uncompressed bytes \(at most 64 accepted\)/,
  );
  assert.equal((await readAll(bytes)).length, 300);
});

Deno.test("DELTA_BYTE_ARRAY pages are read, and one that expands past the cap is refused", async () => {
  const long = "x".repeat(1000);
  const data = Array.from({ length: 2000 }, (_, i) => long + (i % 10));
  const bytes = write([S("a")], [{ name: "a", data, encoding: "DELTA_BYTE_ARRAY" }]);
  const metadata = await readMetadata(bufferFromBytes(bytes));
  const { header } = firstPage(bytes, metadata, "a");
  assert.equal(header.v2?.encoding, 7);
  assert.ok(bytes.length < 200_000, `the page is small (${bytes.length} bytes)`);
  const events = await readAll(bytes);
  assert.equal(events[3], `{"a":"${long}3"}`);
  await rejects(
    readAll(bytes, { ...DEFAULT_LIMITS, maxPageBytes: 1 << 19 }),
    "PARQUET_LIMIT",
    /DELTA_BYTE_ARRAY page expands to more than 524288 bytes/,
  );
});

Deno.test("compression bombs stop at the declared size", () => {
  const metadata = {
    schema: [{ name: "root", num_children: 0 }],
    row_groups: [],
  } as unknown as FileMetaData;
  const guard = new ReadGuard(metadata, 100, DEFAULT_LIMITS, "bomb");
  const zeros = new Uint8Array(50 * 1024 * 1024);
  const bombs = {
    GZIP: gzipSync(zeros),
    ZSTD: zstdCompressSync(zeros),
    BROTLI: brotliCompressSync(zeros),
  };
  for (const [codec, bomb] of Object.entries(bombs)) {
    const t = performance.now();
    assert.throws(
      () => guard.compressors[codec as keyof typeof bombs]!(bomb, 1000),
      (e: unknown) =>
        e instanceof CollectorError && e.code === "PARQUET_LIMIT" &&
        /inflates to more than its declared 1000 bytes/.test(e.message),
    );
    assert.ok(performance.now() - t < 500, `${codec} stopped early`);
    assert.throws(
      () => guard.compressors[codec as keyof typeof bombs]!(bomb, 2 ** 31),
      (e: unknown) => isCollectorError(e, "PARQUET_LIMIT"),
    );
  }
  // A page that inflates to less than declared is damaged.
  assert.throws(
    () => guard.compressors.GZIP!(gzipSync(new Uint8Array(10)), 20),
    (e: unknown) => isCollectorError(e, "PARQUET_INVALID"),
  );
});

Deno.test("row groups with too many rows, and chunks outside the object, are refused", () => {
  const schema = [{ name: "root", num_children: 1 }, {
    name: "a",
    type: "INT32",
    repetition_type: "OPTIONAL",
  }];
  const chunk = (start: number, size: number) => ({
    meta_data: {
      type: "INT32",
      codec: "UNCOMPRESSED",
      path_in_schema: ["a"],
      num_values: 10n,
      total_uncompressed_size: BigInt(size),
      total_compressed_size: BigInt(size),
      data_page_offset: BigInt(start),
    },
  });
  const meta = (rows: bigint, start: number, size: number) =>
    ({ schema, row_groups: [{ num_rows: rows, columns: [chunk(start, size)] }] }) as never;
  assert.throws(
    () => new ReadGuard(meta(10n ** 9n, 4, 100), 1000, DEFAULT_LIMITS, "x"),
    (e: unknown) =>
      isCollectorError(e, "PARQUET_LIMIT") && /declares 1000000000 rows in 100/.test(e.message),
  );
  assert.throws(
    () => new ReadGuard(meta(10n, 900, 200), 1000, DEFAULT_LIMITS, "x"),
    (e: unknown) => isCollectorError(e, "PARQUET_INVALID") && /outside the object/.test(e.message),
  );
  assert.throws(
    () =>
      new ReadGuard(meta(10n, 4, 100), 1000, { ...DEFAULT_LIMITS, maxColumnChunkBytes: 50 }, "x"),
    (e: unknown) => isCollectorError(e, "PARQUET_LIMIT"),
  );
  new ReadGuard(meta(10n, 4, 100), 1000, DEFAULT_LIMITS, "x");
});

Deno.test("limitsFor derives the caps from max_object_bytes", () => {
  assert.equal(limitsFor(1024).maxColumnChunkBytes, 64 * 1024 * 1024);
  assert.equal(limitsFor(100 * 1024 * 1024).maxColumnChunkBytes, 400 * 1024 * 1024);
  assert.equal(limitsFor(64 * 1024 ** 3).maxColumnChunkBytes, 4 * 1024 ** 3);
  assert.equal(limitsFor(64 * 1024 ** 3).maxPageBytes, 64 * 1024 * 1024);
  assert.throws(() => limitsFor(0), RangeError);
});

/**
 * A one-column file whose dictionary page (UNCOMPRESSED) is followed by its data page: `overrun()`
 * makes the last dictionary entry's length run 8 bytes past the page; `rows()` reads it with the
 * fast path.
 */
async function dictionaryOverrun(column: Record<string, unknown>, data: string[]) {
  const bytes = write([column], [{ name: "a", data, encoding: "RLE_DICTIONARY" }]);
  const metadata = await readMetadata(bufferFromBytes(bytes));
  const { start, header } = firstPage(bytes, metadata, "a");
  assert.equal(header.type, 2, "the column starts with its dictionary");
  const body = start + header.headerBytes;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    async rows(): Promise<number> {
      let n = 0;
      const reader = readEventLines(bufferFromBytes(bytes), { header: () => new Uint8Array(0) });
      for await (const s of reader) n += s.rows;
      return n;
    },
    overrun(): void {
      let last = body;
      while (last + 4 + view.getUint32(last, true) < body + header.uncompressed) {
        last += 4 + view.getUint32(last, true);
      }
      view.setUint32(last, view.getUint32(last, true) + 8, true);
    },
  };
}

Deno.test("a text dictionary entry running past its page fails the fast path with DataError 601", async () => {
  const file = await dictionaryOverrun(
    S("a"),
    Array.from({ length: 50 }, (_, i) => `value-${i % 4}`),
  );
  assert.equal(await file.rows(), 50);
  file.overrun();
  await rejects(file.rows(), "PARQUET_INVALID", /dictionary entry 3 runs past its page/);
});

Deno.test("a dictionary of other byte arrays running past its page fails the fast path with DataError 601", async () => {
  // DECIMAL in byte arrays: converted to numbers, not copied as text.
  const file = await dictionaryOverrun(
    { ...S("a"), converted_type: "DECIMAL", precision: 9, scale: 2 },
    Array.from({ length: 50 }, (_, i) => 2.5 + (i % 4)) as never,
  );
  assert.equal(await file.rows(), 50);
  file.overrun();
  await rejects(file.rows(), "PARQUET_INVALID", /dictionary runs past its page/);
});

Deno.test("checkPage returns the header it checked, and checks a header it is given instead of reading one", async () => {
  const bytes = write([S("a")], [{ name: "a", data: ["x", "y", null, "x"] }]);
  const metadata = await readMetadata(bufferFromBytes(bytes));
  const { start, header } = firstPage(bytes, metadata, "a");
  const end = start + Number(metadata.row_groups[0]!.columns[0]!.meta_data!.total_compressed_size);
  const chunk = bytes.subarray(start, end);
  const guard = () => new ReadGuard(metadata, bytes.length, DEFAULT_LIMITS, "test");
  assert.deepEqual(guard().checkPage(start, chunk, 0), header);
  assert.equal(guard().checkPage(start, chunk, 0, 0, header), header);
  // A header given is the one checked: one whose body runs past the chunk is refused.
  assert.throws(
    () => guard().checkPage(start, chunk, 0, 0, { ...header, compressed: chunk.length }),
    (e: unknown) => isCollectorError(e) && /runs past its column chunk/.test(e.message),
  );
  // Bytes that are no page header are reported as damaged at their place in the object.
  assert.throws(
    () => guard().checkPage(start, new Uint8Array([0x15, 0xff, 0xff]), 0),
    (e: unknown) =>
      isCollectorError(e) && e.code === "PARQUET_INVALID" &&
      e.message.includes(`page header at byte ${start} is damaged`),
  );
});
