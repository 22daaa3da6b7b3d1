/**
 * A run-length or bit-packed run may declare more values than are left in its page: the format
 * allows it and DuckDB writes such runs (its last run of a page's levels or dictionary indices is
 * often rounded up). Both paths read such a page as far as it needs and give exactly the events of
 * the same page with runs that end where the page ends.
 */
import assert from "node:assert/strict";
import { parquetWriteBuffer } from "hyparquet-writer";
import { readEventLines } from "../src/parquet/json_reader.ts";
import { readPageHeader } from "../src/parquet/page_header.ts";
import { bufferFromBytes, readEvents, readMetadata } from "../src/parquet/reader.ts";
import { toJson } from "../src/transform/json.ts";
import { rewriteAsV1 } from "./helpers/parquet_v1.ts";

const ROWS = 300;

/** 125 "a", 125 "b", 50 nulls in one dictionary-encoded column of one page. */
function original(): Uint8Array {
  const data = Array.from({ length: ROWS }, (_, i) => i < 125 ? "a" : i < 250 ? "b" : null);
  return new Uint8Array(parquetWriteBuffer({
    schema: [
      { name: "root", num_children: 1 },
      { name: "s", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
    ] as never,
    columnData: [{ name: "s", data }] as never,
    codec: "UNCOMPRESSED" as never,
  }));
}

async function reference(bytes: Uint8Array): Promise<string[]> {
  const out: string[] = [];
  for await (const s of readEvents(bufferFromBytes(bytes))) {
    for (const e of s.events) out.push(toJson(e));
  }
  return out;
}

async function fast(bytes: Uint8Array): Promise<string[]> {
  const out: string[] = [];
  const dec = new TextDecoder();
  for await (const s of readEventLines(bufferFromBytes(bytes))) {
    const lines = dec.decode(s.bytes).split("\n");
    lines.pop();
    out.push(...lines);
  }
  return out;
}

/** The data page of the file's only column: where its body starts, and its header. */
async function dataPage(bytes: Uint8Array) {
  const md = await readMetadata(bufferFromBytes(bytes));
  const m = md.row_groups[0]!.columns[0]!.meta_data!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = Number(m.dictionary_page_offset || m.data_page_offset);
  for (;;) {
    const h = readPageHeader(view, off);
    if (h.type === 0 || h.type === 3) return { body: off + h.headerBytes, header: h };
    off += h.headerBytes + h.compressed;
  }
}

/** Replaces `from` by `to` at `at`, checking that `from` is what is there. */
function patch(bytes: Uint8Array, at: number, from: number[], to: number[]): void {
  assert.deepEqual(Array.from(bytes.subarray(at, at + from.length)), from);
  bytes.set(to, at);
}

const expected = [
  ...Array.from({ length: 125 }, () => '{"s":"a"}'),
  ...Array.from({ length: 125 }, () => '{"s":"b"}'),
  ...Array.from({ length: 50 }, () => "{}"),
];

async function bothPaths(bytes: Uint8Array): Promise<void> {
  // Each path is given its own copy: the first read must not be what makes the second work.
  assert.deepEqual(await reference(bytes.slice()), expected);
  assert.deepEqual(await fast(bytes.slice()), expected);
}

Deno.test("v2 pages: level and index runs past the page's end are read as far as the page needs", async () => {
  const bytes = original();
  await bothPaths(bytes);
  const { body, header } = await dataPage(bytes);
  assert.equal(header.type, 3);
  assert.equal(header.v2!.defLength, 5);
  // Definition levels: RLE 250 × 1, then RLE 50 × 0; the second becomes 60 × 0.
  patch(bytes, body, [244, 3, 1, 100, 0], [244, 3, 1, 120, 0]);
  // Indices: bit width 1, then RLE 125 × 0 and RLE 125 × 1; the second becomes 155 × 1.
  patch(bytes, body + 5, [1, 250, 1, 0, 250, 1, 1], [1, 250, 1, 0, 182, 2, 1]);
  await bothPaths(bytes);
});

Deno.test("v2 pages: a bit-packed run declaring more groups than its page holds is read as far as needed", async () => {
  // 250 alternating values are bit-packed in 32 groups of 8; declaring 40 groups (320 values)
  // names bytes the page does not have.
  const data = Array.from({ length: 250 }, (_, i) => i % 2 ? "x" : "y");
  const bytes = new Uint8Array(parquetWriteBuffer({
    schema: [
      { name: "root", num_children: 1 },
      { name: "s", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
    ] as never,
    columnData: [{ name: "s", data }] as never,
    codec: "UNCOMPRESSED" as never,
  }));
  const want = data.map((s) => `{"s":"${s}"}`);
  const { body } = await dataPage(bytes);
  patch(bytes, body, [1, 65], [1, 81]);
  assert.deepEqual(await reference(bytes.slice()), want);
  assert.deepEqual(await fast(bytes.slice()), want);
});

Deno.test("v1 pages: an index run past the page's values but within its entries (nulls) is read exactly", async () => {
  // v1 pages do not say how many of their entries are null: the index stream holds 250 values,
  // fewer than the page's 300 entries. Its last run is made 30 values longer (280 < 300).
  const bytes = rewriteAsV1(original(), { pageEntries: ROWS, stagger: false });
  await bothPaths(bytes);
  const { body, header } = await dataPage(bytes);
  assert.equal(header.type, 0);
  // Definition levels: 4-byte length 5, RLE 250 × 1, RLE 50 × 0 (made 60 × 0).
  patch(bytes, body, [5, 0, 0, 0, 244, 3, 1, 100, 0], [5, 0, 0, 0, 244, 3, 1, 120, 0]);
  patch(bytes, body + 9, [1, 250, 1, 0, 250, 1, 1], [1, 250, 1, 0, 176, 2, 1]);
  await bothPaths(bytes);
});
