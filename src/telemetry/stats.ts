/**
 * The statistics lines Devo operators know from Devo's own collectors: one line per pull cycle
 * with its `@devo_pulling_id`, the sender statistics of each output, and the memory report.
 * @module
 */

/** Counts of one pull cycle: one receive and the work on the messages it returned. */
export class PullStats {
  requests = 0;
  messages = 0;
  objects = 0;
  /** Objects named but not read: filtered out, side files, not Parquet, archived. */
  objectsSkipped = 0;
  eventsReceived = 0;
  duplicatesFiltered = 0;
  /** Events not sent because a `drop_events` condition matched them. */
  eventsFiltered = 0;
  eventsSent = 0;
  /** Messages of the cycle that failed (left on the queue or quarantined), or its receive failed. */
  failed = 0;
  /** Creates the stats of the pull that started at `startMs` (its `@devo_pulling_id`). */
  constructor(readonly startMs: number) {}

  /** `@devo_pulling_id` of this pull. */
  get pullingId(): string {
    return String(this.startMs);
  }

  /**
   * The statistics line, in the wording of Devo's collector SDK plus messages and objects. It ends
   * "Data collection completed" only when every message of the cycle succeeded, else "Data
   * collection failed for N messages".
   */
  line(endMs: number): string {
    const elapsed = Math.max(0.001, (endMs - this.startMs) / 1000);
    return `Statistics for this pull cycle (@devo_pulling_id=${this.pullingId}):` +
      `Number of requests made: ${this.requests}; ` +
      `Number of messages received: ${this.messages}; ` +
      `Number of objects read: ${this.objects}; ` +
      `Number of objects skipped: ${this.objectsSkipped}; ` +
      `Number of events received: ${this.eventsReceived}; ` +
      `Number of duplicated events filtered out: ${this.duplicatesFiltered}; ` +
      `Number of events filtered out: ${this.eventsFiltered}; ` +
      `Number of events generated and sent: ${this.eventsSent}; ` +
      `Average of events per second: ${(this.eventsSent / elapsed).toFixed(3)}. ` +
      (this.failed === 0
        ? "Data collection completed"
        : `Data collection failed for ${this.failed} message${this.failed === 1 ? "" : "s"}`) +
      `. Elapsed time: ${elapsed.toFixed(3)} seconds`;
  }
}

/** What one output reports for the sender statistics. */
export interface SenderSnapshot {
  readonly name: string;
  readonly eventsSent: number;
  readonly bytesSent: number;
  readonly senders: number;
  readonly queueSize: number;
}

/** Produces the periodic sender statistics lines of each output. */
export class SenderStats {
  #last = new Map<string, { at: number; events: number; bytes: number }>();
  #now: () => number;
  #start: number;
  /** Starts counting from now: the first lines count since then. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#start = now();
  }

  /** The lines for `outputs` since the previous call. */
  lines(outputs: readonly SenderSnapshot[]): string[] {
    const now = this.#now();
    const out: string[] = [];
    for (const o of outputs) {
      const last = this.#last.get(o.name) ?? { at: this.#start, events: 0, bytes: 0 };
      const elapsed = (now - last.at) / 1000;
      out.push(
        `Output ${o.name}: Number of available senders: ${o.senders}, sender manager internal queue size: ${o.queueSize}`,
      );
      out.push(
        `Standard - Total number of messages sent: ${o.eventsSent}, messages sent since "${
          new Date(last.at).toISOString()
        }": ${o.eventsSent - last.events} (elapsed ${elapsed.toFixed(3)} seconds), bytes sent: ${
          o.bytesSent - last.bytes
        }`,
      );
      this.#last.set(o.name, { at: now, events: o.eventsSent, bytes: o.bytesSent });
    }
    return out;
  }
}

/** Sizes as Devo's collectors print them: `123.45MiB`. */
export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(2)}${units[i]}`;
}

/** One reading of the memory figures. */
export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  systemPercent?: number;
}

function sample(): MemorySample {
  const m = Deno.memoryUsage();
  let systemPercent: number | undefined;
  try {
    const s = Deno.systemMemoryInfo();
    systemPercent = s.total > 0 ? 100 * (s.total - s.available) / s.total : undefined;
  } catch {
    // no sys permission for systemMemoryInfo
  }
  return { ...m, systemPercent };
}

/**
 * The memory report: the process's resident set, V8's heap used of its total, V8's external memory
 * (buffers), and the share of the machine's memory in use (when the `sys` permission allows it).
 */
export function memoryReport(m: MemorySample = sample()): string {
  const machine = m.systemPercent === undefined ? "?" : m.systemPercent.toFixed(1);
  return `Memory: process RSS ${humanBytes(m.rss)}, heap used ${humanBytes(m.heapUsed)} of ` +
    `${humanBytes(m.heapTotal)}, external ${humanBytes(m.external)}; machine ${machine}% used`;
}
