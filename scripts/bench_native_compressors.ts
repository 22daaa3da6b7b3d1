/**
 * hyparquet-compressors with Deno's native `node:zlib` codecs for GZIP and ZSTD, for the
 * benchmark's `--native-codecs` mode: `scripts/bench.ts` runs the measured processes with a copy
 * of `deno.json` whose `hyparquet-compressors` import points here, so the collector's own code
 * (which imports `compressors` from that package) decompresses natively without any change.
 * The other codecs stay hyparquet-compressors' own.
 * @module
 */
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import type { Compressors } from "npm:hyparquet@1.33.0";
import { compressors as jsCompressors } from "npm:hyparquet-compressors@1.1.2";

/** hyparquet's compressors, GZIP and ZSTD native. */
export const compressors: Compressors = {
  ...jsCompressors,
  GZIP: (input: Uint8Array) => new Uint8Array(gunzipSync(input)),
  ZSTD: (input: Uint8Array) => new Uint8Array(zstdDecompressSync(input)),
};
