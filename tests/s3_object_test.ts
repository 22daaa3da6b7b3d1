/**
 * Ranged reads of an S3 object against moto: every range is of the version HeadObject saw, so an
 * object replaced while it is read fails with S3_OBJECT_CHANGED instead of mixing the bytes of
 * two versions.
 */
import assert from "node:assert/strict";
import { openS3Object } from "../src/aws/s3.ts";
import { CollectorError } from "../src/errors.ts";
import { createTestLake } from "./helpers/lake.ts";
import { startMoto } from "./helpers/moto.ts";

/** `n` bytes, each `fill`, with the offset written at every 4 KiB so ranges differ. */
function content(n: number, fill: number): Uint8Array {
  const b = new Uint8Array(n).fill(fill);
  const v = new DataView(b.buffer);
  for (let at = 0; at + 4 <= n; at += 4096) v.setUint32(at, at);
  return b;
}

Deno.test("ranged reads: the version HeadObject saw, or S3_OBJECT_CHANGED once it is replaced", async () => {
  await using moto = await startMoto();
  const lake = await createTestLake(moto.endpoint);
  try {
    const key = "ext/custom/1.0/big.parquet";
    const first = content(5 * 1024 * 1024, 1); // over the 4 MiB read whole: ranged reads
    const etag = await lake.put(key, first);
    const object = await openS3Object(lake.s3, lake.bucket, key, { sizeHint: first.length });
    assert.equal(object.etag, etag);
    assert.equal(object.size, first.length);
    const range = async () => new Uint8Array(await object.buffer.slice(4096, 3 * 4096));
    assert.deepEqual(await range(), first.subarray(4096, 3 * 4096));

    // Replaced (same size, other bytes) while it is being read.
    await lake.put(key, content(first.length, 2));
    const e = await range().then(() => undefined, (e: unknown) => e);
    assert.ok(e instanceof CollectorError, `expected a CollectorError, got ${e}`);
    assert.equal(e.code, "S3_OBJECT_CHANGED");
    assert.equal(e.id, 408);
    assert.equal(e.retryable, false);
    assert.match(e.message, /GetObject failed: PreconditionFailed \(HTTP 412\)/);

    // Opened again, the new version reads.
    const again = await openS3Object(lake.s3, lake.bucket, key, { sizeHint: first.length });
    assert.notEqual(again.etag, etag);
    const bytes = new Uint8Array(await again.buffer.slice(0, 8));
    assert.equal(bytes[7], 2);
  } finally {
    lake.destroy();
  }
});
