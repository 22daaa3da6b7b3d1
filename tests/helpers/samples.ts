/**
 * The public Security Lake samples in `../shared/research/samples/`, when present beside the
 * repository (tests that use them skip what is missing).
 * @module
 */
import { join } from "node:path";

/** Folder of the public Parquet samples. */
export const SAMPLES_PARQUET = new URL("../../../shared/research/samples/parquet/", import.meta.url)
  .pathname;

/** Every `.parquet` file under `dir`, sorted; none when `dir` does not exist. */
export async function listParquet(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) out.push(...await listParquet(p));
      else if (e.name.endsWith(".parquet")) out.push(p);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}
