/**
 * The collector's single error type and its catalogue of stable, numbered errors.
 *
 * Every failure an operator can see carries a catalogue id, a family and a message that says
 * what failed and the value involved. `docs/errors.md` is generated from {@link CATALOGUE}.
 * @module
 */
import { FAMILIES } from "./errors/entry.ts";
import type { CatalogueEntry, ErrorFamily } from "./errors/entry.ts";
import { RUNTIME_ERRORS } from "./errors/runtime_errors.ts";
import { SETUP_ERRORS } from "./errors/setup_errors.ts";

export { FAMILIES };
export type { CatalogueEntry, ErrorFamily };

/**
 * The error catalogue: one row per failure an operator can meet, keyed by a symbolic code (the
 * rows are in `errors/setup_errors.ts` and `errors/runtime_errors.ts`). Ids are stable; a retired
 * id is never reused.
 */
export const CATALOGUE = { ...SETUP_ERRORS, ...RUNTIME_ERRORS } as const;

/** Symbolic code of a catalogue entry, such as `CONFIG_RANGE`. */
export type ErrorCode = keyof typeof CATALOGUE;

/** Options for {@link CollectorError}. */
export interface CollectorErrorOptions {
  /** Structured values for logs (bucket, key, path...). Never secrets. */
  context?: Record<string, unknown>;
  /** The foreign error this one wraps. */
  cause?: unknown;
  /** Overrides the catalogue's retryable flag for this occurrence. */
  retryable?: boolean;
  /** Further errors found in the same pass (configuration validation reports every mistake). */
  related?: readonly CollectorError[];
}

/**
 * The only error class the collector throws across module boundaries. Its message starts with
 * family and id, e.g. `SetupError 11: ... must be between 1 and 10: got 25 (line 18)`.
 */
export class CollectorError extends Error {
  /** Stable catalogue id. */
  readonly id: number;
  /** Catalogue family. */
  readonly family: ErrorFamily;
  /** Symbolic catalogue code. */
  readonly code: ErrorCode;
  /** Whether retrying the same operation can succeed. */
  readonly retryable: boolean;
  /** Structured context for logs. */
  readonly context: Record<string, unknown>;
  /** The message without the family/id prefix. */
  readonly detail: string;
  /** Further errors found in the same pass, in file order; empty for most errors. */
  readonly related: readonly CollectorError[];

  /** Creates the error for catalogue entry `code` with a message saying what failed. */
  constructor(code: ErrorCode, detail: string, options: CollectorErrorOptions = {}) {
    const e = CATALOGUE[code];
    super(`${e.family} ${e.id}: ${detail}`, { cause: options.cause });
    this.name = e.family;
    this.id = e.id;
    this.family = e.family;
    this.code = code;
    this.detail = detail;
    this.retryable = options.retryable ?? e.retryable;
    this.context = options.context ?? {};
    this.related = options.related ?? [];
  }
}

/** True when `e` is a {@link CollectorError}, optionally with the given code. */
export function isCollectorError(e: unknown, code?: ErrorCode): e is CollectorError {
  return e instanceof CollectorError && (code === undefined || e.code === code);
}

/** The catalogue entries in id order, each with its symbolic code. */
export function catalogueEntries(): (CatalogueEntry & { readonly code: ErrorCode })[] {
  return (Object.entries(CATALOGUE) as [ErrorCode, CatalogueEntry][])
    .map(([code, e]) => ({ ...e, code }))
    .sort((a, b) => a.id - b.id);
}

/** A short message for any thrown value, for logs. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
