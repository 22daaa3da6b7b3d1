/**
 * `processObject` over an object held in memory: the tests' and the benchmark's way to run the
 * object pipeline on bytes they made, without S3.
 * @module
 */
import { bufferFromBytes } from "../../src/parquet/reader.ts";
import { processObject } from "../../src/pipeline/object_processor.ts";
import type { ProcessObjectOptions } from "../../src/pipeline/object_processor.ts";
import type { OpenedObject } from "../../src/pipeline/ports.ts";
import { LineFormatter } from "../../src/transform/line.ts";

/**
 * Processes `bytes` as object `b/k.parquet`, opened without a request, with `options` (by
 * default a formatter of host `h` and tag `a.b.c`).
 */
export function processBytes(
  bytes: Uint8Array,
  options: Omit<ProcessObjectOptions, "reader" | "formatter"> & { formatter?: LineFormatter },
): ReturnType<typeof processObject> {
  const open = () =>
    Promise.resolve(
      { size: bytes.length, etag: "e", buffer: bufferFromBytes(bytes) } as OpenedObject,
    );
  return processObject({ bucket: "b", key: "k.parquet", size: bytes.length }, {
    reader: { requests: 0, open },
    formatter: new LineFormatter({ hostname: "h", tag: "a.b.c", pullingId: "1" }),
    ...options,
  });
}
