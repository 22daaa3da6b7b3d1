/**
 * Logging for the whole collector, through `@logtape/logtape`: text lines in the Devo collector
 * style or one JSON object per line, always on standard error (standard output belongs to the
 * console output). Modules take a logger from {@link logger}; only the CLI calls
 * {@link setupLogging}.
 * @module
 */
import { configure, getLogger, reset } from "@logtape/logtape";
import type { Logger, LogRecord } from "@logtape/logtape";

/** Levels accepted in configuration. */
export type LogLevel = "debug" | "info" | "warning" | "error";

/** Options for {@link setupLogging}. */
export interface LoggingOptions {
  /** Lowest level written. Default info. */
  level?: LogLevel;
  /** text (default) or json. */
  format?: "text" | "json";
  /** Where lines go; defaults to standard error. */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

function render(record: LogRecord): string {
  let s = "";
  for (const part of record.message) s += typeof part === "string" ? part : String(part);
  return s;
}

// C0 and C1 control characters, DEL, and the Unicode line and paragraph separators.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * `text` with every control character written as an escape (`\n`, `\r`, `\t`, `\u001b`...),
 * so that one record is always one line of the text format: values
 * that come from outside (an SQS body, an object key, a Parquet column name) cannot start a line
 * of their own or pass for a line of the collector's.
 */
export function escapeControls(text: string): string {
  return text.replace(
    CONTROL,
    (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Configures logging once for the process; safe to call again (replaces the setup). */
export async function setupLogging(options: LoggingOptions = {}): Promise<void> {
  const { level = "info", format = "text" } = options;
  const write = options.write ?? ((line: string) => Deno.stderr.writeSync(encoder.encode(line)));
  const sink = (record: LogRecord) => {
    const time = new Date(record.timestamp).toISOString();
    const message = render(record);
    if (format === "json") {
      write(
        JSON.stringify({
          time,
          level: record.level,
          logger: record.category.join("."),
          message,
          ...record.properties,
        }) + "\n",
      );
      return;
    }
    const template = typeof record.rawMessage === "string" ? record.rawMessage : "";
    const props = Object.entries(record.properties)
      .filter(([k]) => !template.includes(`{${k}}`))
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    write(
      `${time} ${record.level.toUpperCase().padEnd(7)} [${
        record.category.slice(1).join(".") || "main"
      }] ${escapeControls(message)}${props ? " " + escapeControls(props) : ""}\n`,
    );
  };
  await reset();
  await configure({
    reset: true,
    sinks: { main: sink },
    loggers: [
      { category: ["seclake"], lowestLevel: level, sinks: ["main"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["main"] },
    ],
  });
}

/** The logger for a part of the collector, e.g. `logger("output")`. */
export function logger(...category: string[]): Logger {
  return getLogger(["seclake", ...category]);
}
