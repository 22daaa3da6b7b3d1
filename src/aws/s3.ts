/**
 * S3 object access for the Parquet reader: a hyparquet `AsyncBuffer` backed by ranged
 * `GetObject` calls. Small objects are fetched whole in one request.
 *
 * Nothing a notification says about an object's size is trusted: it only chooses the first
 * request (one ranged read of at most `wholeObjectBytes`, or a HeadObject). The size that counts
 * is S3's own (Content-Range, Content-Length or HeadObject's), checked against `maxBytes` before
 * the body is read; no response body is read past the bytes it was asked for, and never past
 * `maxBytes`. The ETag of the first response pins every later range (If-Match), so an object
 * replaced while it is read fails instead of mixing two versions.
 * @module
 */
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import type { AsyncBuffer } from "hyparquet";
import { CollectorError } from "../errors.ts";
import { wrapAwsError } from "./errors.ts";

/** Options for {@link openS3Object}. */
export interface OpenS3Options {
  /** Objects up to this size are read in one request. Default 4 MiB. */
  wholeObjectBytes?: number;
  /**
   * Largest object accepted (`max_object_bytes`): a larger one fails with `DataError 603`
   * before its body is read. Default: no limit.
   */
  maxBytes?: number;
  /**
   * Size the notification announced: a hint only, which chooses the first request (a ranged
   * read when it is small, HeadObject otherwise). The real size always comes from S3.
   */
  sizeHint?: number;
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

/** A GetObject body: the SDK's stream, read only as far as allowed. */
interface Body {
  transformToWebStream(): ReadableStream<Uint8Array>;
}

/** What a GetObject response says about the object, before its body is read. */
interface Got {
  /** Bytes this response carries (Content-Length). */
  readonly length: number;
  /** The whole object's size (Content-Range's total, or Content-Length without a range). */
  readonly total: number;
  readonly etag?: string;
  readonly body?: Body;
}

const unquote = (etag: string | undefined) => etag?.replace(/"/g, "");

/** The total of a `Content-Range: bytes a-b/total` header, if it has one. */
function rangeTotal(contentRange: string | undefined): number | undefined {
  const m = /\/(\d+)\s*$/.exec(contentRange ?? "");
  return m ? Number(m[1]) : undefined;
}

/** Stops a body that will not be read (its connection is not kept waiting). */
async function discard(body: Body | undefined): Promise<void> {
  try {
    await body?.transformToWebStream().cancel();
  } catch {
    // already closed
  }
}

/**
 * Reads exactly `expected` bytes of `body` into one buffer; a body that runs longer is cut
 * off at once (nothing past `expected` is kept) and fails, as does a short one.
 */
async function readExactly(
  body: Body | undefined,
  expected: number,
  what: string,
  ctx: Record<string, unknown>,
): Promise<Uint8Array> {
  const out = new Uint8Array(expected);
  if (!body) return out;
  const reader = body.transformToWebStream().getReader();
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (n + value.length > expected) {
        throw new CollectorError(
          "S3_CALL",
          `S3 GetObject returned more than the ${expected} bytes asked for (${what})`,
          { retryable: false, context: { ...ctx, expected_bytes: expected } },
        );
      }
      out.set(value, n);
      n += value.length;
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    throw e;
  } finally {
    reader.releaseLock();
  }
  if (n !== expected) {
    throw new CollectorError(
      "S3_CALL",
      `S3 GetObject ended after ${n} of ${expected} bytes (${what})`,
      { context: { ...ctx, expected_bytes: expected, received_bytes: n } },
    );
  }
  return out;
}

/** Opens `bucket/key` for reading. */
export async function openS3Object(
  client: S3Client,
  bucket: string,
  key: string,
  options: OpenS3Options = {},
): Promise<S3Object> {
  const { wholeObjectBytes = 4 * 1024 * 1024, maxBytes = Infinity } = options;
  const access = new ObjectAccess(client, bucket, key, options);
  let found: S3Object | Found | undefined;
  const first = Math.min(wholeObjectBytes, maxBytes);
  if (options.sizeHint !== undefined && options.sizeHint <= wholeObjectBytes && first > 0) {
    found = await access.readAnnounced(first);
  }
  found ??= await access.head(wholeObjectBytes);
  return "buffer" in found ? found : access.ranged(found.size, found.etag);
}

/** What S3 said of an object to be read in ranges: its size and the version to pin. */
interface Found {
  readonly size: number;
  readonly etag?: string;
}

/** The requests for one object, counted, with its limit and the errors they make. */
class ObjectAccess {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #key: string;
  readonly #signal?: AbortSignal;
  readonly #maxBytes: number;
  readonly #ctx: { bucket: string; key: string };
  readonly #name: string;
  readonly #shared: { requests: number };
  #requests = 0;

  constructor(client: S3Client, bucket: string, key: string, options: OpenS3Options) {
    this.#client = client;
    this.#bucket = bucket;
    this.#key = key;
    this.#signal = options.signal;
    this.#maxBytes = options.maxBytes ?? Infinity;
    this.#shared = options.counter ?? { requests: 0 };
    this.#ctx = { bucket, key };
    this.#name = `s3://${bucket}/${key}`;
  }

  /** Requests made for this object. */
  get requests(): number {
    return this.#requests;
  }

  #count(): void {
    this.#requests++;
    this.#shared.requests++;
  }

