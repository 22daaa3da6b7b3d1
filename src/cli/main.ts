/**
 * The command line: `run`, `check`, `backfill`, `decode`, `version`, `help`. Parses arguments
 * with `node:util` `parseArgs`, maps failures to exit codes (0 ok, 1 runtime failure, 2 usage,
 * 78 configuration error, 69 a dependency unavailable at start-up) and prints errors with their
 * catalogue id.
 * @module
 */
import { parseArgs } from "node:util";
import type { ParseArgsOptionsConfig } from "node:util";
import { loadConfig } from "../config/load.ts";
import { CollectorError, errorMessage } from "../errors.ts";
import { setupLogging } from "../telemetry/log.ts";
import type { LogLevel } from "../telemetry/log.ts";
import { backfillCommand } from "./backfill.ts";
import { prePullStarted } from "../state/backfill_job.ts";
import { checkCommand } from "./check.ts";
import { EXIT } from "./exit_codes.ts";
import { decodeFile } from "./decode.ts";
import { runMain } from "./run.ts";
import { formatVersion, VERSION, versionInfo } from "./version.ts";

export { EXIT } from "./exit_codes.ts";

const HELP = `seclake ${VERSION}: Amazon Security Lake collector for Devo

Usage:
  seclake run --config FILE [--once] [--log-level LEVEL]
      Collect events from the configured inputs and deliver them to the outputs.
      --once   stop when a full long poll returns nothing and all work is done;
               exit 0 if every message succeeded, 1 otherwise.
  seclake check --config FILE [--json]
      Validate the configuration, then probe the AWS credentials, the queue, the lake
      bucket (when bucket is set) and each output; one line per check.
      Exit 0 if all pass, 78 for a configuration error, 69 if a dependency failed.
  seclake backfill --config FILE --from DATE [--to DATE] [--sources A,B] [--dry-run]
                   [--shard i/n] [--input NAME] [--log-level LEVEL]
      Read the lake bucket's objects from day --from to --to (default today, UTC; at most
      365 days back), oldest first, deliver them, then exit; a second run goes on where
      the first stopped and sends nothing twice. --dry-run prints the objects and bytes per
      day and source instead; --shard i/n takes one of n parts, for n instances.
      Exit 0 if every object was delivered, 1 otherwise, 69 if the bucket cannot be listed.
  seclake decode FILE.parquet [--format ocsf|devo] [--reference] [--config FILE [--input NAME]]
      Print the events of a local Parquet file, one per line. With --config, the input's
      obfuscation, drop_events, tag_routes, devo_tag_map and source_fields are applied, to
      preview them (the first input, or the one --input names).
  seclake version
      Print the version, the commit it was built from, the Deno version and the target.
  seclake help
`;

function usage(message: string): never {
  throw new CollectorError("USAGE", message);
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
        console.log(formatVersion(await versionInfo()));
        return EXIT.ok;
      case "help":
      case "--help":
      case "-h":
      case undefined:
        console.log(HELP);
        return command === undefined ? EXIT.usage : EXIT.ok;
      default:
        usage(`Unknown command ${JSON.stringify(command)}; run seclake help`);
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

function parse<T extends ParseArgsOptionsConfig>(rest: string[], options: T) {
  try {
    return parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (e) {
    usage(errorMessage(e));
  }
}

async function runCommand(rest: string[], signal?: AbortSignal): Promise<number> {
  const { values } = parse(rest, {
    config: { type: "string", short: "c" },
    once: { type: "boolean", default: false },
    "log-level": { type: "string" },
  });
  if (typeof values.config !== "string") usage("run needs --config FILE");
  const level = values["log-level"] as string | undefined;
  if (level !== undefined && !["debug", "info", "warning", "error"].includes(level)) {
    usage(`--log-level must be one of debug, info, warning, error: got ${JSON.stringify(level)}`);
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
  for (const s of signals) Deno.addSignalListener(s, stop);
  try {
    const result = await runMain(config, {
      once: values.once as boolean,
      signal: controller.signal,
    });
    return result.ok ? EXIT.ok : EXIT.failure;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
  }
}

async function decodeCommand(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, {
    format: { type: "string", default: "ocsf" },
    reference: { type: "boolean", default: false },
    config: { type: "string" },
    input: { type: "string" },
  });
  if (positionals.length !== 1) usage("decode needs exactly one FILE.parquet");
  const format = values.format;
  if (format !== "ocsf" && format !== "devo") {
    usage(`--format must be ocsf or devo: got ${JSON.stringify(format)}`);
  }
  if (values.input !== undefined && values.config === undefined) {
    usage("--input needs --config, the file that defines the input");
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
