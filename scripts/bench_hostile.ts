/**
 * Measures what hostile objects cost the collector at full size: each is written to a temporary
 * folder, then read in a fresh process by the object processor (default settings, fast path)
 * into an output that only counts; the peak RSS of that process (VmHWM), the bytes of events it
 * produced and the error it ended in are printed.
 *
 *   deno run -A scripts/bench_hostile.ts
 * @module
 */
import { join } from "node:path";
import { emptyOutputStats } from "../src/output/confirmed_stream.ts";
import { DecodePool } from "../src/parquet/parallel_lines.ts";
import type { Receipt } from "../src/pipeline/ports.ts";
import { footerCopies, hugeValues, sharedDictionaryEntry } from "../tests/helpers/hostile.ts";
import { processBytes } from "../tests/helpers/process_bytes.ts";

const MiB = 1024 * 1024;

/** The objects of the security review, at their full size. */
const OBJECTS: [string, () => Uint8Array][] = [
  ["65,536 rows sharing one 64 KiB dictionary entry", () => sharedDictionaryEntry(65_536, 65_536)],
  ["four columns of one 200 MiB string each (ZSTD)", () => hugeValues(4, 200 * MiB)],
  ["100 MiB of \\x01 in one value", () => hugeValues(1, 100 * MiB, "\x01")],
  ["footer naming one row group 190,000 times", () => footerCopies(190_000)],
];

/**
 * Reads `path` as the collector does (with `threads` decode workers, 0 for none) and prints one
 * JSON line of what it cost.
 */
async function measure(path: string, threads: number): Promise<void> {
  const bytes = await Deno.readFile(path);
  using pool = threads > 0 ? new DecodePool({ threads }) : undefined;
  let output = 0;
  let events = 0;
  const outcome = await processBytes(bytes, {
    outputs: [{
      name: "count",
      stats: emptyOutputStats(),
      write: (chunk: Uint8Array, n: number) => {
        output += chunk.length;
        events += n;
        return Promise.resolve({ confirmed: Promise.resolve() } as Receipt);
      },
      flush: () => Promise.resolve(),
      close: () => Promise.resolve(),
      abort: () => {},
    }],
    maxObjectBytes: 1024 * MiB,
    decodePool: pool,
  });
  const status = await Deno.readTextFile("/proc/self/status");
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  console.log(JSON.stringify({
    objectBytes: bytes.length,
    outputBytes: output,
    events,
    peakRssBytes: hwm,
    error: outcome.ok ? null : outcome.error.message,
  }));
}

if (import.meta.main) {
  if (Deno.args[0] === "--one") {
    await measure(Deno.args[1]!, Number(Deno.args[2] ?? 0));
  } else {
    const dir = await Deno.makeTempDir({ prefix: "seclake-hostile-" });
    try {
      for (const [what, make] of OBJECTS) {
        const path = join(dir, "object.parquet");
        await Deno.writeFile(path, make());
        for (const threads of [0, 2]) {
          const out = await new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", new URL(import.meta.url).pathname, "--one", path, `${threads}`],
            stdout: "piped",
          }).output();
          const r = JSON.parse(new TextDecoder().decode(out.stdout));
          console.log(
            `${what} (${threads} decode workers): ${r.objectBytes} B object, ${r.outputBytes} B of events (${r.events} events), peak RSS ${
              (r.peakRssBytes / MiB).toFixed(0)
            } MiB; ${r.error ?? "no error"}`,
          );
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
}