  #tooLarge(size: number): CollectorError {
    const name = this.#name;
    const maxBytes = this.#maxBytes;
    return new CollectorError(
      "OBJECT_TOO_LARGE",
      `Object ${name} of ${size} bytes is larger than max_object_bytes (${maxBytes} bytes)`,
      { context: { object: name, object_bytes: size, max_object_bytes: maxBytes } },
    );
  }

  /**
   * Announced small: one ranged read of at most `first` bytes, whatever the object's real size.
   * The object read whole; or, when it is larger than that, what to read it in ranges by;
   * undefined when it is empty (HeadObject then says what it is).
   */
  async readAnnounced(first: number): Promise<S3Object | Found | undefined> {
    let got: Got | undefined;
    try {
      got = await this.#get(0, first - 1);
    } catch (e) {
      // An empty object has no byte 0 (416): HeadObject says what it is.
      if ((e as CollectorError).context?.status !== 416) throw e;
    }
    if (!got) return undefined;
    if (got.total > this.#maxBytes) {
      await discard(got.body);
      throw this.#tooLarge(got.total);
    }
    if (got.total <= first && got.length === got.total) {
      const ctx = this.#ctx;
      const bytes = await readExactly(got.body, got.length, "the whole object", ctx)
        .catch((e) => {
          throw wrapAwsError(e, "S3", "GetObject", ctx);
        });
      return this.#inMemory(bytes, got.etag);
    }
    // Larger than announced, but allowed: read in ranges, pinned to this version.
    await discard(got.body);
    return { size: got.total, etag: got.etag };
  }

  /**
   * HeadObject: the object read whole when it is at most `wholeObjectBytes`, or what to read it
   * in ranges by.
   */
  async head(wholeObjectBytes: number): Promise<S3Object | Found> {
    let size: number;
    let etag: string | undefined;
    this.#count();
    try {
      const head = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key }),
        { abortSignal: this.#signal },
      );
      size = Number(head.ContentLength ?? 0);
      etag = unquote(head.ETag);
    } catch (e) {
      throw wrapAwsError(e, "S3", "HeadObject", this.#ctx);
    }
    if (size > this.#maxBytes) throw this.#tooLarge(size);
    if (size === 0) return this.#inMemory(new Uint8Array(0), etag);
    if (size <= wholeObjectBytes) return this.#inMemory(await this.#range(0, size, etag), etag);
    return { size, etag };
  }

  /** The object of `size` bytes, read in ranges of the version `etag` as they are asked for. */
  ranged(size: number, etag: string | undefined): S3Object {
    const byteLength = size;
    const pinned = etag;
    const requests = () => this.#requests;
    const range = (start: number, end: number) => this.#range(start, end, pinned);
    return {
      etag,
      size,
      get requests() {
        return requests();
      },
      buffer: {
        byteLength,
        async slice(start: number, end = byteLength): Promise<ArrayBuffer> {
          end = Math.min(end, byteLength);
          if (end <= start) return new ArrayBuffer(0);
          // Every range of the version first seen: a replaced object fails (S3_OBJECT_CHANGED)
          // instead of mixing two versions' bytes.
          return (await range(start, end)).buffer as ArrayBuffer;
        },
      },
    };
  }

  #inMemory(bytes: Uint8Array, etag: string | undefined): S3Object {
    const ab = bytes.buffer as ArrayBuffer;
    const requests = () => this.#requests;
    return {
      buffer: { byteLength: ab.byteLength, slice: (s, e) => ab.slice(s, e) },
      etag,
      size: ab.byteLength,
      get requests() {
        return requests();
      },
    };
  }

  /** GetObject of bytes `first..last` (inclusive); the body is left unread. */
  async #get(first: number, last: number, ifMatch?: string): Promise<Got> {
    const ctx = this.#ctx;
    this.#count();
    try {
      const out = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: this.#key,
          Range: `bytes=${first}-${last}`,
          ...(ifMatch ? { IfMatch: `"${ifMatch}"` } : {}),
        }),
        { abortSignal: this.#signal },
      );
      const length = Number(out.ContentLength ?? NaN);
      const total = rangeTotal(out.ContentRange) ??
        (out.ContentRange === undefined ? length : NaN);
      if (!Number.isSafeInteger(length) || !Number.isSafeInteger(total)) {
        await discard(out.Body as Body | undefined);
        throw new CollectorError(
          "S3_CALL",
          `S3 GetObject of ${this.#name} answered without a usable Content-Length or Content-Range`,
          { retryable: false, context: { ...ctx, content_range: out.ContentRange } },
        );
      }
      return { length, total, etag: unquote(out.ETag), body: out.Body as Body | undefined };
    } catch (e) {
      throw wrapAwsError(e, "S3", "GetObject", ctx);
    }
  }

  /** Reads `[start, end)` of the pinned version: exactly those bytes or a failure. */
  async #range(start: number, end: number, etag?: string): Promise<Uint8Array> {
    const ctx = this.#ctx;
    const got = await this.#get(start, end - 1, etag);
    if (got.length !== end - start) {
      await discard(got.body);
      throw new CollectorError(
        "S3_CALL",
        `S3 GetObject of ${this.#name} answered ${got.length} bytes for the ${
          end - start
        } of bytes=${start}-${end - 1}`,
        { retryable: false, context: { ...ctx, content_length: got.length } },
      );
    }
    try {
      return await readExactly(got.body, end - start, `bytes=${start}-${end - 1}`, ctx);
    } catch (e) {
      throw wrapAwsError(e, "S3", "GetObject", ctx);
    }
  }
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

  /**
   * Opens `ref` (a whole-object read when small, ranged reads otherwise); an object larger than
   * `options.maxBytes` fails with `DataError 603` before its body is read.
   */
  open(
    ref: { bucket: string; key: string; size?: number },
    signal?: AbortSignal,
    options: { maxBytes?: number } = {},
  ): Promise<S3Object> {
    return openS3Object(this.#client, ref.bucket, ref.key, {
      sizeHint: ref.size,
      maxBytes: options.maxBytes,
      signal,
      counter: this.#counter,
    });
  }
}
