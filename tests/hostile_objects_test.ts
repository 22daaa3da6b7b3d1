/**
 * Limits relative to the object in hand: small objects that would expand into gigabytes of
 * events, memory or metadata end in a catalogue error, early where the bound is known early (the
 * footer), and the failures certain to repeat are quarantined at once, with the count of events
 * already delivered.
 */
import assert from "node:assert/strict";
import { isCollectorError } from "../src/errors.ts";
import type { ErrorCode } from "../src/errors.ts";
import { emptyOutputStats } from "../src/output/confirmed_stream.ts";
import { readEventLines } from "../src/parquet/json_reader.ts";
import { OUTPUT_FLOOR_BYTES, outputBudget, rowGroupCap } from "../src/parquet/limits.ts";
import { bufferFromBytes } from "../src/parquet/reader.ts";
import { decide } from "../src/pipeline/acker.ts";
import type { EventOutput, Receipt } from "../src/pipeline/ports.ts";
import { footerCopies, hugeValues, sharedDictionaryEntry } from "./helpers/hostile.ts";
import { processBytes } from "./helpers/process_bytes.ts";

const MiB = 1024 * 1024;

async function readAll(bytes: Uint8Array): Promise<number> {
  let out = 0;
  for await (const s of readEventLines(bufferFromBytes(bytes))) out += s.bytes.length;
  return out;
}

async function rejects(p: Promise<unknown>, code: ErrorCode, match: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isCollectorError(e), `expected a CollectorError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, match);
    return true;
  });
}

/** An output that confirms every write at once and counts what it was given. */
class CountingOutput implements EventOutput {
  readonly name = "counting";
  readonly stats = emptyOutputStats();
  bytes = 0;
  events = 0;
  write(chunk: Uint8Array, events: number): Promise<Receipt> {
    this.bytes += chunk.length;
    this.events += events;
    return Promise.resolve({ confirmed: Promise.resolve() } as Receipt);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  abort(): void {}
}

Deno.test("65,536 rows sharing one 64 KiB dictionary entry: DataError 611 once the output passes its budget, with the events sent counted", async () => {
  const bytes = sharedDictionaryEntry(65_536, 64 * 1024);
  assert.ok(bytes.length < 16 * 1024, `${bytes.length} bytes`);
  const out = new CountingOutput();
  const outcome = await processBytes(bytes, {
    outputs: [out],
  });
  assert.equal(outcome.ok, false);
  assert.ok(!outcome.ok && outcome.error.code === "OUTPUT_LIMIT", JSON.stringify(outcome));
  // Bounded: no more than the budget reached the outputs (the whole would be 4.3 GB).
  assert.equal(outputBudget(bytes.length), OUTPUT_FLOOR_BYTES);
  assert.ok(out.bytes <= OUTPUT_FLOOR_BYTES, `${out.bytes} bytes sent`);
  assert.ok(out.bytes > OUTPUT_FLOOR_BYTES / 2, `${out.bytes} bytes sent`);
  assert.ok(outcome.events > 0 && outcome.events === out.events);
  assert.match(outcome.error.message, new RegExp(`after ${out.events} events`));
  // Certain to repeat: quarantined at the first receive, not after max_receive_count.
  const action = decide({ test: false, objects: [outcome], skipped: 0 }, {
    receiveCount: 1,
    maxReceiveCount: 5,
    redrive: false,
    quarantine: true,
  });
  assert.equal(action, "quarantine");
});

Deno.test("four columns of one huge string each (ZSTD, a few KB): DataError 605 from the footer, nothing inflated", async () => {
  const bytes = hugeValues(4, 16 * MiB);
  assert.ok(bytes.length < 16 * 1024, `${bytes.length} bytes`);
  assert.ok(rowGroupCap(bytes.length) < 64 * MiB);
  await rejects(readAll(bytes), "PARQUET_LIMIT", /row group 0 declares \d+ uncompressed bytes/);
});

Deno.test("one value of 40 MiB of \\x01 (JSON escaping makes it 240 MiB): DataError 605 before decoding", async () => {
  const bytes = hugeValues(1, 40 * MiB, "\x01");
  assert.ok(bytes.length < 16 * 1024, `${bytes.length} bytes`);
  await rejects(readAll(bytes), "PARQUET_LIMIT", /row group 0 declares \d+ uncompressed bytes/);
});

Deno.test("a footer naming one row group 14,306 times: DataError 604 before the footer is parsed", async () => {
  const bytes = footerCopies(14_306);
  await rejects(readAll(bytes), "PARQUET_FOOTER_INVALID", /more than an eighth of the object/);
  // The same row group named a few times is a small footer, and is read (each copy's rows).
  let rows = 0;
  for await (const s of readEventLines(bufferFromBytes(footerCopies(3)))) rows += s.rows;
  assert.equal(rows, 9);
});

Deno.test("failures that a retry can fix, or may, are still left for max_receive_count", () => {
  const policy = { receiveCount: 1, maxReceiveCount: 5, redrive: false, quarantine: true };
  // A damaged object (601) may be a truncated read: retried.
  const invalid = { code: "PARQUET_INVALID", retryable: false, family: "DataError" };
  assert.equal(
    decide({ test: false, objects: [{ ok: false, error: invalid } as never], skipped: 0 }, policy),
    "leave",
  );
  const limit = { code: "PARQUET_LIMIT", retryable: false, family: "DataError" };
  assert.equal(
    decide({ test: false, objects: [{ ok: false, error: limit } as never], skipped: 0 }, policy),
    "quarantine",
  );
  // With a redrive policy the dead-letter queue takes it, after max_receive_count.
  assert.equal(
    decide({ test: false, objects: [{ ok: false, error: limit } as never], skipped: 0 }, {
      ...policy,
      redrive: true,
    }),
    "leave",
  );
});
