/**
 * S3 object access for the Parquet reader: a hyparquet `AsyncBuffer` backed by ranged
 * `GetObject` calls. Small objects are fetched whole in one request.
 * @module
 */
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import type { AsyncBuffer } from "hyparquet";
import { wrapAwsError } from "./errors.ts";

/** Options for {@link openS3Object}. */
export interface OpenS3Options {
  /** Objects up to this size are read in one request. Default 4 MiB. */
  wholeObjectBytes?: number;
  /** Size from the notification, which saves a HeadObject call when given. */
  size?: number;
  signal?: AbortSignal;
  /** Incremented for each request performed. */
  counter?: { requests: number };
}

/** An opened object: its buffer and its ETag. */
export interface S3Object {
  readonly buffer: AsyncBuffer;
  readonly etag?: string;
  readonly size: number;
  /** S3 requests made for this object so far. */
  readonly requests: number;
}

/** Opens `bucket/key` for reading. */
export async function openS3Object(
  client: S3Client,
  bucket: string,
  key: string,
  options: OpenS3Options = {},
): Promise<S3Object> {
  const { wholeObjectBytes = 4 * 1024 * 1024, signal } = options;
  const shared = options.counter ?? { requests: 0 };
  const own = { requests: 0 };
  const counter = {
    get requests() {
      return own.requests;
    },
    set requests(v: number) {
      shared.requests += v - own.requests;
      own.requests = v;
    },
  };
  const ctx = { bucket, key };
  const get = async (
    range?: string,
    ifMatch?: string,
  ): Promise<{ bytes: Uint8Array; etag?: string }> => {
    counter.requests++;
    try {
      const out = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ...(range ? { Range: range } : {}),
          ...(ifMatch ? { IfMatch: `"${ifMatch}"` } : {}),
        }),
        { abortSignal: signal },
      );
      const bytes = await out.Body!.transformToByteArray();
      return { bytes, etag: out.ETag?.replace(/"/g, "") };
    } catch (e) {
      throw wrapAwsError(e, "S3", "GetObject", ctx);
    }
  };

  // The notification's size is trusted only to choose a single whole-object read; ranged
  // reads need the real size, from HeadObject.
  let size = options.size !== undefined && options.size <= wholeObjectBytes
    ? options.size
    : undefined;
  let etag: string | undefined;
  if (size === undefined) {
    counter.requests++;
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), {
        abortSignal: signal,
      });
      size = Number(head.ContentLength ?? 0);
      etag = head.ETag?.replace(/"/g, "");
    } catch (e) {
      throw wrapAwsError(e, "S3", "HeadObject", ctx);
    }
  }
  if (size <= wholeObjectBytes) {
    const whole = await get();
    const ab = whole.bytes.slice().buffer as ArrayBuffer;
    return {
      buffer: { byteLength: ab.byteLength, slice: (s, e) => ab.slice(s, e) },
      etag: whole.etag ?? etag,
      size: ab.byteLength,
      get requests() {
        return own.requests;
      },
    };
  }
  const byteLength = size;
  return {
    etag,
    size,
    get requests() {
      return own.requests;
    },
    buffer: {
      byteLength,
      async slice(start: number, end = byteLength): Promise<ArrayBuffer> {
        if (end <= start) return new ArrayBuffer(0);
        // Every range of the version HeadObject saw: a replaced object fails (S3_OBJECT_CHANGED)
        // instead of mixing two versions' bytes.
        const { bytes } = await get(`bytes=${start}-${end - 1}`, etag);
        return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
          ? bytes.buffer as ArrayBuffer
          : bytes.slice().buffer as ArrayBuffer;
      },
    },
  };
}

/** Opens announced objects from S3 and counts the requests made. */
export class S3ObjectReader {
  #client: S3Client;
  #counter = { requests: 0 };

  /** Reads through `client`. */
  constructor(client: S3Client) {
    this.#client = client;
  }

  /** S3 requests performed. */
  get requests(): number {
    return this.#counter.requests;
  }

  /** Opens `ref` (a whole-object read when small, ranged reads otherwise). */
  open(
    ref: { bucket: string; key: string; size?: number },
    signal?: AbortSignal,
  ): Promise<S3Object> {
    return openS3Object(this.#client, ref.bucket, ref.key, {
      size: ref.size,
      signal,
      counter: this.#counter,
    });
  }
}
