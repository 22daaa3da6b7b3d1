import assert from "node:assert/strict";
import { toJson } from "./json.ts";
import { LineFormatter } from "./line.ts";
import { int64, scalar, TIMESTAMP_PARSERS, timestampFromMillis } from "./values.ts";
import type { JsonValue } from "./values.ts";

Deno.test("INT64 above 2^53 keeps every digit", () => {
  const v = int64(9007199254740993n);
  assert.equal(typeof v, "bigint");
  assert.equal(toJson({ n: v }), '{"n":9007199254740993}');
  assert.equal(int64(1468523745000n), 1468523745000);
  assert.equal(toJson({ n: int64(-9007199254740993n) }), '{"n":-9007199254740993}');
});

Deno.test("timestamps become RFC 3339 UTC with milliseconds", () => {
  assert.equal(timestampFromMillis(1712750700000), "2024-04-10T12:05:00.000Z");
  assert.equal(
    TIMESTAMP_PARSERS.timestampFromMilliseconds(1712750700123n),
    "2024-04-10T12:05:00.123Z",
  );
  assert.equal(
    TIMESTAMP_PARSERS.timestampFromMicroseconds(1712750700123456n),
    "2024-04-10T12:05:00.123Z",
  );
  assert.equal(
    TIMESTAMP_PARSERS.timestampFromNanoseconds(1712750700123456789n),
    "2024-04-10T12:05:00.123Z",
  );
  assert.equal(scalar(new Date(0)), "1970-01-01T00:00:00.000Z");
});

Deno.test("NaN and Infinity become null; bytes become base64", () => {
  assert.equal(scalar(NaN), null);
  assert.equal(scalar(-Infinity), null);
  assert.equal(toJson({ a: NaN as never }), '{"a":null}');
  assert.equal(scalar(new Uint8Array([104, 105])), "aGk=");
});

Deno.test("toJson leaves out undefined members and escapes strings", () => {
  assert.equal(
    toJson({ a: 'x"\n\u2028', b: undefined as never, c: [1, null, true], d: {} }),
    '{"a":"x\\"\\n\u2028","c":[1,null,true],"d":{}}',
  );
  const event = { a: { b: [{ c: 1.5 }] }, s: "é" };
  assert.deepEqual(JSON.parse(toJson(event)), event);
});

Deno.test("toJson: a bigint deep inside keeps its digits, the objects around it their JSON text", () => {
  const big = int64(-9223372036854775808n);
  const event: Record<string, JsonValue> = {
    "2": "integer-like keys first, as JSON.stringify orders them",
    a: [{ x: 1, y: [big, undefined as never, NaN as never] }, { z: "\u0000" }],
    b: { c: { d: 12345678901234567890n }, e: true },
    f: undefined as never,
    g: { h: [] },
  };
  assert.equal(
    toJson(event),
    '{"2":"integer-like keys first, as JSON.stringify orders them",' +
      '"a":[{"x":1,"y":[-9223372036854775808,null,null]},{"z":"\\u0000"}],' +
      '"b":{"c":{"d":12345678901234567890},"e":true},"g":{"h":[]}}',
  );
  const plain = { ...event, a: [], b: {} };
  assert.equal(toJson(plain), JSON.stringify(plain));
});

Deno.test("Devo line: priority, UTC ms time, host, tag, JSON with pulling id, newline", () => {
  const f = new LineFormatter({
    hostname: "col host",
    tag: "cloud.aws.amazon.security_lake.events",
    pullingId: "1712750700000",
    now: () => 1712750700123,
  });
  assert.equal(
    f.line('{"a":1}'),
    '<14>2024-04-10T12:05:00.123Z col_host cloud.aws.amazon.security_lake.events: {"a":1,"@devo_pulling_id":"1712750700000"}\n',
  );
  assert.equal(
    f.line("{}"),
    '<14>2024-04-10T12:05:00.123Z col_host cloud.aws.amazon.security_lake.events: {"@devo_pulling_id":"1712750700000"}\n',
  );
  const plain = new LineFormatter({ hostname: "h", tag: "my.app.x", now: () => 0 });
  assert.equal(plain.line('{"a":1}'), '<14>1970-01-01T00:00:00.000Z h my.app.x: {"a":1}\n');
});

Deno.test("timestamp cache gives the same text as toISOString", () => {
  for (
    const ms of [
      0,
      1,
      999,
      1000,
      1712750700001,
      1712750700010,
      1712750700999,
      -1,
      -1001,
      253402300799999,
    ]
  ) {
    assert.equal(timestampFromMillis(ms), new Date(ms).toISOString(), String(ms));
    assert.equal(timestampFromMillis(ms), new Date(ms).toISOString(), String(ms)); // cached
  }
  assert.equal(timestampFromMillis(253402300800000), new Date(253402300800000).toISOString());
  assert.equal(timestampFromMillis(1.5), "1970-01-01T00:00:00.001Z");
});
