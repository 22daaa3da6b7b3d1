/**
 * The command line: `run`, `check`, `backfill`, `decode`, `version`, `help`. Reads each
 * command's arguments with {@link parseCommand} (`--help` and `-h` on every command), maps failures to exit codes (0 ok, 1 runtime failure, 2 usage,
 * 78 configuration error, 69 a dependency unavailable at start-up) and prints errors with their
 * catalogue id.
 * @module
 */
import { loadConfig } from "../config/load.ts";
import { CollectorError, errorMessage } from "../errors.ts";
import { logEvent } from "../telemetry/events.ts";
import { setupLogging } from "../telemetry/log.ts";
import type { LogLevel } from "../telemetry/log.ts";
import { backfillCommand } from "./backfill.ts";
import { prePullStarted } from "../state/backfill_job.ts";
import { checkCommand } from "./check.ts";
import { EXIT } from "./exit_codes.ts";
import { decodeFile } from "./decode.ts";
import { runMain } from "./run.ts";
import { COMMAND_HELP, commandHelp, isCommand, parseCommand, usageError } from "./usage.ts";
import type { CommandName } from "./usage.ts";
import { formatVersion, VERSION, versionInfo } from "./version.ts";

export { EXIT } from "./exit_codes.ts";

const HELP = `seclake ${VERSION}: Amazon Security Lake collector for Devo

Usage:
${Object.values(COMMAND_HELP).map((h) => `  ${h.usage}\n${h.text}`).join("\n")}
`;

function usage(command: CommandName, message: string): never {
  throw usageError(command, message);
}

/** Runs the command line `args`; returns the exit code. */
export async function main(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "run":
        return await runCommand(rest, options.signal);
      case "check":
        return await checkCommand(rest, { signal: options.signal });
      case "backfill":
        return await backfillCommand(rest, { signal: options.signal });
      case "decode":
        return await decodeCommand(rest);
      case "version":
      case "--version":
        if (parseCommand("version", rest, {}) === undefined) return EXIT.ok;
        console.log(formatVersion(await versionInfo()));
        return EXIT.ok;
      case "help":
      case "--help":
      case "-h":
      case undefined:
        return helpCommand(command, rest);
      default:
        throw new CollectorError(
          "USAGE",
          `Unknown command ${JSON.stringify(command)}; run seclake help`,
        );
    }
  } catch (e) {
    console.error(errorMessage(e));
    if (e instanceof CollectorError) {
      for (const other of e.related) console.error(other.message);
      if (e.code === "USAGE") return EXIT.usage;
      if (e.family === "SetupError") return EXIT.config;
      if (e.family === "InitVariablesError" || e.family === "ApiError") return EXIT.unavailable;
    }
    return EXIT.failure;
  }
}

/** `seclake help [COMMAND]`: every command's help, or one command's (exit 2 with no command). */
function helpCommand(command: string | undefined, rest: string[]): number {
  const args = parseCommand("help", rest, {}, true);
  if (args === undefined) return EXIT.ok;
  const [topic, ...more] = args.positionals;
  if (more.length > 0) usage("help", `help takes at most one COMMAND`);
  if (topic === undefined) {
    console.log(HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (!isCommand(topic)) usage("help", `Unknown command ${JSON.stringify(topic)}`);
  console.log(commandHelp(topic));
  return EXIT.ok;
}

async function runCommand(rest: string[], signal?: AbortSignal): Promise<number> {
  const args = parseCommand("run", rest, {
    config: { type: "string", short: "c" },
    once: { type: "boolean", default: false },
    "log-level": { type: "string" },
  });
  if (args === undefined) return EXIT.ok;
  const { values } = args;
  if (typeof values.config !== "string") usage("run", "run needs --config FILE");
  const level = values["log-level"] as string | undefined;
  if (level !== undefined && !["debug", "info", "warning", "error"].includes(level)) {
    usage(
      "run",
      `--log-level must be one of debug, info, warning, error: got ${JSON.stringify(level)}`,
    );
  }
  const config = await loadConfig(values.config, { backfillStarted: prePullStarted });
  await setupLogging({
    level: (level as LogLevel | undefined) ?? config.globals.log_level,
    format: config.globals.log_format,
  });
  const controller = new AbortController();
  const stop = () => controller.abort();
  signal?.addEventListener("abort", stop, { once: true });
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const onSignal = new Map(signals.map((s) => [s, () => {
    if (!controller.signal.aborted) {
      logEvent("stop_signal", {
        signal: s,
        seconds: config.globals.shutdown_timeout_seconds,
      });
    }
    stop();
  }]));
  for (const [s, f] of onSignal) Deno.addSignalListener(s, f);
  try {
    const result = await runMain(config, {
      once: values.once as boolean,
      signal: controller.signal,
    });
    return result.ok ? EXIT.ok : EXIT.failure;
  } finally {
    for (const [s, f] of onSignal) Deno.removeSignalListener(s, f);
  }
}

async function decodeCommand(rest: string[]): Promise<number> {
  const args = parseCommand("decode", rest, {
    format: { type: "string", default: "ocsf" },
    reference: { type: "boolean", default: false },
    config: { type: "string" },
    input: { type: "string" },
  }, true);
  if (args === undefined) return EXIT.ok;
  const { values, positionals } = args;
  if (positionals.length !== 1) usage("decode", "decode needs exactly one FILE.parquet");
  const format = values.format;
  if (format !== "ocsf" && format !== "devo") {
    usage("decode", `--format must be ocsf or devo: got ${JSON.stringify(format)}`);
  }
  if (values.input !== undefined && values.config === undefined) {
    usage("decode", "--input needs --config, the file that defines the input");
  }
  let input;
  if (typeof values.config === "string") {
    const config = await loadConfig(values.config);
    const wanted = values.input;
    const found = wanted === undefined
      ? config.inputs[0]
      : config.inputs.find((i) => i.name === wanted);
    if (!found) {
      usage(
        "decode",
        `--input ${wanted}: no enabled input of that name (inputs: ${
          config.inputs.map((i) => i.name).join(", ")
        })`,
      );
    }
    input = { config, input: found };
  }
  await decodeFile(positionals[0]!, {
    format,
    reference: values.reference === true,
    ...(input ? { input } : {}),
  });
  return EXIT.ok;
}
