import assert from "node:assert/strict";
import { readPageHeader } from "./page_header.ts";

const view = (bytes: number[]) => new DataView(new Uint8Array(bytes).buffer);

Deno.test("a page header's fields, its length, and the data page's level encodings are read", () => {
  // type 0, uncompressed 8, compressed 8, data page header: 2 values, PLAIN, RLE, RLE; stop.
  const bytes = [0x15, 0x00, 0x15, 0x10, 0x15, 0x10, 0x2c, 0x15, 0x04, 0x15, 0x00, 0x15, 0x06];
  bytes.push(0x15, 0x06, 0x00, 0x00);
  assert.deepEqual(readPageHeader(view([0xee, ...bytes]), 1), {
    headerBytes: bytes.length,
    type: 0,
    uncompressed: 8,
    compressed: 8,
    data: { numValues: 2, encoding: 0, defEncoding: 3, repEncoding: 3 },
    dictionary: undefined,
    v2: undefined,
  });
});

Deno.test("sets and maps, which no page header has, make a header damaged", () => {
  for (const type of [0x0a, 0x0b]) {
    // type 0, then a field 2 of that type with no elements, then stop.
    assert.throws(
      () => readPageHeader(view([0x15, 0x00, 0x10 | type, 0x00, 0x00]), 0),
      new RegExp(`unknown field type ${type}`),
    );
  }
  // A list of no elements is skipped.
  assert.equal(readPageHeader(view([0x15, 0x00, 0x19, 0x05, 0x00]), 0).headerBytes, 5);
});
