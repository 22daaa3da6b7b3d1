import assert from "node:assert/strict";
import { listParquet, SAMPLES_PARQUET } from "../../tests/helpers/samples.ts";
import { CollectorError } from "../errors.ts";
import { readEventLines } from "./json_reader.ts";
import type { LineSlice, ReadEventLinesOptions } from "./json_reader.ts";
import { DecodePool, readEventLinesParallel } from "./parallel_lines.ts";
import {
  APPEND,
  assertSameSlices,
  collect,
  counting,
  fixture,
  header,
} from "../../tests/helpers/line_slices.ts";
import type { Run } from "../../tests/helpers/line_slices.ts";
import type { FixtureCodec, OcsfClassUid, ParquetLayout } from "../../tests/lib/ocsf_fixtures.ts";
import { bufferFromBytes, readMetadata } from "./reader.ts";

const enc = new TextEncoder();

/** readEventLines and readEventLinesParallel over the same bytes: slices, errors, reads. */
async function both(
  bytes: Uint8Array,
  pool: DecodePool,
  options: ReadEventLinesOptions = {},
  fail?: (start: number) => unknown,
  paceMs = 0,
) {
  const a = counting(bytes, fail);
  const expected = await collect(readEventLines(a.buffer, options));
  const b = counting(bytes, fail);
  const actual = await collect(readEventLinesParallel(b.buffer, { ...options, pool }), paceMs);
  return { expected, actual, expectedReads: a.stats.reads, actualReads: b.stats.reads };
}

/** The workers `pool` lends from now on, in order (each counts the slices it decoded). */
function lentWorkers(pool: DecodePool): { slices: number }[] {
  const workers: { slices: number }[] = [];
  const acquire = pool.acquire.bind(pool);
  pool.acquire = async (want, signal) => {
    const lent = await acquire(want, signal);
    workers.push(...lent);
    return lent;
  };
  return workers;
}

/** Waits until `value()` has not changed for `quietMs`. */
async function settle(value: () => number, quietMs = 400, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = value();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const v = value();
    if (v !== last) {
      last = v;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return v;
  }
  return last;
}

// ---- tests ----------------------------------------------------------------------------------------

Deno.test("parallel: same slices, bytes and S3 reads as readEventLines on generated fixtures", async () => {
  using pool = new DecodePool({ threads: 2 });
  const cases: [OcsfClassUid, FixtureCodec, ParquetLayout][] = [
    [6003, "ZSTD", "avro"],
    [4001, "GZIP", "standard"],
    [2004, "SNAPPY", "avro"],
  ];
  for (const [classUid, codec, layout] of cases) {
    const bytes = await fixture(classUid, codec, layout);
    for (const sliceBytes of [256 * 1024, 20_000]) {
      const what = `${classUid} ${codec} ${layout} sliceBytes ${sliceBytes}`;
      const r = await both(bytes, pool, { header, append: APPEND, sliceBytes });
      assert.equal(r.expected.error, undefined);
      assert.equal(r.actual.error, undefined, String(r.actual.error));
      assert.equal(r.actual.slices.reduce((n, s) => n + s.rows, 0), 5000, what);
      assertSameSlices(r.actual.slices, r.expected.slices, what);
      // Never more requests; fewer when a row group lies inside the footer read (served from it).
      assert.ok(r.actualReads <= r.expectedReads, `${what}: ${r.actualReads} S3 requests`);
    }
  }
  assert.equal(pool.started, 2, "two workers, reused for every object");
  assert.equal(pool.alive, 2);
});

Deno.test("parallel: the same S3 requests: the footer once, then one per row group", async () => {
  using pool = new DecodePool({ threads: 2 });
  // 1 MB row groups: none fits in the footer read, so nothing is served from it.
  const bytes = await fixture(6003, "ZSTD", "avro", 20_000, 10_000);
  const r = await both(bytes, pool, { header });
  assertSameSlices(r.actual.slices, r.expected.slices, "20,000 rows");
  assert.equal(r.expectedReads, 3);
  assert.equal(r.actualReads, 3);
});

