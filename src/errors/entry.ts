/**
 * The shape of the error catalogue: its families with their id ranges, and one entry.
 * @module
 */
/** The error families and the id range each one owns. */
export const FAMILIES = {
  SetupError: [1, 99],
  InitVariablesError: [100, 199],
  ApiError: [400, 499],
  DeliveryError: [500, 599],
  DataError: [600, 699],
  StateError: [700, 799],
} as const;

/** Name of an error family, such as `SetupError`. */
export type ErrorFamily = keyof typeof FAMILIES;

/** One row of the error catalogue: a stable id, whether a retry can help, the cause and the fix. */
export interface CatalogueEntry {
  /** Stable number, inside its family's range. */
  readonly id: number;
  readonly family: ErrorFamily;
  /** What went wrong, in a few words (the heading in `docs/errors.md`). */
  readonly message: string;
  /** Whether retrying the same operation can succeed. */
  readonly retryable: boolean;
  /** Why it happens. */
  readonly cause: string;
  /** What the operator does about it. */
  readonly solution: string;
}

export function entry(
  id: number,
  family: ErrorFamily,
  message: string,
  retryable: boolean,
  cause: string,
  solution: string,
): CatalogueEntry {
  return { id, family, message, retryable, cause, solution };
}

export const setup = (id: number, message: string, cause: string, solution: string) =>
  entry(id, "SetupError", message, false, cause, solution);
