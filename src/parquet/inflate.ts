/**
 * Bounded inflation of Parquet pages: every codec's output stops at the size the page declares
 * (`node:zlib` with `maxOutputLength`, so a compression bomb stops at once), and pages inflated
 * while checking are kept until hyparquet asks for them, so nothing is inflated twice.
 * @module
 */
import { brotliDecompressSync, gunzipSync, zstdDecompressSync } from "node:zlib";
import type { Compressors } from "hyparquet";
import { compressors as jsCompressors } from "hyparquet-compressors";
import { CollectorError } from "../errors.ts";
import { fail } from "./limit_error.ts";

/** The decompressors of one object (see the module). */
export class BoundedInflation {
  /** Pages inflated by hyparquet's request without a check first. */
  unchecked = 0;
  readonly #inflated = new Map<string, { input: Uint8Array; output: Uint8Array }[]>();
  readonly #compressors: Compressors;
  readonly #maxPageBytes: number;
  readonly #name: string;

  constructor(maxPageBytes: number, name: string) {
    this.#maxPageBytes = maxPageBytes;
    this.#name = name;
    this.#compressors = this.#makeCompressors();
  }

  /** Decompressors that stop at the declared size and reuse pages inflated by the checks. */
  get compressors(): Compressors {
    return this.#compressors;
  }

  /** Buffers freed at the next {@link release} (see {@link freeing}). */
  readonly #owned: ArrayBuffer[] = [];
  /** Whether the pages inflated (and buffers {@link adopt}ed) from now on are freed. */
  freeing = false;

  /** Drops inflated pages nobody asked for (call after each read), and frees the owned ones. */
  release(): void {
    this.#inflated.clear();
    for (const b of this.#owned) if (!b.detached) b.transfer(0);
    this.#owned.length = 0;
  }

  /**
   * While {@link freeing}: `bytes` are freed (detached) at the next {@link release}, when they
   * are a whole buffer of their own and large enough to matter (a small one may share node's
   * pool).
   */
  adopt(bytes: Uint8Array): void {
    const b = bytes.buffer;
    if (
      this.freeing && b instanceof ArrayBuffer && bytes.byteOffset === 0 &&
      bytes.byteLength === b.byteLength && b.byteLength >= 64 * 1024
    ) this.#owned.push(b);
  }

  #makeCompressors(): Compressors {
    const out: Compressors = {};
    for (const codec of ["SNAPPY", "GZIP", "BROTLI", "ZSTD", "LZ4", "LZ4_RAW"] as const) {
      out[codec] = (input: Uint8Array, outputLength: number): Uint8Array => {
        const kept = this.#take(input, outputLength);
        if (kept) return kept;
        this.unchecked++;
        return this.inflate(codec, input, outputLength);
      };
    }
    return out;
  }

  /** Inflates one page of `codec` to exactly `outputLength` bytes, never more. */
  inflate(codec: string, input: Uint8Array, outputLength: number): Uint8Array {
    if (!(outputLength >= 0 && outputLength <= this.#maxPageBytes)) {
      fail(
        "PARQUET_LIMIT",
        this.#name,
        `a page declares ${outputLength} uncompressed bytes (at most ${this.#maxPageBytes} accepted)`,
      );
    }
    // A page of no bytes (Polars writes empty dictionaries as one LZ4 token, which
    // hyparquet-compressors refuses): nothing to inflate.
    if (outputLength === 0) return new Uint8Array(0);
    // One output chunk of the declared size (up to 8 MiB, so that a page lying about its size
    // costs no more up front): node:zlib otherwise inflates in 16 KiB chunks and joins them.
    // GZIP pages decode ~5% faster.
    const opts = {
      maxOutputLength: Math.max(1, outputLength),
      chunkSize: Math.min(Math.max(64, outputLength), 8 * 1024 * 1024),
    };
    let out: Uint8Array;
    try {
      switch (codec) {
        case "GZIP":
          out = gunzipSync(input, opts);
          break;
        case "ZSTD":
          out = zstdDecompressSync(input, opts);
          break;
        case "BROTLI":
          out = brotliDecompressSync(input, opts);
          break;
        default: {
          const f = jsCompressors[codec as keyof Compressors];
          if (!f) {
            fail("PARQUET_UNSUPPORTED", this.#name, `compression codec ${codec} not supported`);
          }
          out = f(input, outputLength);
        }
      }
    } catch (e) {
      if (e instanceof CollectorError) throw e;
      const tooLarge = (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
      throw new CollectorError(
        tooLarge ? "PARQUET_LIMIT" : "PARQUET_INVALID",
        `Cannot decode Parquet ${this.#name}: ${codec} page ${
          tooLarge
            ? `inflates to more than its declared ${outputLength} bytes`
            : `cannot be decompressed (${e instanceof Error ? e.message : String(e)})`
        }`,
        { cause: e, context: { object: this.#name } },
      );
    }
    if (out.length !== outputLength) {
      fail(
        "PARQUET_INVALID",
        this.#name,
        `${codec} page inflates to ${out.length} bytes, not the ${outputLength} its header declares`,
      );
    }
    this.adopt(out);
    return out;
  }

  #key(input: Uint8Array, outputLength: number): string {
    const n = input.length;
    return `${outputLength}:${n}:${n ? input[0]! | input[n >> 1]! << 8 | input[n - 1]! << 16 : 0}`;
  }

  /** Keeps a page inflated by a check until hyparquet asks for it. */
  keep(input: Uint8Array, output: Uint8Array): void {
    const key = this.#key(input, output.length);
    const list = this.#inflated.get(key);
    if (list) list.push({ input, output });
    else this.#inflated.set(key, [{ input, output }]);
  }

  /** The page {@link keep} kept as `output` for `input` is to be taken as `instead`. */
  swap(input: Uint8Array, output: Uint8Array, instead: Uint8Array): void {
    if (instead === output) return;
    const list = this.#inflated.get(this.#key(input, output.length));
    const kept = list?.find((k) => k.output === output);
    if (kept) kept.output = instead;
  }

  #take(input: Uint8Array, outputLength: number): Uint8Array | undefined {
    const key = this.#key(input, outputLength);
    const list = this.#inflated.get(key);
    if (!list) return undefined;
    for (let i = 0; i < list.length; i++) {
      if (sameBytes(list[i]!.input, input)) {
        const { output } = list[i]!;
        list.splice(i, 1);
        if (list.length === 0) this.#inflated.delete(key);
        return output;
      }
    }
    return undefined;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // The same bytes of the same buffer, as when the check and the read see one chunk's bytes.
  if (a.buffer === b.buffer && a.byteOffset === b.byteOffset) return true;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