Deno.test("parallel: row groups are read ahead of the workers, adjacent ones in one request", async () => {
  const bytes = await fixture(6003, "ZSTD", "avro", 40_000, 5_000);
  const groups = (await readMetadata(bufferFromBytes(bytes), "f")).row_groups.length;
  assert.equal(groups, 8);
  const requests: Record<string, number> = {};
  for (const readAheadBytes of [1, 64 * 1024 * 1024]) {
    // One worker: with two, which row group is asked for first depends on timing.
    using pool = new DecodePool({ threads: 1, readAheadBytes });
    const r = await both(bytes, pool, { header });
    assertSameSlices(r.actual.slices, r.expected.slices, `read ahead ${readAheadBytes}`);
    requests[readAheadBytes] = r.actualReads;
    // One thread: the footer, then one request per row group not inside the footer read.
    assert.ok(r.expectedReads >= 5, `${r.expectedReads} requests in one thread`);
    if (readAheadBytes === 1) assert.equal(r.actualReads, r.expectedReads);
  }
  // Everything after the first row group in one request.
  assert.equal(requests[64 * 1024 * 1024], 3, JSON.stringify(requests));
});

Deno.test("parallel: a read made ahead that failed fails the worker that asks for it, with its error", async () => {
  using pool = new DecodePool({ threads: 1, readAheadBytes: 64 * 1024 * 1024 });
  const bytes = await fixture(6003, "ZSTD", "avro", 40_000, 5_000);
  const metadata = await readMetadata(bufferFromBytes(bytes), "f");
  const second = Number(metadata.row_groups[1]!.columns[0]!.meta_data!.data_page_offset);
  const refusal = new CollectorError("S3_CALL", "S3 GetObject of s3://b/k failed: SlowDown", {
    retryable: true,
  });
  let refused = 0;
  const { buffer } = counting(bytes, (start) => {
    // The block read ahead starts at the second row group.
    if (start > second || second - start >= 4096) return undefined;
    refused++;
    return refusal;
  });
  const run = await collect(readEventLinesParallel(buffer, { header, pool }));
  assert.equal(refused, 1);
  assert.equal(run.error, refusal);
  assert.equal(run.slices.reduce((n, s) => n + s.rows, 0), 5000, "the first row group only");
});

Deno.test("parallel: prestart loads the workers before any object; the first object takes them", async () => {
  using pool = new DecodePool({ threads: 2 });
  assert.equal(pool.alive, 0);
  await pool.prestart();
  assert.equal(pool.started, 2);
  assert.equal(pool.alive, 2);
  await pool.prestart(); // nothing more to start
  assert.equal(pool.started, 2);
  const bytes = await fixture();
  const r = await both(bytes, pool, { header });
  assertSameSlices(r.actual.slices, r.expected.slices, "after prestart");
  assert.equal(pool.started, 2, "the prestarted workers did the work");
  // A module that cannot load: prestart resolves, the pool decodes on the calling thread.
  using broken = new DecodePool({
    threads: 2,
    workerUrl: "data:text/javascript,throw new Error('no worker here')",
  });
  await broken.prestart();
  assert.equal(broken.available, false);
  assert.equal(broken.alive, 0);
});

Deno.test("parallel: three workers deal five row groups unevenly, no header, sliceRows", async () => {
  using pool = new DecodePool({ threads: 3 });
  const bytes = await fixture();
  const r = await both(bytes, pool, { sliceRows: 333 });
  assert.equal(r.actual.error, undefined, String(r.actual.error));
  assertSameSlices(r.actual.slices, r.expected.slices, "3 workers");
  assert.equal(pool.started, 3);
});

Deno.test("parallel: the workers share the row groups of one object", async () => {
  using pool = new DecodePool({ threads: 2, aheadBytes: 1024 * 1024 });
  const bytes = await fixture();
  const workers = lentWorkers(pool);
  const r = await both(bytes, pool, { header });
  assertSameSlices(r.actual.slices, r.expected.slices, "shared");
  assert.equal(workers.length, 2);
  for (const w of workers) assert.ok(w.slices >= 10, `a worker decoded ${w.slices} slices`);
});

Deno.test("parallel: a second worker leaves when row groups dwarf its lead", async () => {
  // 64 KiB of lead against 1.7 MB of lines per row group: after row group 0, one worker.
  using pool = new DecodePool({ threads: 2, aheadBytes: 64 * 1024 });
  const bytes = await fixture(6003, "ZSTD", "avro", 10_000, 1000);
  const workers = lentWorkers(pool);
  const r = await both(bytes, pool, { header });
  assertSameSlices(r.actual.slices, r.expected.slices, "one worker left");
  // Ten row groups of 7 slices: one worker stops after its second at most (without the rule,
  // they would share them about evenly).
  const [a, b] = workers.map((w) => w.slices).sort((x, y) => x - y);
  assert.equal(a! + b!, r.expected.slices.length);
  assert.ok(a! <= 16 && b! >= 50, `the workers decoded ${a} and ${b} slices`);
});

