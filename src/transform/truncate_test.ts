import assert from "node:assert/strict";
import { isOversized, topLevelMembers, truncateEvent, utf8Length } from "./truncate.ts";

Deno.test("utf8Length counts bytes as TextEncoder does", () => {
  for (const s of ["", "abc", "é", "€uro", "😀", "a\u{10ffff}b", "\ud800x", "x\udc00"]) {
    assert.equal(utf8Length(s), new TextEncoder().encode(s).length, JSON.stringify(s));
  }
  assert.equal(isOversized("é".repeat(600), 1024), true);
  assert.equal(isOversized("é".repeat(500), 1024), false);
  assert.equal(isOversized("a".repeat(300), 1024), false);
});

Deno.test("top-level members are split without parsing values", () => {
  const json = '{"a":1,"b":{"c":[1,2,{"d":"x,}]\\"y"}]},"e":"\\\\","big":9007199254740993}';
  assert.deepEqual(topLevelMembers(json), [
    '"a":1',
    '"b":{"c":[1,2,{"d":"x,}]\\"y"}]}',
    '"e":"\\\\"',
    '"big":9007199254740993',
  ]);
  assert.deepEqual(topLevelMembers("{}"), []);
});

Deno.test("an oversized event keeps the markers and the first members that fit", () => {
  const json = '{"time":1712750700123,"big":"' + "x".repeat(5000) +
    '","class_uid":6003,"message":"' + "y".repeat(800) + '","id":9007199254740993}';
  const out = truncateEvent(json, 1024, json.length, ['"@devo_pulling_id":"1712750700000"']);
  assert.ok(utf8Length(out) <= 1024, `${utf8Length(out)} bytes`);
  assert.equal(
    out,
    `{"@seclake_truncated":true,"@seclake_original_bytes":${json.length},"time":1712750700123,"class_uid":6003,"message":"${
      "y".repeat(800)
    }","id":9007199254740993,"@devo_pulling_id":"1712750700000"}`,
  );
  assert.deepEqual(Object.keys(JSON.parse(out)).slice(0, 2), [
    "@seclake_truncated",
    "@seclake_original_bytes",
  ]);
});
