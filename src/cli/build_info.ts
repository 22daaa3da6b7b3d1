/**
 * Facts stamped into a build. `scripts/compile.ts` and `scripts/bundle.ts` write their own copy
 * of this file into the staging tree they build from; this checked-in copy is what `deno run`
 * from a source checkout sees.
 * @module
 */

/** How this program was built and from which commit. */
export interface BuildInfo {
  /** Git commit the build was made from (`-dirty` when the tree had changes); empty if unknown. */
  readonly commit: string;
  /** `compile` (a `deno compile` binary), `bundle` (`dist/seclake.js`) or `source`. */
  readonly kind: "compile" | "bundle" | "source";
}

/** The facts of this build. */
export const BUILD_INFO: BuildInfo = { commit: "", kind: "source" };
