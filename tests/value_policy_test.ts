/**
 * Value policy cases the interoperability corpus found, checked without its writers: byte arrays
 * without a text annotation, JSON documents, and timestamps before 1970, on both paths.
 */
import assert from "node:assert/strict";
import { parquetWriteBuffer } from "hyparquet-writer";
import { readEventLines } from "../src/parquet/json_reader.ts";
import { bufferFromBytes, readEvents } from "../src/parquet/reader.ts";
import { toJson } from "../src/transform/json.ts";
import { millisOf, TIMESTAMP_PARSERS } from "../src/transform/values.ts";

async function bothPaths(bytes: Uint8Array): Promise<string[]> {
  const reference: string[] = [];
  for await (const s of readEvents(bufferFromBytes(bytes))) {
    for (const e of s.events) reference.push(toJson(e));
  }
  const fast: string[] = [];
  for await (const s of readEventLines(bufferFromBytes(bytes))) {
    const lines = new TextDecoder().decode(s.bytes).split("\n");
    lines.pop();
    fast.push(...lines);
  }
  assert.deepEqual(fast, reference);
  return fast;
}

Deno.test("byte arrays without a text annotation: text when UTF-8 (a BOM kept), else base64", async () => {
  const values = [
    new Uint8Array([0, 0xff, 0xfe, 0x31]),
    new TextEncoder().encode("plain text ✓"),
    new Uint8Array([0xef, 0xbb, 0xbf, 0x61]),
    new Uint8Array([0xc3]), // a sequence cut short
  ];
  for (const encoding of ["PLAIN", "RLE_DICTIONARY"]) {
    const bytes = new Uint8Array(parquetWriteBuffer({
      schema: [
        { name: "root", num_children: 1 },
        { name: "b", type: "BYTE_ARRAY", repetition_type: "REQUIRED" },
      ] as never,
      columnData: [{ name: "b", data: values, encoding }] as never,
    }));
    assert.deepEqual(await bothPaths(bytes), [
      '{"b":"AP/+MQ=="}',
      '{"b":"plain text ✓"}',
      '{"b":"\uFEFFa"}',
      '{"b":"ww=="}',
    ]);
  }
});

Deno.test("JSON documents are sent as the string they are, not parsed (nor left out)", async () => {
  const bytes = new Uint8Array(parquetWriteBuffer({
    schema: [
      { name: "root", num_children: 1 },
      { name: "j", type: "BYTE_ARRAY", converted_type: "JSON", repetition_type: "OPTIONAL" },
    ] as never,
    columnData: [{ name: "j", data: [{ a: 1, b: [1, "two"] }, null, "a string", [1, 2]] }] as never,
  }));
  assert.deepEqual(await bothPaths(bytes), [
    '{"j":"{\\"a\\":1,\\"b\\":[1,\\"two\\"]}"}',
    "{}",
    '{"j":"\\"a string\\""}',
    '{"j":"[1,2]"}',
  ]);
});

Deno.test("timestamps before 1970 round down to their millisecond", () => {
  assert.equal(millisOf(-1n, 1000n), -1);
  assert.equal(millisOf(-1000n, 1000n), -1);
  assert.equal(millisOf(-1001n, 1000n), -2);
  assert.equal(millisOf(1999n, 1000n), 1);
  assert.equal(millisOf(-1_000_001n, 1_000_000n), -2);
  assert.equal(TIMESTAMP_PARSERS.timestampFromMicroseconds(-1n), "1969-12-31T23:59:59.999Z");
  assert.equal(TIMESTAMP_PARSERS.timestampFromNanoseconds(-1n), "1969-12-31T23:59:59.999Z");
});
