import assert from "node:assert/strict";
import { CollectorError } from "../errors.ts";
import { decodeError, encodeError } from "./worker_wire.ts";

Deno.test("errors cross threads with their code, message, context and cause", () => {
  const cause = new TypeError("bad page");
  const e = new CollectorError("PARQUET_LIMIT", "Cannot decode Parquet x: too big", {
    context: { object: "x", row_group: 3, n: 12n },
    cause,
    related: [new CollectorError("PARQUET_INVALID", "also this")],
  });
  const back = decodeError(structuredClone(encodeError(e))) as CollectorError;
  assert.ok(back instanceof CollectorError);
  assert.equal(back.code, "PARQUET_LIMIT");
  assert.equal(back.message, e.message);
  assert.equal(back.retryable, e.retryable);
  assert.deepEqual(back.context, e.context);
  assert.equal(back.related[0]!.code, "PARQUET_INVALID");
  assert.equal((back.cause as Error).name, "TypeError");
  assert.equal((back.cause as Error).message, "bad page");
  const abort = decodeError(encodeError(new DOMException("stopped", "AbortError")));
  assert.ok(abort instanceof DOMException && abort.name === "AbortError");
  assert.equal((decodeError(encodeError("plain")) as Error).message, "plain");
});
