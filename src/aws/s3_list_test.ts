/** The S3 listing adapter: throttling retried on the same page, errors mapped to the catalogue. */
import assert from "node:assert/strict";
import { S3Lister } from "../aws/s3_list.ts";
import type { ListClient, ListedObject } from "../aws/s3_list.ts";
import { CollectorError } from "../errors.ts";

// ---- the listing adapter ------------------------------------------------------------------------

function sdkError(name: string, status: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}

Deno.test("S3 listing: throttling is retried on the same page; errors map to the catalogue", async () => {
  const inputs: Record<string, unknown>[] = [];
  let n = 0;
  const client: ListClient = {
    send(command) {
      inputs.push({ ...command.input });
      n++;
      if (n === 2 || n === 3) return Promise.reject(sdkError("SlowDown", 503));
      if (n === 1) {
        return Promise.resolve({
          $metadata: {},
          Contents: [{ Key: "p/1.parquet", Size: 5, ETag: '"x1"' }],
          IsTruncated: true,
          NextContinuationToken: "T1",
        });
      }
      return Promise.resolve({ $metadata: {}, Contents: [{ Key: "p/2.parquet", Size: 6 }] });
    },
  };
  const retries: number[] = [];
  const lister = new S3Lister(client, "b", { retryBaseMs: 1, onRetry: (e) => retries.push(e.id) });
  const got: ListedObject[] = [];
  for await (const o of lister.objects("p/", { startAfter: "p/0" })) got.push(o);
  assert.deepEqual(got, [{ key: "p/1.parquet", size: 5, etag: "x1" }, {
    key: "p/2.parquet",
    size: 6,
  }]);
  assert.deepEqual(retries, [422, 422]);
  assert.equal(lister.requests, 4);
  assert.equal(inputs[0]!.StartAfter, "p/0");
  assert.equal(inputs[3]!.ContinuationToken, "T1");
  assert.equal(inputs[3]!.StartAfter, undefined);

  const failing = (e: Error): ListClient => ({ send: () => Promise.reject(e) });
  const first = async (c: ListClient) => {
    try {
      for await (
        const _ of new S3Lister(c, "b", { retryBaseMs: 1, attempts: 3 }).prefixes("aws/")
      ) {
        // nothing
      }
    } catch (e) {
      return e as CollectorError;
    }
    throw new Error("no error");
  };
  const throttled = await first(failing(sdkError("SlowDown", 503)));
  assert.equal(throttled.id, 422);
  assert.equal(throttled.retryable, true);
  assert.match(
    throttled.message,
    /ApiError 422: S3 ListObjectsV2 of s3:\/\/b\/aws\/ was throttled/,
  );
  const missing = await first(failing(sdkError("NoSuchBucket", 404)));
  assert.equal(missing.id, 420);
  assert.equal(missing.retryable, false);
  const denied = await first(failing(sdkError("AccessDenied", 403)));
  assert.equal(denied.id, 421);
  const server = await first(failing(sdkError("InternalError", 500)));
  assert.equal(server.id, 401);
});
