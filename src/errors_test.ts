import assert from "node:assert/strict";
import { CATALOGUE, catalogueEntries, CollectorError, FAMILIES } from "./errors.ts";
import type { ErrorCode } from "./errors.ts";

Deno.test("catalogue ids are unique and inside their family's range", () => {
  const ids = new Map<number, string>();
  for (const e of catalogueEntries()) {
    assert.ok(!ids.has(e.id), `id ${e.id} used by ${ids.get(e.id)} and ${e.code}`);
    ids.set(e.id, e.code);
    const [lo, hi] = FAMILIES[e.family];
    assert.ok(e.id >= lo && e.id <= hi, `${e.code} ${e.id} outside ${e.family} ${lo}–${hi}`);
  }
  assert.equal(ids.size, Object.keys(CATALOGUE).length);
});

Deno.test("catalogue texts are filled in; messages are sentence case without a period", () => {
  for (const e of catalogueEntries()) {
    assert.match(e.message, /^[A-Za-z`]/, e.code);
    assert.ok(!e.message.endsWith("."), `${e.code} message ends with a period`);
    assert.ok(e.cause.length > 20 && e.solution.length > 10, `${e.code} needs cause and solution`);
  }
});

Deno.test("ids stay stable: the ones operators and docs already quote", () => {
  const fixed: Partial<Record<ErrorCode, number>> = {
    CONFIG_UNREADABLE: 1,
    CONFIG_YAML: 2,
    CONFIG_RANGE: 11,
    CONFIG_RESET_AUTH: 13,
    CONFIG_HISTORICAL_TYPE: 14,
    CONFIG_HISTORICAL_FORMAT: 15,
    CONFIG_HISTORICAL_TOO_OLD: 16,
    CONFIG_HISTORICAL_FUTURE: 17,
    QUEUE_NOT_FOUND: 101,
    S3_NOT_FOUND: 402,
    S3_OBJECT_CHANGED: 408,
    AWS_AUTH: 404,
    OUTPUT_CONNECT: 500,
    OUTPUT_CERT_REJECTED: 504,
    NOTIFICATION_INVALID: 600,
    PARQUET_INVALID: 601,
  };
  for (const [code, id] of Object.entries(fixed)) {
    assert.equal(CATALOGUE[code as ErrorCode].id, id, code);
  }
});

Deno.test("a CollectorError carries its entry, detail and related errors", () => {
  const other = new CollectorError("CONFIG_TYPE", "b must be a string: got a list (line 3)");
  const e = new CollectorError("CONFIG_RANGE", "a must be between 1 and 10: got 25 (line 2)", {
    context: { path: "a", line: 2 },
    related: [other],
  });
  assert.equal(e.message, "SetupError 11: a must be between 1 and 10: got 25 (line 2)");
  assert.equal(e.name, "SetupError");
  assert.equal(e.retryable, false);
  assert.deepEqual(e.related, [other]);
  assert.deepEqual(new CollectorError("SQS_CALL", "x").related, []);
});
