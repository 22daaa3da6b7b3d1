import assert from "node:assert/strict";
import { idMsgParquet } from "../../tests/helpers/id_msg_parquet.ts";
import { CollectorError, isCollectorError } from "../errors.ts";
import { emptyOutputStats } from "../output/confirmed_stream.ts";
import { LineFormatter } from "../transform/line.ts";
import {
  endsLikeParquet,
  parquetCheckedReader,
  skipReasonOf,
  TAIL_BYTES,
} from "./content_check.ts";
import { processObject } from "./object_processor.ts";
import type { EventOutput, ObjectReader, ObjectRef, OpenedObject } from "./ports.ts";

/** Objects in memory; counts the reads of each and whether it was closed. */
class MemoryReader implements ObjectReader {
  requests = 0;
  readonly reads: [number, number][] = [];
  closed = 0;
  constructor(readonly objects: Record<string, Uint8Array>) {}
  open(ref: ObjectRef): Promise<OpenedObject> {
    const bytes = this.objects[ref.key];
    if (!bytes) throw new CollectorError("S3_NOT_FOUND", `no ${ref.key}`);
    const ab = bytes.slice().buffer as ArrayBuffer;
    return Promise.resolve({
      size: ab.byteLength,
      buffer: {
        byteLength: ab.byteLength,
        slice: (s: number, e: number = ab.byteLength) => {
          this.requests++;
          this.reads.push([s, e]);
          return ab.slice(s, e);
        },
      },
      close: () => this.closed++,
    });
  }
}

/** Counts what it is given; confirms at once. */
function countingOutput(): EventOutput & { rows: number } {
  const out = {
    name: "count",
    stats: emptyOutputStats(),
    rows: 0,
    write(_chunk: Uint8Array, events: number) {
      out.rows += events;
      return Promise.resolve({ confirmed: Promise.resolve() });
    },
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
    abort: () => {},
  };
  return out;
}

const rows = (n: number) => Array.from({ length: n }, (_, id) => ({ id, msg: `event ${id}` }));
const ref = (key: string): ObjectRef => ({ bucket: "b", key });

Deno.test("PAR1 at the end is Parquet, whatever the key is named", async () => {
  const parquet = idMsgParquet(rows(20));
  assert.ok(endsLikeParquet(parquet.slice().buffer as ArrayBuffer));
  assert.ok(!endsLikeParquet(new TextEncoder().encode('{"a":1}').buffer as ArrayBuffer));
  const inner = new MemoryReader({ "ext/W/1.0/x-3a8d80f4.gz": parquet });
  const opened = await parquetCheckedReader(inner).open(ref("ext/W/1.0/x-3a8d80f4.gz"));
  assert.deepEqual(inner.reads, [[0, parquet.length]]);
  // Reads inside the last bytes are served from them: the footer is not read twice.
  const footer = await opened.buffer.slice(parquet.length - 8, parquet.length);
  assert.equal(footer.byteLength, 8);
  assert.equal(inner.reads.length, 1);
  opened.close?.();
  assert.equal(inner.closed, 1);
});

Deno.test("a large object's last bytes are read once; other ranges go to the object", async () => {
  const big = new Uint8Array(TAIL_BYTES + 1000);
  big.set(new TextEncoder().encode("PAR1"), big.length - 4);
  const inner = new MemoryReader({ "k.gz": big });
  const opened = await parquetCheckedReader(inner).open(ref("k.gz"));
  assert.deepEqual(inner.reads, [[1000, big.length]]);
  await opened.buffer.slice(2000, 3000);
  await opened.buffer.slice(0, 100);
  assert.deepEqual(inner.reads, [[1000, big.length], [0, 100]]);
});

Deno.test("an object over max_object_bytes is not read at all: the processor refuses it", async () => {
  const inner = new MemoryReader({ "k.gz": new Uint8Array(5000) });
  const opened = await parquetCheckedReader(inner).open(ref("k.gz"), undefined, { maxBytes: 100 });
  assert.equal(opened.size, 5000);
  assert.deepEqual(inner.reads, []);
});

Deno.test("objects that are not Parquet are refused with DataError 612 and closed", async () => {
  const inner = new MemoryReader({
    "ext/W/1.0/notes.txt": new TextEncoder().encode("some notes about this folder\n"),
    "ext/W/1.0/tiny.gz": new Uint8Array([0x50, 0x41, 0x52, 0x31]),
    "ext/W/1.0/empty": new Uint8Array(0),
  });
  const reader = parquetCheckedReader(inner);
  for (const key of ["ext/W/1.0/notes.txt", "ext/W/1.0/tiny.gz", "ext/W/1.0/empty"]) {
    await assert.rejects(reader.open(ref(key)), (e) => {
      assert.ok(isCollectorError(e, "OBJECT_NOT_PARQUET"), String(e));
      assert.equal(e.id, 612);
      assert.equal(skipReasonOf(e), "not_parquet");
      assert.match(e.message, new RegExp(`s3://b/${key} is not Parquet`));
      return true;
    });
  }
  assert.equal(inner.closed, 3);
  assert.equal(skipReasonOf(new CollectorError("S3_OBJECT_ARCHIVED", "x")), "archived");
  assert.equal(skipReasonOf(new CollectorError("PARQUET_INVALID", "x")), undefined);
});

Deno.test("a key named .parquet without PAR1 is damaged: it fails (601), it is not skipped", async () => {
  const inner = new MemoryReader({ "a/x.gz.parquet": new TextEncoder().encode("not parquet") });
  const out = countingOutput();
  const outcome = await processObject(ref("a/x.gz.parquet"), {
    reader: inner,
    outputs: [out],
    formatter: new LineFormatter({ hostname: "h", tag: "a.b.c" }),
  });
  assert.equal(outcome.ok, false);
  assert.equal(!outcome.ok && outcome.error.id, 601);
});

Deno.test("processObject: Parquet under any name is delivered; other content is skipped", async () => {
  const inner = new MemoryReader({
    "ext/W/1.0/dev-sl-ocsf-processing-1-3a8d80f4.gz": idMsgParquet(rows(30)),
    "ext/W/1.0/export.csv": new TextEncoder().encode("a,b\n1,2\n"),
  });
  const out = countingOutput();
  const options = {
    reader: inner,
    outputs: [out],
    formatter: new LineFormatter({ hostname: "h", tag: "a.b.c" }),
  };
  const good = await processObject(ref("ext/W/1.0/dev-sl-ocsf-processing-1-3a8d80f4.gz"), options);
  assert.ok(good.ok && !good.skipped);
  assert.equal(good.events, 30);
  const other = await processObject(ref("ext/W/1.0/export.csv"), options);
  assert.ok(other.ok, "a skip is not a failure: its message is deleted");
  assert.equal(other.events, 0);
  assert.equal(other.ok && other.skipped?.reason, "not_parquet");
  assert.equal(other.ok && other.skipped?.error.id, 612);
  assert.equal(out.rows, 30);
});