Deno.test("parallel: an object waiting for a worker gets one before the first object ends", async () => {
  // A lead of 1 MiB: under a row group's 1.7 MB of lines, over a quarter of them.
  using pool = new DecodePool({ threads: 2, aheadBytes: 1024 * 1024 });
  const bytes = await fixture();
  const a = readEventLinesParallel(bufferFromBytes(bytes), { header, pool });
  let rowsA = (await a.next()).value!.rows;
  assert.equal(pool.alive, 2);
  assert.equal(pool.waiting, 0);
  // All workers are lent: b waits, and one of a's workers leaves after its row group.
  const b = readEventLinesParallel(bufferFromBytes(bytes), { header, pool });
  let firstB: LineSlice | undefined;
  const pending = b.next().then((r) => firstB = r.value as LineSlice);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pool.waiting, 1);
  let lentAt: number | undefined;
  while (firstB === undefined) {
    const next = await a.next();
    if (next.done) break;
    rowsA += next.value.rows;
    await new Promise((r) => setTimeout(r, 1));
    if (pool.waiting === 0) lentAt ??= rowsA;
  }
  await pending;
  // a's second worker finishes row group 1 and leaves (without that, it would go on to row
  // group 3 and be free only near the end of a).
  assert.ok(lentAt !== undefined && lentAt <= 2500, `b got a worker after ${lentAt} rows of a`);
  assert.equal(firstB!.rowStart, 0);
  const restA = await collect(a);
  const restB = await collect(b);
  assert.equal(restA.error, undefined, String(restA.error));
  assert.equal(restB.error, undefined, String(restB.error));
  assert.equal(rowsA + restA.slices.reduce((n, s) => n + s.rows, 0), 5000);
  assert.equal(firstB!.rows + restB.slices.reduce((n, s) => n + s.rows, 0), 5000);
  assert.equal(pool.started, 2);
});

Deno.test("parallel: the public samples decode the same (one row group each)", async () => {
  using pool = new DecodePool({ threads: 2 });
  const files = await listParquet(SAMPLES_PARQUET);
  for (const f of files) {
    const r = await both(await Deno.readFile(f), pool, { header, append: APPEND });
    assert.equal(r.actual.error === undefined, r.expected.error === undefined, f);
    assertSameSlices(r.actual.slices, r.expected.slices, f);
    assert.ok(r.actualReads <= r.expectedReads, `${f}: S3 requests`);
  }
});

Deno.test("parallel: a large row group is shared part by part, the same slices as one thread", async () => {
  // 64 KiB of lead against 5 MB of lines: read whole, the second worker would leave.
  using pool = new DecodePool({ threads: 2, aheadBytes: 64 * 1024 });
  await pool.prestart(); // both workers loaded before the object starts
  const bytes = await fixture(6003, "ZSTD", "avro", 3000, 3000);
  const workers = lentWorkers(pool);
  for (const startRow of [0, 1234]) {
    // A consumer that takes a slice every 10 ms: the first worker waits on its lead in its first
    // part, however fast it decodes, while the second one claims the next.
    const options = { header, partRows: 200, sliceBytes: 50_000, startRow };
    const r = await both(bytes, pool, options, undefined, 10);
    assert.equal(r.actual.error, undefined, String(r.actual.error));
    assertSameSlices(r.actual.slices, r.expected.slices, `parts from ${startRow}`);
    assert.equal(r.actual.slices.reduce((n, s) => n + s.rows, 0), 3000 - startRow);
    // Each worker reads the row group it shares: at most one request more per worker.
    assert.ok(r.actualReads <= r.expectedReads + 1, `${r.actualReads} S3 requests`);
  }
  assert.equal(workers.length, 4);
  // Both workers of each run wrote parts (read whole, one of them would write none).
  for (const w of workers) assert.ok(w.slices >= 3, `a worker decoded ${w.slices} slices`);
});

