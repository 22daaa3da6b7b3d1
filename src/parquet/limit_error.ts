/**
 * The error every Parquet limit and check throws: a catalogue error naming the object.
 * @module
 */
import { CollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";

/** Throws `code` for object `name`: `Cannot decode Parquet NAME: WHAT`. */
export function fail(code: ErrorCode, name: string, what: string, context: object = {}): never {
  throw new CollectorError(code, `Cannot decode Parquet ${name}: ${what}`, {
    context: { object: name, ...context },
  });
}
