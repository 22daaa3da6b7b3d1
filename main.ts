/**
 * seclake: Amazon Security Lake collector for Devo. Entry point; all work starts in
 * `src/cli/main.ts` and only when run as the main module.
 * @module
 */
import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