Deno.test("parallel: startRow resumes inside a row group, at a boundary, and past the end", async () => {
  using pool = new DecodePool({ threads: 2 });
  const bytes = await fixture();
  for (const startRow of [2345, 3000, 4999, 5000, 7000]) {
    const r = await both(bytes, pool, { header, startRow, sliceBytes: 50_000 });
    assert.equal(r.actual.error, undefined, String(r.actual.error));
    assertSameSlices(r.actual.slices, r.expected.slices, `startRow ${startRow}`);
    if (startRow < 5000) assert.equal(r.actual.slices[0]!.rowStart, startRow);
    else assert.equal(r.actual.slices.length, 0);
    assert.ok(r.actualReads <= r.expectedReads, `startRow ${startRow}: S3 requests`);
  }
});

Deno.test("parallel: a header whose length changes gives the same slices and calls", async () => {
  using pool = new DecodePool({ threads: 2 });
  const bytes = await fixture();
  const counter = () => {
    let n = 0;
    const calls = { n: 0 };
    // <1>, ..., <10>, ..., <100>: longer now and then, so the worker's placeholder is wrong.
    return { calls, header: () => (calls.n++, enc.encode(`<${n++ * 7}> `)) };
  };
  const a = counter();
  const expected = await collect(
    readEventLines(bufferFromBytes(bytes), { header: a.header, sliceBytes: 8192 }),
  );
  const b = counter();
  const actual = await collect(
    readEventLinesParallel(bufferFromBytes(bytes), { header: b.header, sliceBytes: 8192, pool }),
  );
  assert.equal(actual.error, undefined, String(actual.error));
  assert.ok(expected.slices.length > 100);
  assertSameSlices(actual.slices, expected.slices, "varying header");
  assert.equal(b.calls.n, a.calls.n, "header() calls");
});

/** `bytes` with the header of the data page of the largest column chunk of row group `g` damaged. */
async function corrupt(bytes: Uint8Array, g: number): Promise<Uint8Array> {
  const metadata = await readMetadata(bufferFromBytes(bytes));
  const chunks = metadata.row_groups[g]!.columns.map((c) => c.meta_data!);
  const big = chunks.reduce((a, b) => a.total_compressed_size > b.total_compressed_size ? a : b);
  const out = bytes.slice();
  const at = Number(big.data_page_offset);
  out.fill(0xff, at, at + 12);
  return out;
}

Deno.test("parallel: an invalid row group fails with the same CollectorError after the same slices", async () => {
  using pool = new DecodePool({ threads: 2 });
  for (const g of [2, 3]) {
    const bytes = await corrupt(await fixture(), g);
    const r = await both(bytes, pool, { header, name: "s3://b/k.parquet", sliceBytes: 50_000 });
    assert.ok(r.expected.error instanceof CollectorError, String(r.expected.error));
    assert.equal(r.expected.slices.at(-1)!.rowStart + r.expected.slices.at(-1)!.rows, g * 1000);
    const e = r.actual.error;
    assert.ok(e instanceof CollectorError, `row group ${g}: ${e}`);
    const want = r.expected.error;
    assert.equal(e.code, want.code);
    assert.equal(e.id, want.id);
    assert.equal(e.message, want.message);
    assert.equal(e.retryable, want.retryable);
    assert.deepEqual(e.context, want.context);
    assertSameSlices(r.actual.slices, r.expected.slices, `row group ${g} corrupt`);
  }
  // The worker that failed ended its session and is reused; the other one, cut short, was
  // terminated and replaced.
  assert.ok(pool.alive <= 2);
  const r = await both(await fixture(), pool, { header });
  assertSameSlices(r.actual.slices, r.expected.slices, "after errors");
  assert.ok(pool.started <= 4, `${pool.started} workers started`);
});

