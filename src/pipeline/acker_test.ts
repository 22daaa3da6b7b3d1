import assert from "node:assert/strict";
import { CollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { decide, failures, isPermanent } from "./acker.ts";
import type { AckAction, AckPolicy, MessageOutcome } from "./acker.ts";
import type { ObjectOutcome } from "./object_processor.ts";

const ref = { bucket: "b", key: "aws/X/k.parquet" };
const delivered: ObjectOutcome = { ok: true, ref, events: 10, requests: 2, seconds: 0.1 };
const duplicate: ObjectOutcome = { ...delivered, events: 0, duplicate: true };
const failed = (code: ErrorCode, retryable?: boolean): ObjectOutcome => ({
  ok: false,
  ref,
  events: 0,
  error: new CollectorError(code, code, retryable === undefined ? {} : { retryable }),
  requests: 1,
  seconds: 0.1,
});
const outcome = (o: Partial<MessageOutcome>): MessageOutcome => ({
  test: false,
  objects: [],
  skipped: 0,
  ...o,
});
const policy = (o: Partial<AckPolicy> = {}): AckPolicy => ({
  receiveCount: 1,
  maxReceiveCount: 5,
  redrive: false,
  quarantine: true,
  ...o,
});
const invalid = new CollectorError("NOTIFICATION_INVALID", "not a notification");

Deno.test("acker.decide: delete, leave or quarantine for each kind of outcome and queue", () => {
  // Longer than 80 lines on purpose: a table, one row per kind of outcome and queue.
  const cases: [string, MessageOutcome, AckPolicy, AckAction][] = [
    ["every object delivered", outcome({ objects: [delivered, delivered] }), policy(), "delete"],
    ["an object already complete", outcome({ objects: [duplicate] }), policy(), "delete"],
    ["only skipped records", outcome({ skipped: 3 }), policy(), "delete"],
    ["a test event", outcome({ test: true }), policy(), "delete"],
    [
      "an output down (retryable)",
      outcome({ objects: [failed("OUTPUT_CONNECT")] }),
      policy(),
      "leave",
    ],
    [
      "throttled S3 (retryable)",
      outcome({ objects: [failed("S3_CALL")] }),
      policy({ receiveCount: 9 }),
      "leave",
    ],
    [
      "an untrusted endpoint (retryable)",
      outcome({ objects: [failed("AWS_TLS_UNTRUSTED")] }),
      policy({ receiveCount: 9 }),
      "leave",
    ],
    [
      "bad Parquet, receives left",
      outcome({ objects: [failed("PARQUET_INVALID")] }),
      policy({ receiveCount: 4 }),
      "leave",
    ],
    [
      "bad Parquet, receives used up",
      outcome({ objects: [failed("PARQUET_INVALID")] }),
      policy({ receiveCount: 5 }),
      "quarantine",
    ],
    [
      "bad Parquet, a dead-letter queue takes it",
      outcome({ objects: [failed("PARQUET_INVALID")] }),
      policy({ receiveCount: 5, redrive: true }),
      "leave",
    ],
    [
      "bad Parquet, quarantine off",
      outcome({ objects: [failed("PARQUET_INVALID")] }),
      policy({ receiveCount: 5, quarantine: false }),
      "leave",
    ],
    [
      "a body that is not a notification",
      outcome({ invalid }),
      policy({ receiveCount: 5 }),
      "quarantine",
    ],
    [
      "a missing object",
      outcome({ objects: [failed("S3_NOT_FOUND")] }),
      policy({ receiveCount: 7 }),
      "quarantine",
    ],
    [
      "one permanent and one retryable failure",
      outcome({ objects: [failed("PARQUET_INVALID"), failed("OUTPUT_WRITE")] }),
      policy({ receiveCount: 5 }),
      "leave",
    ],
    [
      "one delivered, one permanent failure",
      outcome({ objects: [delivered, failed("S3_FORBIDDEN")] }),
      policy({ receiveCount: 5 }),
      "quarantine",
    ],
    [
      "a state error is not the message's fault",
      outcome({ objects: [failed("STATE_IO")] }),
      policy({ receiveCount: 5 }),
      "leave",
    ],
  ];
  for (const [what, o, p, action] of cases) assert.equal(decide(o, p), action, what);
  // Stopping: what would be left is released at once; the rest is decided as before.
  for (const [what, o, p, action] of cases) {
    const stopping = decide(o, { ...p, shuttingDown: true });
    assert.equal(stopping, action === "leave" ? "release" : action, `${what}, while stopping`);
  }
});

Deno.test("acker: the failures of a message, and which of them a retry cannot fix", () => {
  const o = outcome({ invalid, objects: [delivered, failed("S3_CALL")] });
  assert.deepEqual(failures(o).map((e) => e.code), ["NOTIFICATION_INVALID", "S3_CALL"]);
  assert.equal(isPermanent(new CollectorError("PARQUET_INVALID", "x")), true);
  assert.equal(isPermanent(new CollectorError("S3_CALL", "x")), false);
  assert.equal(isPermanent(new CollectorError("OUTPUT_WRITE", "x", { retryable: false })), false);
});
