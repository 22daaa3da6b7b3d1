/**
 * What one object may cost: its size against `max_object_bytes`, and
 * the bytes of events it may make, in proportion to its size (a few repeated bytes in a crafted
 * object must not become gigabytes of lines).
 * @module
 */
import { CollectorError } from "../errors.ts";
import { outputBudget } from "../parquet/decode.ts";

/** The bytes of events an object may make: in proportion to its size (`outputBudget`). */
export class OutputBudget {
  readonly #name: string;
  readonly #size: number;
  readonly #budget: number;
  #output = 0;

  constructor(name: string, size: number) {
    this.#name = name;
    this.#size = size;
    this.#budget = outputBudget(size);
  }

  /** Counts `bytes` more; refuses them (`OUTPUT_LIMIT`) past the budget, `sent` events in. */
  spend(bytes: number, sent: number): void {
    this.#output += bytes;
    if (this.#output <= this.#budget) return;
    const name = this.#name;
    throw new CollectorError(
      "OUTPUT_LIMIT",
      `Object ${name} of ${this.#size} bytes makes more than ${this.#budget} bytes of events (after ${sent} events)`,
      {
        context: {
          object: name,
          object_bytes: this.#size,
          output_budget: this.#budget,
          events_sent: sent,
        },
      },
    );
  }
}

/** Refuses an object larger than `max` (`DataError 603`). */
export function checkSize(size: number, max: number, name: string): void {
  if (size > max) {
    throw new CollectorError(
      "OBJECT_TOO_LARGE",
      `Object ${name} of ${size} bytes is larger than max_object_bytes (${max} bytes)`,
      { context: { object: name, object_bytes: size, max_object_bytes: max } },
    );
  }
}