Deno.test("parallel: a failed read surfaces as the very error the AsyncBuffer threw", async () => {
  using pool = new DecodePool({ threads: 2 });
  // Row groups of 1 MB: the second one is not inside the footer read, so it is read from S3.
  const bytes = await fixture(6003, "ZSTD", "avro", 20_000, 10_000);
  const metadata = await readMetadata(bufferFromBytes(bytes));
  const group1 = metadata.row_groups[1]!.columns.map((c) => c.meta_data!);
  const at = Math.min(...group1.map((c) => Number(c.dictionary_page_offset ?? c.data_page_offset)));
  const refusal = new CollectorError("S3_CALL", "S3 GetObject of s3://b/k failed: SlowDown", {
    retryable: true,
    context: { bucket: "b", key: "k" },
  });
  const plain = new Error("socket hang up");
  for (const thrown of [refusal, plain]) {
    const r = await both(bytes, pool, { header }, (start) => start === at ? thrown : undefined);
    assertSameSlices(r.actual.slices, r.expected.slices, "before the failed read");
    assert.equal(r.actual.slices.at(-1)!.rowStart + r.actual.slices.at(-1)!.rows, 10_000);
    if (thrown === refusal) {
      assert.equal(r.expected.error, refusal);
      assert.equal(r.actual.error, refusal, "the same object, not a copy");
    } else {
      // readEventLines wraps a foreign error; the cause is the original object either way.
      const e = r.actual.error as CollectorError;
      const want = r.expected.error as CollectorError;
      assert.ok(want instanceof CollectorError);
      assert.equal(e.message, want.message);
      assert.equal(e.code, want.code);
      assert.equal(want.cause, plain);
      assert.equal(e.cause, plain);
    }
  }
});

Deno.test("parallel: a worker lost mid-object: the rest is decoded on this thread, every row once", async () => {
  const bytes = await fixture();
  const lines = (slices: Run["slices"]) =>
    slices.flatMap((s) => new TextDecoder().decode(s.bytes).split("\n").slice(0, -1));
  const expected = lines(
    (await collect(readEventLines(bufferFromBytes(bytes), { header }))).slices,
  );
  const pool = new DecodePool({ threads: 2, aheadBytes: 64 * 1024 });
  const slices: Run["slices"] = [];
  for await (const s of readEventLinesParallel(bufferFromBytes(bytes), { header, pool })) {
    slices.push(s);
    if (slices.length === 3) pool.close(); // the workers are terminated under the object
  }
  assert.equal(pool.alive, 0);
  let next = 0;
  for (const s of slices) {
    assert.equal(s.rowStart, next, "rows in order, none twice");
    next += s.rows;
  }
  assert.deepEqual(lines(slices), expected);
});

Deno.test("parallel: abort stops the workers and throws the signal's reason", async () => {
  // A small lead keeps both workers busy until the abort (a finished worker is kept).
  using pool = new DecodePool({ threads: 2, aheadBytes: 64 * 1024 });
  const bytes = await fixture();
  const controller = new AbortController();
  const { buffer } = counting(bytes);
  const gen = readEventLinesParallel(buffer, {
    header,
    sliceBytes: 20_000,
    signal: controller.signal,
    pool,
  });
  let seen = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of gen) {
        if (++seen === 3) setTimeout(() => controller.abort(), 0);
        await new Promise((r) => setTimeout(r, 5));
      }
    })(),
    (e) => e === controller.signal.reason && (e as DOMException).name === "AbortError",
  );
  assert.ok(seen >= 3 && seen < 20, `${seen} slices`);
  assert.equal(pool.alive, 0, "the workers were terminated");

  // Aborted while the consumer waits for the next slice.
  const waiting = new AbortController();
  const gen2 = readEventLinesParallel(bufferFromBytes(bytes), {
    header,
    signal: waiting.signal,
    pool,
  });
  await gen2.next();
  const pending = gen2.next();
  waiting.abort();
  await assert.rejects(pending, (e) => e === waiting.signal.reason);
  assert.equal(pool.alive, 0);

  // Aborted before anything was read: like readEventLines, the reason at the first pull.
  const before = new AbortController();
  before.abort();
  await assert.rejects(
    collect(readEventLinesParallel(buffer, { signal: before.signal, pool })).then((r) => {
      throw r.error;
    }),
    (e) => e === before.signal.reason,
  );
  assert.equal(pool.alive, 0);
});

Deno.test("parallel: returning early terminates the workers; the pool starts new ones", async () => {
  using pool = new DecodePool({ threads: 2, aheadBytes: 64 * 1024 });
  const bytes = await fixture();
  let n = 0;
  for await (const _ of readEventLinesParallel(bufferFromBytes(bytes), { header, pool })) {
    if (++n === 2) break;
  }
  assert.equal(pool.started, 2);
  assert.equal(pool.alive, 0, "both workers were terminated");
  const r = await both(bytes, pool, { header });
  assertSameSlices(r.actual.slices, r.expected.slices, "after an early return");
  assert.equal(pool.started, 4);
  pool.close();
  assert.equal(pool.alive, 0);
});

