/**
 * The `directory` input: a local folder of Parquet files standing in for the lake (demo, tests,
 * air-gapped trials). Each file becomes one synthetic EventBridge notification on an in-memory
 * queue, so the same pipeline, filters and acknowledgements run as for SQS.
 * @module
 */
import { join, relative, sep } from "node:path";
import { CollectorError, errorMessage } from "../errors.ts";
import type { QueueMessage, ReceiveOptions } from "../aws/sqs.ts";
import { bufferFromFile } from "../parquet/reader.ts";
import type { ObjectRef } from "./notification.ts";

/** The bucket name local objects carry. */
export const LOCAL_BUCKET = "local";

/** An in-memory queue holding one notification per file under a folder. */
export class DirectoryQueue {
  #dir: string;
  #pending?: QueueMessage[];
  /** Messages not yet deleted, by id. */
  readonly outstanding = new Set<string>();
  requests = 0;

  /** Lists `dir` on first receive. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Returns up to `max` not yet delivered files as notifications. */
  async receive(options: ReceiveOptions): Promise<QueueMessage[]> {
    this.requests++;
    if (!this.#pending) {
      const keys = (await listFiles(this.#dir)).map((p) =>
        relative(this.#dir, p).split(sep).join("/")
      );
      this.#pending = keys.sort().map((key, i) => ({
        id: `local-${i}`,
        receiptHandle: `local-${i}`,
        receiveCount: 1,
        body: JSON.stringify({
          source: "aws.s3",
          "detail-type": "Object Created",
          detail: { bucket: { name: LOCAL_BUCKET }, object: { key } },
        }),
      }));
    }
    const out = this.#pending.splice(0, options.max);
    for (const m of out) this.outstanding.add(m.id);
    return out;
  }

  /** Marks the file done. */
  delete(message: QueueMessage): Promise<void> {
    this.requests++;
    this.outstanding.delete(message.id);
    return Promise.resolve();
  }

  /** Nothing to extend locally. */
  changeVisibility(_message: QueueMessage, _seconds: number): Promise<void> {
    return Promise.resolve();
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await listFiles(p));
    else if (e.isFile) out.push(p);
  }
  return out;
}

/** Opens local files named by {@link DirectoryQueue} notifications. */
export class LocalObjectReader {
  #dir: string;
  requests = 0;

  /** Reads files under `dir`. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Opens the file for `ref.key`. */
  async open(
    ref: ObjectRef,
  ): Promise<{ buffer: Awaited<ReturnType<typeof bufferFromFile>>; size: number; close(): void }> {
    this.requests++;
    const path = join(this.#dir, ...ref.key.split("/"));
    let buffer;
    try {
      buffer = await bufferFromFile(path);
    } catch (e) {
      throw new CollectorError(
        "S3_NOT_FOUND",
        `Local object ${path} cannot be opened: ${errorMessage(e)}`,
        {
          cause: e,
          context: { path },
        },
      );
    }
    return { buffer, size: buffer.byteLength, close: () => buffer.close() };
  }
}
