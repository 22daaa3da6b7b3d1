/**
 * The console output: the same Devo lines on standard output. A write is confirmed once
 * standard output took it.
 * @module
 */
import { emptyOutputStats } from "./output_stats.ts";
import type { OutputStats, Receipt } from "./output_stats.ts";

/** Writes lines to standard output (or another writer, in tests). */
export class ConsoleOutput {
  readonly name: string;
  readonly stats: OutputStats = emptyOutputStats();
  #out: { write(p: Uint8Array): Promise<number> };
  #queue: Promise<unknown> = Promise.resolve();

  /** Creates the output writing to `out` (default standard output). */
  constructor(name: string, out: { write(p: Uint8Array): Promise<number> } = Deno.stdout) {
    this.name = name;
    this.#out = out;
  }

  /** Writes `chunk`; confirmed once written. */
  write(chunk: Uint8Array, events: number): Promise<Receipt> {
    const p = this.#queue.then(async () => {
      let off = 0;
      while (off < chunk.length) off += await this.#out.write(chunk.subarray(off));
      this.stats.eventsSent += events;
      this.stats.bytesSent += chunk.length;
      this.stats.batchesConfirmed++;
      return { confirmed: Promise.resolve() };
    });
    this.#queue = p.catch(() => {});
    return p;
  }

  /** Nothing is buffered. */
  flush(): Promise<void> {
    return this.#queue.then(() => {});
  }

  /** Waits for pending writes. */
  close(): Promise<void> {
    return this.flush();
  }

  /** Nothing to stop. */
  abort(): void {}
}