Deno.test("parallel: workers stop a bounded number of bytes ahead of a consumer that does not pull", async () => {
  const bytes = await fixture();
  const total = (await collect(readEventLines(bufferFromBytes(bytes), { header })))
    .slices.reduce((n, s) => n + s.bytes.length, 0);
  const sliceBytes = 16_384;
  const run = async (aheadBytes: number) => {
    using pool = new DecodePool({ threads: 2, aheadBytes });
    const gen = readEventLinesParallel(bufferFromBytes(bytes), { header, sliceBytes, pool });
    const first = await gen.next();
    assert.equal(first.value!.rowStart, 0);
    const received = await settle(() => pool.received.bytes);
    await gen.return(undefined);
    return { received, alive: pool.alive };
  };
  // Each worker stops once aheadBytes of its slices are not taken (a slice may pass the mark).
  const aheadBytes = 64 * 1024;
  const bounded = await run(aheadBytes);
  const slack = 2 * sliceBytes;
  assert.ok(bounded.received <= 2 * (aheadBytes + slack), `${bounded.received} bytes decoded`);
  assert.ok(bounded.received >= aheadBytes, `${bounded.received} bytes decoded`);
  assert.equal(bounded.alive, 0, "the stalled workers were terminated");
  // Without the bound, the workers decode everything while nobody pulls.
  const unbounded = await run(1 << 30);
  assert.equal(unbounded.received, total);
  assert.equal(unbounded.alive, 2, "workers that finished are kept");
});

Deno.test("parallel: objects at once share the pool's workers", async () => {
  using pool = new DecodePool({ threads: 2 });
  const bytes = await fixture();
  const expected = await collect(readEventLines(bufferFromBytes(bytes), { header }));
  const runs = await Promise.all(
    [0, 1, 2].map(() =>
      collect(readEventLinesParallel(bufferFromBytes(bytes), { header, pool, sliceBytes: 65536 }))
    ),
  );
  const wanted = await collect(
    readEventLines(bufferFromBytes(bytes), { header, sliceBytes: 65536 }),
  );
  for (const r of runs) {
    assert.equal(r.error, undefined, String(r.error));
    assertSameSlices(r.slices, wanted.slices, "concurrent");
  }
  assert.ok(expected.slices.length > 0);
  assert.ok(pool.started <= 2, `${pool.started} workers started`);
});

Deno.test("parallel: without a loadable worker module it decodes on this thread", async () => {
  using pool = new DecodePool({
    threads: 2,
    // A module that fails as it loads, like a bundle whose worker file is missing.
    workerUrl: "data:text/javascript,throw new Error('no worker here')",
  });
  const bytes = await fixture();
  const r = await both(bytes, pool, { header, append: APPEND });
  assert.equal(r.actual.error, undefined, String(r.actual.error));
  assertSameSlices(r.actual.slices, r.expected.slices, "fallback");
  assert.ok(r.actualReads <= r.expectedReads);
  assert.equal(pool.available, false);
  assert.equal(pool.alive, 0);
  assert.equal(pool.started, 0);
});

Deno.test("parallel: objects waiting for a worker that cannot start decode on this thread", async () => {
  using pool = new DecodePool({
    threads: 2,
    workerUrl: "data:text/javascript,throw new Error('no worker here')",
  });
  const bytes = await fixture();
  const expected = await collect(readEventLines(bufferFromBytes(bytes), { header }));
  // The first object tries a worker; the others wait for it, then fall back as well.
  const runs = await Promise.all(
    [0, 1, 2].map(() => collect(readEventLinesParallel(bufferFromBytes(bytes), { header, pool }))),
  );
  for (const r of runs) assertSameSlices(r.slices, expected.slices, "fallback, at once");
  assert.equal(pool.waiting, 0);
  assert.equal(pool.alive, 0);
});

Deno.test("parallel: a closed pool decodes on this thread; options are checked", async () => {
  const pool = new DecodePool({ threads: 2 });
  pool.close();
  const bytes = await fixture();
  const kept = pool.footerBytesKept;
  const r = await both(bytes, pool, { header });
  assertSameSlices(r.actual.slices, r.expected.slices, "closed pool");
  assert.equal(pool.started, 0);
  // Read straight from the file: no copy of its row groups is kept while they are decoded.
  assert.equal(pool.footerBytesKept - kept, 0);
  assert.throws(() => new DecodePool({ threads: 0 }), RangeError);
  assert.throws(() => new DecodePool({ threads: 2, aheadBytes: 0 }), RangeError);
});
