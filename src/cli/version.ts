/**
 * The collector's version, read from `deno.json` at build time.
 * @module
 */
import meta from "../../deno.json" with { type: "json" };

/** The version of this build. */
export const VERSION: string = meta.version;
