/**
 * The messages between the decode pool's threads and its workers (`lines_worker.ts`), and how an
 * error crosses between them. Imported by both sides; it loads neither the pool nor the logger.
 * @module
 */

import { CollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import type { ObfuscationRule } from "../config/types.ts";
import type { Oversized, ReadEventLinesOptions } from "./json_reader.ts";

/**
 * Main → worker: decode row groups of an object of `byteLength` bytes. A row group is read in
 * `parts[i]` parts (1 unless it is large: see `partRows` in `json_reader.ts`); the parts of all
 * row groups, in order, are the units of work. The workers of an object share `claims`: slot
 * `u` holds `lane + 1` of the worker that took unit `u` (0: nobody yet); the slot after the
 * units' for `lane` is set to ask worker `lane` to take no more.
 */
export interface StartMessage {
  readonly type: "start";
  readonly session: number;
  readonly lane: number;
  readonly byteLength: number;
  /** The row groups to read, in order (indices in the footer). */
  readonly rowGroups: readonly number[];
  /** Parts of each of `rowGroups`. */
  readonly parts: readonly number[];
  readonly claims: SharedArrayBuffer;
  /** Where the workers share the inflated pages of row groups read in parts (`shared_pages.ts`). */
  readonly pages: readonly SharedArrayBuffer[];
  /** Length of the header placeholder written before each line. */
  readonly headerBytes: number;
  /** With tag routes: the placeholder's length for the lines of each route. */
  readonly routeHeaderBytes?: readonly number[];
  /** Bytes of slices sent and not yet credited at which the worker waits. */
  readonly aheadBytes: number;
  readonly options: Omit<ReadEventLinesOptions, "signal" | "header" | "rowGroups" | "takePart">;
  /**
   * Obfuscate every event with these rules, then add `members` (`obfuscated_lines.ts`); the
   * options' `append` is then absent, so that no rule sees those members.
   */
  readonly obfuscation?: { readonly rules: readonly ObfuscationRule[]; readonly members: string };
}

/** Main → worker messages. */
export type ToWorker =
  | StartMessage
  | { readonly type: "data"; readonly session: number; readonly id: number; buffer: ArrayBuffer }
  | { readonly type: "fail"; readonly session: number; readonly id: number; error: WireError }
  | { readonly type: "credit"; readonly session: number; readonly n: number };

/** Worker → main messages. */
export type FromWorker =
  | { readonly type: "ready" }
  | {
    readonly type: "read";
    readonly session: number;
    readonly id: number;
    readonly start: number;
    readonly end: number;
  }
  | {
    readonly type: "slice";
    readonly session: number;
    readonly rowStart: number;
    readonly rows: number;
    /**
     * With rules: the lines, the row of each (Uint32, from `rowStart`), the route of each
     * (Int32) and the length of each one's header placeholder (Uint32).
     */
    readonly lines?: number;
    readonly lineRows?: ArrayBuffer;
    readonly lineRoutes?: ArrayBuffer;
    readonly lineHeadBytes?: ArrayBuffer;
    /** The slice's bytes (transferred), a header placeholder before each line. */
    readonly bytes: ArrayBuffer;
    /** Uint32 offsets of the lines (transferred). */
    readonly starts: ArrayBuffer;
    /**
     * With obfuscation: Uint32 counts of the values the rules changed in each line (transferred),
     * added to the consumer's counts as the lines are handed out.
     */
    readonly fields?: ArrayBuffer;
    /** Events cut off while built (see `LineSlice.oversized`). */
    readonly oversized?: readonly Oversized[];
  }
  | { readonly type: "error"; readonly session: number; readonly error: WireError }
  | { readonly type: "done"; readonly session: number };

/** An error as it crosses between threads: `CollectorError` fields, name, message, cause. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly collector?: {
    readonly code: ErrorCode;
    readonly detail: string;
    readonly retryable: boolean;
    readonly context: Record<string, unknown>;
    readonly related: readonly WireError[];
  };
  readonly cause?: WireError;
  /** The error was a failed read served by the main thread: the id of that read. */
  readonly read?: number;
}

/** Marks an error thrown by a worker's read with the id of the failed request. */
export const READ_ID: unique symbol = Symbol("seclake.readId");

/** The structured-clone-safe form of any thrown value (a cause chain at most 8 deep). */
export function encodeError(e: unknown, depth = 0): WireError {
  const read = typeof e === "object" && e !== null
    ? (e as { [READ_ID]?: number })[READ_ID]
    : undefined;
  const cause = depth < 8 && e instanceof Error && e.cause !== undefined
    ? encodeError(e.cause, depth + 1)
    : undefined;
  if (e instanceof CollectorError) {
    return {
      name: e.name,
      message: e.message,
      stack: e.stack,
      collector: {
        code: e.code,
        detail: e.detail,
        retryable: e.retryable,
        context: cloneable(e.context),
        related: e.related.map((r) => encodeError(r, depth + 1)),
      },
      cause,
      read,
    };
  }
  if (e instanceof Error || e instanceof DOMException) {
    return { name: e.name, message: e.message, stack: e.stack, cause, read };
  }
  return { name: "Error", message: String(e), read };
}

/**
 * Rebuilds an error from {@link encodeError}: a `CollectorError` with the same code, message,
 * retryable flag and context; a `DOMException` keeps its name. A node that stands for a failed
 * read found in `reads` becomes that original error object.
 */
export function decodeError(w: WireError, reads?: ReadonlyMap<number, unknown>): unknown {
  if (w.read !== undefined && reads?.has(w.read)) return reads.get(w.read);
  const cause = w.cause === undefined ? undefined : decodeError(w.cause, reads);
  let e: Error;
  if (w.collector) {
    const c = w.collector;
    e = new CollectorError(c.code, c.detail, {
      retryable: c.retryable,
      context: c.context,
      related: c.related.map((r) => decodeError(r, reads) as CollectorError),
      cause,
    });
  } else if (w.name === "AbortError" || w.name === "TimeoutError") {
    e = new DOMException(w.message, w.name);
  } else {
    e = new Error(w.message, cause === undefined ? undefined : { cause });
    e.name = w.name;
  }
  if (w.stack !== undefined) {
    try {
      Object.defineProperty(e, "stack", { value: w.stack, configurable: true, writable: true });
    } catch {
      // keep the local stack
    }
  }
  return e;
}

function cloneable(context: Record<string, unknown>): Record<string, unknown> {
  try {
    return structuredClone(context);
  } catch {
    return JSON.parse(
      JSON.stringify(context, (_, v) => typeof v === "bigint" ? v.toString() : v),
    );
  }
}
