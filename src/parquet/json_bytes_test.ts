import assert from "node:assert/strict";
import { ByteOut } from "./json_bytes.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("byte-level JSON strings equal JSON.stringify of the decoded text", () => {
  const cases: Uint8Array[] = [
    enc.encode("plain ascii"),
    enc.encode('quote " backslash \\ slash /'),
    enc.encode("controls \u0000\u0001\b\t\n\f\r\u001f\u007f"),
    enc.encode("utf8 é 中文 😀 \u2028"),
    new Uint8Array([0x61, 0xff, 0x62]), // invalid byte
    new Uint8Array([0xed, 0xa0, 0x80]), // encoded surrogate
    new Uint8Array([0xc0, 0xaf]), // overlong
    new Uint8Array([0xe2, 0x82]), // truncated
    new Uint8Array([0xf4, 0x90, 0x80, 0x80]), // beyond U+10FFFF
    new Uint8Array([]),
  ];
  for (const b of cases) {
    const o = new ByteOut(4);
    o.jsonUtf8(b);
    assert.equal(dec.decode(o.take()), JSON.stringify(dec.decode(b)), Array.from(b).join(","));
  }
  for (let seed = 1; seed < 2000; seed++) {
    const b = new Uint8Array(seed % 13);
    let x = seed;
    for (let i = 0; i < b.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      b[i] = x >>> 24;
    }
    const o = new ByteOut(1);
    o.jsonUtf8(b);
    assert.equal(dec.decode(o.take()), JSON.stringify(dec.decode(b)), Array.from(b).join(","));
  }
});

Deno.test("JS strings and integers", () => {
  const o = new ByteOut(2);
  o.jsonString('a"b');
  o.byte(44);
  o.jsonString("é\u0001");
  o.byte(44);
  o.int(-12345);
  o.byte(44);
  o.int(7);
  assert.equal(dec.decode(o.take()), '"a\\"b","é\\u0001",-12345,7');
});
