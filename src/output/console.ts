/**
 * The console output: the same Devo lines on standard output. A write is confirmed once
 * standard output took it. When the reader of standard output goes away (a broken pipe), every
 * write from then on fails with `DeliveryError 506` and `onClosed` is called once, so that the
 * run stops instead of failing each object.
 * @module
 */
import { CollectorError } from "../errors.ts";
import { emptyOutputStats } from "./output_stats.ts";
import type { OutputStats, Receipt } from "./output_stats.ts";

/** Writes lines to standard output (or another writer, in tests). */
export class ConsoleOutput {
  readonly name: string;
  readonly stats: OutputStats = emptyOutputStats();
  #out: { write(p: Uint8Array): Promise<number> };
  #queue: Promise<unknown> = Promise.resolve();
  #onClosed: (() => void) | undefined;
  #closed = false;

  /**
   * Creates the output writing to `out` (default standard output); `onClosed` is called once
   * when its reader went away.
   */
  constructor(
    name: string,
    out: { write(p: Uint8Array): Promise<number> } = Deno.stdout,
    onClosed?: () => void,
  ) {
    this.name = name;
    this.#out = out;
    this.#onClosed = onClosed;
  }

  /** Whether the reader of the output went away. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Writes `chunk`; confirmed once written. */
  write(chunk: Uint8Array, events: number): Promise<Receipt> {
    const p = this.#queue.then(async () => {
      if (this.#closed) throw this.#closedError();
      let off = 0;
      try {
        while (off < chunk.length) off += await this.#out.write(chunk.subarray(off));
      } catch (e) {
        if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
        this.#closed = true;
        this.#onClosed?.();
        throw this.#closedError(e);
      }
      this.stats.eventsSent += events;
      this.stats.bytesSent += chunk.length;
      this.stats.batchesConfirmed++;
      return { confirmed: Promise.resolve() };
    });
    this.#queue = p.catch(() => {});
    return p;
  }

  #closedError(cause?: unknown): CollectorError {
    return new CollectorError(
      "OUTPUT_CLOSED",
      `Output ${this.name}: standard output was closed by its reader`,
      { cause, context: { output: this.name } },
    );
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
