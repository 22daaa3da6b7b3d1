import assert from "node:assert/strict";
import { ByteOut } from "./json_bytes.ts";
import { timestampFromMillis } from "../transform/values.ts";

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

Deno.test("integers are written as String(n) writes them", () => {
  const o = new ByteOut(1);
  const check = (n: number) => {
    o.pos = 0;
    o.int(n);
    assert.equal(dec.decode(o.buf.subarray(0, o.pos)), String(n), `n ${n}`);
  };
  const edges = [0, -0, 1, 9, 10, 99, 100, 99_999_999, 100_000_000, 100_000_001, 2 ** 31 - 1];
  for (const n of [...edges, 2 ** 31, 1_712_750_700_123, 10 ** 15, Number.MAX_SAFE_INTEGER]) {
    check(n);
    check(-n);
  }
  for (const n of [0.5, -1.25, 2 ** 53, 1e21, NaN, Infinity, -Infinity]) check(n);
  // Every digit count, with a deterministic walk over the safe range.
  let x = 7;
  for (let i = 0; i < 100_000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const n = Math.floor((x / 2147483648) * 10 ** (i % 17));
    check(n);
    check(-n);
  }
});

Deno.test("timestamps written from integers equal JSON.stringify of the policy's string", () => {
  const o = new ByteOut(16);
  const check = (ms: number) => {
    o.pos = 0;
    o.timestamp(ms);
    const got = new TextDecoder().decode(o.buf.subarray(0, o.pos));
    assert.equal(got, JSON.stringify(timestampFromMillis(ms)), `ms ${ms}`);
  };
  const edges = [
    0,
    -1,
    1,
    999,
    1000,
    -999,
    -1000,
    -1001,
    86_399_999,
    86_400_000,
    -86_400_000,
    951_782_399_999,
    951_782_400_000,
    951_868_800_000, // 2000-02-29 and around it
    4_107_542_399_999,
    4_107_542_400_000, // 2100-02-28 / 03-01 (not a leap year)
    -62_167_219_200_000,
    -62_167_219_200_001,
    253_402_300_799_999,
    253_402_300_800_000,
    -2_208_988_800_000,
    1_712_750_700_123,
    8.64e15,
    8.64e15 + 1,
    -8.64e15,
    NaN,
    Infinity,
  ];
  for (const ms of edges) check(ms);
  // A deterministic walk over years 0 to 9999, with the cached day reused and changed.
  let x = 12345;
  for (let i = 0; i < 200_000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const ms = Math.floor(-62_167_219_200_000 + (x / 2147483648) * 315_569_520_000_000);
    check(ms);
    check(ms + (x % 1000));
  }
});

Deno.test("ranges are copied exactly, short (a loop) and long (TypedArray.set)", () => {
  const src = new Uint8Array(3000);
  for (let i = 0; i < src.length; i++) src[i] = (i * 7 + 3) & 255;
  for (const n of [0, 1, 31, 32, 33, 100, 511, 512, 513, 2048]) {
    for (const from of [0, 5, 3000 - n]) {
      const o = new ByteOut(1);
      o.byte(120);
      o.range(src, from, from + n);
      o.byte(121);
      const got = o.take();
      assert.deepEqual(
        got,
        Uint8Array.of(120, ...src.subarray(from, from + n), 121),
        `n ${n} from ${from}`,
      );
    }
  }
});

Deno.test("INT64 halves are written as int() and timestamp() write their value, or refused", () => {
  const words = new Int32Array(2);
  const pair = new BigInt64Array(words.buffer);
  const o = new ByteOut(1);
  const expect = new ByteOut(1);
  const values = [
    0n,
    1n,
    -1n,
    4_294_967_295n,
    4_294_967_296n,
    -4_294_967_296n,
    1_712_750_700_123n,
    -62_167_219_200_000n,
    -62_167_219_200_001n,
    253_402_300_799_999n,
    253_402_300_800_000n,
    9_007_199_254_740_991n,
    -9_007_199_254_740_991n,
  ];
  for (const v of values) {
    pair[0] = v;
    o.pos = expect.pos = 0;
    assert.equal(o.intWords(words, 0), true, `int ${v}`);
    expect.int(Number(v));
    assert.deepEqual(o.buf.subarray(0, o.pos), expect.buf.subarray(0, expect.pos), `int ${v}`);
    o.pos = expect.pos = 0;
    assert.equal(o.timestampWords(words, 0), true, `timestamp ${v}`);
    expect.timestamp(Number(v));
    assert.deepEqual(
      o.buf.subarray(0, o.pos),
      expect.buf.subarray(0, expect.pos),
      `timestamp ${v}`,
    );
  }
  // Not safe integers: nothing is written, the caller converts the bigint.
  for (const v of [9_007_199_254_740_992n, -9_007_199_254_740_992n, 2n ** 62n, -(2n ** 63n)]) {
    pair[0] = v;
    o.pos = 0;
    assert.equal(o.intWords(words, 0), false, `int ${v}`);
    assert.equal(o.timestampWords(words, 0), false, `timestamp ${v}`);
    assert.equal(o.pos, 0);
  }
  // The k-th pair of a longer array.
  const many = new BigInt64Array([5n, -6n, 1_000_000_000_000n]);
  const halves = new Int32Array(many.buffer);
  o.pos = 0;
  for (let k = 0; k < 3; k++) o.intWords(halves, k), o.byte(44);
  assert.equal(dec.decode(o.take()), "5,-6,1000000000000,");
});
