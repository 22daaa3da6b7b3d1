/**
 * The process environment as the collector reads it: one lookup type, and one safe reader.
 * @module
 */

/** Reads one environment variable (undefined when unset). */
export type EnvLookup = (name: string) => string | undefined;

/** An environment variable of this process; undefined when unset or not readable. */
export const env: EnvLookup = (name) => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
};
