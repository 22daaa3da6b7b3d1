/**
 * Writes OCSF Parquet fixtures from the command line; the generators are the tests' library
 * (`tests/lib/ocsf_fixtures.ts`), which documents the options.
 * @module
 */
import { main } from "../tests/lib/ocsf_fixtures.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
