/**
 * The named internal events of the collector: every log line about the work and every metric
 * come from here, so a log line and its metric can never disagree. `docs/telemetry.md` is
 * generated from {@link EVENTS} (the table in `event_table.ts`) and {@link METRICS}.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { families } from "./metric_families.ts";
import type { Metrics } from "./metric_families.ts";

export { METRICS } from "./metric_families.ts";
export type { Metrics } from "./metric_families.ts";
import { logger } from "./log.ts";
import { EVENTS } from "./event_table.ts";
import type { EventName, EventSpec, Fields } from "./event_table.ts";

export { EVENTS } from "./event_table.ts";
export type { EventName, Fields } from "./event_table.ts";

/** Options for {@link Telemetry}. */
export interface TelemetryOptions {
  /** Identical error lines are logged at most once per this many ms. Default 60,000. */
  errorRepeatMs?: number;
  /** Clock. */
  now?: () => number;
}

/** The collector's telemetry: emits named events to the log and the metrics together. */
export class Telemetry {
  /** The metric families. */
  readonly metrics: Metrics = families();
  #log: Logger = logger("pipeline");
  #errorRepeatMs: number;
  #now: () => number;
  #lastError = new Map<string, { at: number; suppressed: number }>();

  /** Creates an empty telemetry. */
  constructor(options: TelemetryOptions = {}) {
    this.#errorRepeatMs = options.errorRepeatMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Records event `name`: its metrics, then its log line (errors rate-limited). */
  emit(name: EventName, fields: Fields = {}): void {
    const spec: EventSpec = EVENTS[name];
    spec.count(this.metrics, fields);
    if (spec.level === "none") return;
    if (spec.level === "error") {
      // The same error about another message or object is news: it is logged too.
      const k = `${fields.error_id ?? ""}|${fields.error ?? ""}|${fields.reason ?? ""}|` +
        `${fields.message_id ?? ""}|${fields.key ?? ""}`;
      const last = this.#lastError.get(k);
      const now = this.#now();
      if (last && now - last.at < this.#errorRepeatMs) {
        last.suppressed++;
        return;
      }
      if (last?.suppressed) fields = { ...fields, repeated: last.suppressed };
      this.#lastError.set(k, { at: now, suppressed: 0 });
      if (this.#lastError.size > 10_000) this.#lastError.clear();
    }
    writeEvent(spec, fields, spec.category ? logger(spec.category) : this.#log);
  }

  /** Logs state files found corrupt (each was set aside, and the work goes on without it). */
  corruptState(errors: readonly { readonly message: string; readonly id: number }[]): void {
    for (const e of errors) this.emit("state_file_corrupt", { error: e.message, error_id: e.id });
  }

  /** The Prometheus text of every metric. */
  render(): string {
    return this.metrics.registry.render();
  }
}

/** Writes the log line of an event of `spec` to `log`. */
/** A count placeholder followed by the plural noun it counts, e.g. `{count} messages`. */
const COUNTED =
  /\{(\w+)\} (messages|objects|events|fields|seconds|days|threads|bytes|rows|files|workers|checks)\b/g;

/** `message` with each noun counted by a field worth 1 in the singular ("1 message"). */
export function singular(message: string, fields: Fields): string {
  return message.replace(COUNTED, (all, name: string, noun: string) => {
    const v = fields[name];
    return v === 1 || v === "1" ? `{${name}} ${noun.slice(0, -1)}` : all;
  });
}

function writeEvent(spec: EventSpec, fields: Fields, log: Logger): void {
  const message = singular(spec.message, fields);
  switch (spec.level) {
    case "debug":
      return log.debug(message, fields);
    case "info":
      return log.info(message, fields);
    case "warning":
      return log.warn(message, fields);
    case "error":
      return log.error(message, fields);
  }
}

/**
 * Logs event `name` where no {@link Telemetry} is at hand (adapters, outputs): only events that
 * change no metric are logged this way.
 */
export function logEvent(name: EventName, fields: Fields = {}): void {
  const spec: EventSpec = EVENTS[name];
  writeEvent(spec, fields, logger(spec.category ?? "pipeline"));
}
