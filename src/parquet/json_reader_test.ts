import assert from "node:assert/strict";
import { chunksApart, readEventLines } from "./json_reader.ts";
import { bufferFromBytes } from "./reader.ts";
import { rewriteAsV1 } from "../../tests/helpers/parquet_v1.ts";
import { collect, fixture, HEAD, header } from "../../tests/helpers/line_slices.ts";
import type { Run } from "../../tests/helpers/line_slices.ts";
import type { ReadEventLinesOptions } from "./json_reader.ts";
import type { RowGroup } from "hyparquet";
import { sharedPageBuffers, SharedPages } from "./shared_pages.ts";

/** The lines of a run's slices, in order. */
const lines = (r: Run) =>
  r.slices.flatMap((s) => new TextDecoder().decode(s.bytes).split("\n").slice(0, -1));

/**
 * The lines of `bytes` as `n` readers give them, reader `k` taking the parts `p` with
 * `p % n === k` (each with `options`), merged in row order.
 */
async function linesOfReaders(
  bytes: Uint8Array,
  n: number,
  options: ReadEventLinesOptions,
  shared?: SharedPages[],
): Promise<string[]> {
  const runs = await Promise.all(
    Array.from({ length: n }, (_, k) =>
      collect(readEventLines(bufferFromBytes(bytes), {
        ...options,
        takePart: (_, part) => part % n === k,
        ...(shared ? { sharedPages: shared[k] } : {}),
      }))),
  );
  const merged = runs.flatMap((r) => r.slices).sort((a, b) => a.rowStart - b.rowStart);
  return lines({ slices: merged });
}

Deno.test("readEventLines: a row group read in parts, some skipped, gives each row once and the same lines", async () => {
  // One 3,000-row group with lists (CloudTrail-like, avro layout): parts of 200 rows.
  const bytes = await fixture(6003, "ZSTD", "avro", 3000, 3000);
  const whole = await collect(readEventLines(bufferFromBytes(bytes), { header }));
  const all = lines(whole);
  assert.equal(all.length, 3000);
  const parts = await collect(readEventLines(bufferFromBytes(bytes), { header, partRows: 200 }));
  assert.deepEqual(lines(parts), all, "in parts");
  for (const s of parts.slices) {
    assert.ok((s.rowStart % 200) + s.rows <= 200, `slice at ${s.rowStart} crosses a part's end`);
  }
  // Two readers taking alternate parts (and skipping the others) write every row exactly once.
  const asked: number[] = [];
  const even = await collect(readEventLines(bufferFromBytes(bytes), {
    header,
    partRows: 200,
    takePart: (index, part) => {
      assert.equal(index, 0);
      asked.push(part);
      return part % 2 === 0;
    },
  }));
  const odd = await collect(readEventLines(bufferFromBytes(bytes), {
    header,
    partRows: 200,
    takePart: (_, part) => part % 2 === 1,
  }));
  assert.deepEqual(asked, Array.from({ length: 15 }, (_, p) => p));
  const merged = [...even.slices, ...odd.slices].sort((a, b) => a.rowStart - b.rowStart);
  assert.deepEqual(lines({ slices: merged }), all, "alternate parts");
  assert.ok(even.slices.every((s) => Math.floor(s.rowStart / 200) % 2 === 0));
  // Resuming inside a part skips the rows before it without writing them.
  for (const startRow of [1, 199, 200, 1234, 2999]) {
    const r = await collect(readEventLines(bufferFromBytes(bytes), { header, startRow }));
    assert.deepEqual(lines(r), all.slice(startRow), `startRow ${startRow}`);
  }
});

Deno.test("readEventLines: skipped rows pass whole pages of flat columns unread, with the same lines", async () => {
  // parquet-mr-like v1 pages of 97 entries, staggered per column, GZIP; one 3,000-row group.
  const bytes = rewriteAsV1(await fixture(6003, "ZSTD", "avro", 3000, 3000), {
    pageEntries: 97,
    codec: "GZIP",
  });
  const all = lines(await collect(readEventLines(bufferFromBytes(bytes), { header })));
  assert.equal(all.length, 3000);
  const stats = { passedPages: 0 };
  const thirds = await linesOfReaders(bytes, 3, { header, partRows: 150, stats });
  assert.deepEqual(thirds, all, "thirds");
  assert.ok(stats.passedPages > 100, `${stats.passedPages} pages passed`);
  for (const startRow of [1, 96, 97, 1000, 2903, 2999]) {
    const r = await collect(readEventLines(bufferFromBytes(bytes), { header, startRow }));
    assert.deepEqual(lines(r), all.slice(startRow), `startRow ${startRow}`);
  }
});

Deno.test("readEventLines: skipped rows inside a page decoded in pieces pass undecoded, with the same lines", async () => {
  // One 3,000-row group, one page per column, decoded 64 entries at a time; parts of 200 rows.
  const bytes = await fixture(6003, "ZSTD", "avro", 3000, 3000);
  const all = lines(await collect(readEventLines(bufferFromBytes(bytes), { header })));
  const stats = { passedPages: 0, passedEntries: 0 };
  const halves = await linesOfReaders(bytes, 2, { header, partRows: 200, pieceEntries: 64, stats });
  assert.deepEqual(halves, all, "halves");
  // Each reader passes most of the other's rows of most flat columns without decoding them.
  assert.ok(stats.passedEntries > 3000 * 10, `${stats.passedEntries} entries passed`);
  for (const startRow of [1, 63, 64, 1000, 2999]) {
    const r = await collect(
      readEventLines(bufferFromBytes(bytes), { header, startRow, pieceEntries: 64 }),
    );
    assert.deepEqual(lines(r), all.slice(startRow), `startRow ${startRow}`);
  }
});

