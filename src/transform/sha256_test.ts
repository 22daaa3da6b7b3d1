import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { hmacSha256Hex, hmacSha256HexBytes, sha256 } from "./sha256.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("sha256 is node:crypto's SHA-256 for every length across the padding boundaries", () => {
  for (let n = 0; n <= 200; n++) {
    const data = new Uint8Array(n).map((_, i) => (i * 131 + n) & 255);
    assert.equal(hex(sha256(data)), createHash("sha256").update(data).digest("hex"), `${n} bytes`);
  }
});

Deno.test("hmacSha256Hex is createHmac's for texts around one and two blocks", () => {
  const key = "a key";
  const block = new Uint8Array(64);
  block.set(new TextEncoder().encode(key));
  const mac = hmacSha256Hex(block);
  for (let n = 0; n <= 140; n++) {
    const text = "é".repeat(n % 3) + "x".repeat(n);
    assert.equal(mac(text), createHmac("sha256", key).update(text, "utf8").digest("hex"), `${n}`);
  }
  // A text longer than the buffer first allocated.
  const long = "ü".repeat(5000);
  assert.equal(mac(long), createHmac("sha256", key).update(long, "utf8").digest("hex"));
});

Deno.test("hmacSha256HexBytes is createHmac's for bytes at any offset, written where it is told", () => {
  const key = "another key";
  const block = new Uint8Array(64);
  block.set(new TextEncoder().encode(key));
  const mac = hmacSha256HexBytes(block);
  const data = new Uint8Array(300).map((_, i) => (i * 37 + 11) & 255);
  const out = new Uint8Array(80).fill(33);
  for (const [from, to] of [[0, 0], [0, 55], [3, 59], [7, 71], [100, 300], [5, 133]] as const) {
    mac(data, from, to, out, 9);
    const want = createHmac("sha256", key).update(data.subarray(from, to)).digest("hex");
    assert.equal(new TextDecoder().decode(out.subarray(9, 73)), want, `${from}..${to}`);
    assert.ok(out[8] === 33 && out[73] === 33, "nothing written outside");
  }
});
