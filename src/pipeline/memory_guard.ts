/**
 * Under a memory budget, full garbage collections of the main thread once the process nears the
 * budget. The main thread's dead objects (with the native memory they hold) otherwise wait for
 * V8's next full collection, which a small heap may not reach for tens of seconds, and the
 * memory they held goes back to glibc's heap for the next allocations only once they are
 * collected. Measured on 1,000,000 CloudTrail-like rows under `memory_limit: 256MiB` (collections
 * above 217 MiB, looked at every second): the peak on 131,072-row groups went from 244–264 MiB
 * (six runs) to 229–235 MiB (two runs) at 0.75–0.78 times the rate without a limit
 * (docs/performance.md).
 *
 * V8 keeps its collection function to embedders that ask for it at start-up (`--expose-gc`);
 * {@link fullCollection} asks for it at run time and takes it from a new context, where the flag
 * then holds. Where that is not possible the guard does nothing, and the budget still sizes
 * everything else.
 * @module
 */
import v8 from "node:v8";
import vm from "node:vm";

/** V8's full collection of this isolate, or undefined when the runtime does not give it. */
export function fullCollection(): (() => void) | undefined {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("gc");
    return typeof gc === "function" ? () => void gc() : undefined;
  } catch {
    return undefined;
  }
}

/** Options of {@link guardMemory}. */
export interface MemoryGuardOptions {
  /** How often RSS is looked at, in milliseconds. Default 1,000. */
  everyMs?: number;
  /** The share of the budget above which the main thread's garbage is collected. Default 0.85. */
  share?: number;
  /** The process's resident memory in bytes (tests). Default `Deno.memoryUsage().rss`. */
  rss?: () => number;
  /** The collection (tests). Default {@link fullCollection}. */
  collect?: () => void;
}

/** A running guard. */
export interface MemoryGuard {
  /** The RSS above which the guard collects. */
  readonly aboveBytes: number;
  /** Collections so far. */
  readonly collections: number;
  stop(): void;
}

/**
 * Looks at the process's RSS every `everyMs` and runs a full collection of the main thread while
 * it is above `share` of `limitBytes`; undefined when no collection can be run. The timer never
 * keeps the process alive.
 */
export function guardMemory(
  limitBytes: number,
  options: MemoryGuardOptions = {},
): MemoryGuard | undefined {
  const collect = options.collect ?? fullCollection();
  if (collect === undefined) return undefined;
  const rss = options.rss ?? (() => Deno.memoryUsage().rss);
  const aboveBytes = Math.floor(limitBytes * (options.share ?? 0.85));
  let collections = 0;
  const timer = setInterval(() => {
    try {
      if (rss() < aboveBytes) return;
      collect();
      collections++;
    } catch {
      // Never the run's failure: the budget still sizes everything else.
      clearInterval(timer);
    }
  }, options.everyMs ?? 1000);
  Deno.unrefTimer(timer);
  return {
    aboveBytes,
    get collections() {
      return collections;
    },
    stop: () => clearInterval(timer),
  };
}
