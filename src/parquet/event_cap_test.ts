import assert from "node:assert/strict";
import { idMsgParquet } from "../../tests/helpers/id_msg_parquet.ts";
import { truncateEvent } from "../transform/truncate.ts";
import { ByteOut } from "./json_bytes.ts";
import { readEventLines } from "./json_reader.ts";
import type { LineSlice, Oversized } from "./json_reader.ts";
import { DecodePool, readEventLinesParallel } from "./parallel_lines.ts";
import { bufferFromBytes } from "./reader.ts";

const APPEND = '"@devo_pulling_id":"1700000000000"';

async function lines(slices: AsyncIterable<LineSlice>) {
  const out: string[] = [];
  const oversized: Oversized[] = [];
  for await (const s of slices) {
    out.push(...new TextDecoder().decode(s.bytes).split("\n").slice(0, -1));
    oversized.push(...(s.oversized ?? []));
  }
  return { out, oversized };
}

Deno.test("ByteOut never grows for bytes past its cap: they are written over and counted", () => {
  const o = new ByteOut(1024);
  o.cap = 100;
  const chunk = new Uint8Array(1000).fill(120);
  for (let i = 0; i < 5000; i++) o.bytes(chunk); // 5 MB
  assert.ok(o.buf.length <= 4096, `grew to ${o.buf.length}`);
  assert.equal(o.pos + o.dropped, 5_000_000);
});

Deno.test("an event over maxEventBytes is cut off while built, exactly as truncating it whole", async () => {
  const rows = [
    { id: 1, msg: "small" },
    { id: 2, msg: "x".repeat(300_000) },
    { id: 3, msg: "é".repeat(700) },
    { id: 4, msg: "y".repeat(2_000) },
  ];
  const file = bufferFromBytes(idMsgParquet(rows));
  const whole = await lines(readEventLines(file, { append: APPEND }));
  const max = 1024;
  const expected = whole.out.map((json) => {
    const bytes = new TextEncoder().encode(json).length;
    return bytes > max ? truncateEvent(json, max, bytes, [APPEND]) : json;
  });
  const wholeSizes = whole.out.map((j) => new TextEncoder().encode(j).length);
  const cut = await lines(readEventLines(file, { append: APPEND, maxEventBytes: max }));
  assert.deepEqual(cut.out, expected);
  assert.deepEqual(cut.oversized, [
    { row: 1, bytes: wholeSizes[1] },
    { row: 2, bytes: wholeSizes[2] },
    { row: 3, bytes: wholeSizes[3] },
  ]);
  // Resumed after a row, and on decode workers: the same lines and the same rows.
  const resumed = await lines(
    readEventLines(file, { append: APPEND, maxEventBytes: max, startRow: 2 }),
  );
  assert.deepEqual(resumed.out, expected.slice(2));
  assert.deepEqual(resumed.oversized.map((o) => o.row), [2, 3]);
  using pool = new DecodePool({ threads: 2 });
  const parallel = await lines(
    readEventLinesParallel(file, { append: APPEND, maxEventBytes: max, pool }),
  );
  assert.deepEqual(parallel.out, expected);
  assert.deepEqual(parallel.oversized, cut.oversized);
});