Deno.test("readEventLines: readers sharing a row group's pages inflate each page once, with the same lines", async () => {
  // One 3,000-row group with lists, one page per column (V2, ZSTD), then V1 GZIP pages of 97
  // entries, some of which a reader passes unread.
  const v2 = await fixture(6003, "ZSTD", "avro", 3000, 3000);
  const v1 = rewriteAsV1(v2, { pageEntries: 97, codec: "GZIP" });
  for (const [name, bytes, n] of [["v2", v2, 2], ["v1", v1, 3]] as const) {
    const all = lines(await collect(readEventLines(bufferFromBytes(bytes), { header })));
    const pages = sharedPageBuffers(4 * bytes.length);
    const shared = Array.from({ length: n }, () => new SharedPages(pages));
    const got = await linesOfReaders(bytes, n, { header, partRows: 200 }, shared);
    assert.deepEqual(got, all, name);
    const published = shared.reduce((t, s) => t + s.counts.published, 0);
    const taken = shared.reduce((t, s) => t + s.counts.taken, 0);
    assert.ok(published > 50, `${name}: ${published} pages published`);
    if (n === 2) assert.equal(taken, published, `${name}: each page inflated by one reader`);
    else assert.ok(taken > published, `${name}: ${taken} pages taken of ${published}`);
    // The buffer is free again: a reader alone takes it for row group 2.
    assert.ok(new SharedPages(pages).enter(2, 0) !== undefined, `${name}: buffer left held`);
  }
});

Deno.test("readEventLines: pages are shared only where no two column chunks share a byte", () => {
  const chunk = (data: number, size: number, dictionary?: number) => ({
    meta_data: {
      data_page_offset: BigInt(data),
      total_compressed_size: BigInt(size),
      ...(dictionary !== undefined ? { dictionary_page_offset: BigInt(dictionary) } : {}),
    },
  });
  const group = (...columns: ReturnType<typeof chunk>[]) =>
    ({ columns, num_rows: 1n, total_byte_size: 0n }) as unknown as RowGroup;
  assert.equal(chunksApart(group(chunk(4, 10), chunk(14, 5), chunk(30, 2, 19))), true);
  assert.equal(chunksApart(group(chunk(20, 5), chunk(4, 10))), true, "in any order");
  assert.equal(chunksApart(group(chunk(4, 10), chunk(13, 5))), false, "one byte in both");
  assert.equal(chunksApart(group(chunk(4, 10), chunk(4, 10))), false, "the same chunk twice");
  assert.equal(chunksApart(group(chunk(30, 10, 10), chunk(12, 2))), false, "inside a dictionary");
  assert.equal(chunksApart({ columns: [{}] } as unknown as RowGroup), false, "no metadata");
});

/**
 * The reference for `LineSlice.starts`: offsets of the `rows` lines of `bytes`, each `headerBytes` of placeholder, then the event's
 * JSON (which never holds a raw newline), then a newline.
 */
function lineStarts(
  bytes: Uint8Array,
  rows: number,
  headerBytes: number,
): Uint32Array<ArrayBuffer> {
  const starts = new Uint32Array(new ArrayBuffer(rows * 4));
  let pos = 0;
  for (let i = 0; i < rows; i++) {
    starts[i] = pos;
    const nl = bytes.indexOf(10, pos + headerBytes);
    if (nl < 0) break;
    pos = nl + 1;
  }
  if (pos !== bytes.length) {
    throw new Error(`a slice of ${rows} lines does not split into ${rows} lines`);
  }
  return starts;
}

Deno.test("readEventLines: lineStarts gives each slice's line offsets, as a scan for newlines finds them", async () => {
  const bytes = await fixture(6003, "ZSTD", "avro", 3000, 1000);
  let slices = 0;
  for await (
    const s of readEventLines(bufferFromBytes(bytes), { header, lineStarts: true, sliceRows: 700 })
  ) {
    assert.ok(s.starts, "starts given");
    assert.deepEqual([...s.starts], [...lineStarts(s.bytes, s.rows, HEAD.length)]);
    slices++;
  }
  assert.ok(slices >= 5);
  for await (const s of readEventLines(bufferFromBytes(bytes), { header })) {
    assert.equal(s.starts, undefined);
  }
});

Deno.test("readEventLines: freeBuffersFrom frees the buffers of row groups that need that much, with the same lines", async () => {
  // Two 2,000-row groups, each read in one request.
  const bytes = await fixture(6003, "ZSTD", "avro", 4000, 2000);
  const text = (r: Run) => r.slices.map((s) => new TextDecoder().decode(s.bytes)).join("");
  const plain = text(await collect(readEventLines(bufferFromBytes(bytes), { header })));
  const file = bufferFromBytes(bytes);
  /** The detached state of each read after reading with `freeBuffersFrom` (the footer's first). */
  const detached = async (freeBuffersFrom?: number) => {
    const reads: ArrayBuffer[] = [];
    const watched = {
      byteLength: file.byteLength,
      slice: async (start: number, end?: number) => {
        const b = await file.slice(start, end);
        reads.push(b);
        return b;
      },
    };
    const r = await collect(readEventLines(watched, { header, freeBuffersFrom }));
    assert.equal(text(r), plain);
    return reads.map((b) => b.detached);
  };
  // Both row groups need more than 0 bytes: their reads are freed; the footer's stays.
  assert.deepEqual(await detached(0), [false, true, true]);
  // No row group of this object needs 1 GB, and without the option nothing is freed.
  assert.deepEqual(await detached(1e9), [false, false, false]);
  assert.deepEqual(await detached(), [false, false, false]);
});
