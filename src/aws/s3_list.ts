/**
 * A thin adapter over S3 `ListObjectsV2` for backfill: the common prefixes under a prefix (one
 * `Delimiter` listing), and the objects under a prefix, both paginated. Transient failures
 * (throttling, server errors) are retried per page, so a long listing never restarts from its
 * first page; every SDK error is wrapped here into a catalogue error (`ApiError 420` bucket
 * missing, `421` listing refused, `422` throttled past the retries).
 * @module
 */
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { ListObjectsV2CommandOutput } from "@aws-sdk/client-s3";
import { CollectorError } from "../errors.ts";
import { wrapAwsError } from "./errors.ts";

/** One object of a listing. */
export interface ListedObject {
  readonly key: string;
  /** Size in bytes. */
  readonly size: number;
  /** ETag without quotes. */
  readonly etag?: string;
}

/** The part of `S3Client` a lister needs (an `S3Client` is one). */
export interface ListClient {
  send(
    command: ListObjectsV2Command,
    options?: { abortSignal?: AbortSignal },
  ): Promise<ListObjectsV2CommandOutput>;
}

/** Options for {@link S3Lister}. */
export interface S3ListerOptions {
  /** Attempts per page for transient failures (after the SDK's own retries). Default 6. */
  attempts?: number;
  /** First delay between attempts, doubled each time. Default 500 ms. */
  retryBaseMs?: number;
  /** Longest delay between attempts. Default 20,000 ms. */
  retryMaxMs?: number;
  /** Keys per page (1–1000). Default 1000. */
  pageSize?: number;
  /** Called before each retry with the error that caused it. */
  onRetry?: (error: CollectorError) => void;
}

/** Options of one listing. */
export interface ListOptions {
  /** List only keys after this one (exclusive). */
  startAfter?: string;
  /** Stops the listing between and during requests. */
  signal?: AbortSignal;
}

const THROTTLED =
  /^(SlowDown|Throttl\w*|RequestLimitExceeded|TooManyRequests\w*|RequestThrottled\w*)$/;

/**
 * Wraps an error of `ListObjectsV2` on `bucket`: a missing bucket (`NoSuchBucket`) is
 * `ApiError 420`, a refusal (403) `ApiError 421`, throttling (`SlowDown`, HTTP 503 or 429)
 * the retryable `ApiError 422`; anything else as {@link wrapAwsError} says.
 */
export function wrapListError(
  e: unknown,
  bucket: string,
  prefix: string,
): CollectorError {
  if (e instanceof CollectorError) return e;
  const err = (e ?? {}) as { name?: string; $metadata?: { httpStatusCode?: number } };
  const name = err.name ?? "Error";
  const status = err.$metadata?.httpStatusCode;
  const context = { bucket, prefix, status };
  if (name === "NoSuchBucket") {
    return new CollectorError(
      "LAKE_BUCKET_MISSING",
      `Bucket ${bucket} does not exist (S3 ListObjectsV2: NoSuchBucket)`,
      { cause: e, context },
    );
  }
  if (THROTTLED.test(name) || status === 503 || status === 429) {
    return new CollectorError(
      "LAKE_LIST_THROTTLED",
      `S3 ListObjectsV2 of s3://${bucket}/${prefix} was throttled: ${name}${
        status ? ` (HTTP ${status})` : ""
      }`,
      { cause: e, context },
    );
  }
  const wrapped = wrapAwsError(e, "S3", "ListObjectsV2", { bucket, prefix });
  if (wrapped.code === "S3_FORBIDDEN") {
    return new CollectorError(
      "LAKE_LIST_FORBIDDEN",
      `Cannot list s3://${bucket}/${prefix}: ${name}${status ? ` (HTTP ${status})` : ""}`,
      { cause: e, context },
    );
  }
  return wrapped;
}

/** Lists one bucket; counts the requests it makes. */
export class S3Lister {
  /** The bucket listed. */
  readonly bucket: string;
  /** `ListObjectsV2` requests made. */
  requests = 0;
  #client: ListClient;
  #o: Required<Omit<S3ListerOptions, "onRetry">> & Pick<S3ListerOptions, "onRetry">;

  /** Lists `bucket` through `client`. */
  constructor(client: ListClient, bucket: string, options: S3ListerOptions = {}) {
    const pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      throw new RangeError(`Option pageSize must be an integer from 1 to 1000: got ${pageSize}`);
    }
    const attempts = options.attempts ?? 6;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new RangeError(`Option attempts must be a positive integer: got ${attempts}`);
    }
    this.#client = client;
    this.bucket = bucket;
    this.#o = {
      attempts,
      retryBaseMs: options.retryBaseMs ?? 500,
      retryMaxMs: options.retryMaxMs ?? 20_000,
      pageSize,
      onRetry: options.onRetry,
    };
  }

  /** The common prefixes directly under `prefix` (which ends with `/`), in key order. */
  async *prefixes(prefix: string, options: ListOptions = {}): AsyncGenerator<string> {
    for await (const page of this.#pages(prefix, "/", options)) {
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix) yield p.Prefix;
    }
  }

  /** Every object under `prefix` (at any depth), in key order. */
  async *objects(prefix: string, options: ListOptions = {}): AsyncGenerator<ListedObject> {
    for await (const page of this.#pages(prefix, undefined, options)) {
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        const etag = o.ETag?.replace(/"/g, "");
        yield { key: o.Key, size: Number(o.Size ?? 0), ...(etag ? { etag } : {}) };
      }
    }
  }

  async *#pages(
    prefix: string,
    delimiter: string | undefined,
    options: ListOptions,
  ): AsyncGenerator<ListObjectsV2CommandOutput> {
    const { signal, startAfter } = options;
    let token: string | undefined;
    do {
      const page = await this.#page(
        {
          Bucket: this.bucket,
          Prefix: prefix,
          MaxKeys: this.#o.pageSize,
          ...(delimiter ? { Delimiter: delimiter } : {}),
          ...(token ? { ContinuationToken: token } : startAfter ? { StartAfter: startAfter } : {}),
        },
        prefix,
        signal,
      );
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async #page(
    input: ConstructorParameters<typeof ListObjectsV2Command>[0],
    prefix: string,
    signal?: AbortSignal,
  ): Promise<ListObjectsV2CommandOutput> {
    for (let attempt = 1;; attempt++) {
      signal?.throwIfAborted();
      this.requests++;
      try {
        return await this.#client.send(new ListObjectsV2Command(input), { abortSignal: signal });
      } catch (e) {
        if (signal?.aborted) throw signal.reason ?? e;
        const error = wrapListError(e, this.bucket, prefix);
        if (!error.retryable || attempt >= this.#o.attempts) throw error;
        this.#o.onRetry?.(error);
        const ms = Math.min(this.#o.retryMaxMs, this.#o.retryBaseMs * 2 ** (attempt - 1));
        await sleep(ms, signal);
      }
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", stop);
    };
    const t = setTimeout(() => {
      done();
      resolve();
    }, ms);
    const stop = () => {
      done();
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", stop, { once: true });
  });
}
