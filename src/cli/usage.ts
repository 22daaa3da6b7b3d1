/**
 * The usage of each command and the one way every command reads its arguments: `--help` and `-h`
 * print the command's own help on standard output (exit 0), and a mistake (an unknown option, a
 * missing value, a stray argument) is a `SetupError 90` in one style, what was wrong followed by
 * the command's usage line (exit 2), never the argument parser's own wording.
 * @module
 */
import { parseArgs } from "node:util";
import type { ParseArgsOptionsConfig } from "node:util";
import { CollectorError } from "../errors.ts";

/** The commands of `seclake`. */
export type CommandName = "run" | "check" | "backfill" | "decode" | "version" | "help";

/** What `seclake COMMAND --help` prints: the usage line, then what the command does. */
export interface CommandHelp {
  /** One line: the command and its options. */
  readonly usage: string;
  /** The explanation, indented by six spaces, as in `seclake help`. */
  readonly text: string;
}

/** The help of every command, in the order `seclake help` lists them. */
export const COMMAND_HELP: Readonly<Record<CommandName, CommandHelp>> = {
  run: {
    usage: "seclake run --config FILE [--once] [--log-level LEVEL]",
    text: `      Collect events from the configured inputs and deliver them to the outputs.
      --config, -c FILE   the configuration file
      --once              stop when a full long poll returns nothing and all work is done;
                          exit 0 if every message succeeded, 1 otherwise.
      --log-level LEVEL   debug, info, warning or error (overrides globals.log_level)`,
  },
  check: {
    usage: "seclake check --config FILE [--json]",
    text: `      Validate the configuration, then probe the AWS credentials, the queue, the lake
      bucket (when bucket is set) and each output; one line per check.
      --config, -c FILE   the configuration file
      --json              print the checklist as one JSON document
      Exit 0 if all pass, 78 for a configuration error, 69 if a dependency failed.`,
  },
  backfill: {
    usage: "seclake backfill --config FILE --from DATE [--to DATE] [--sources A,B] [--dry-run] " +
      "[--shard i/n] [--input NAME] [--log-level LEVEL]",
    text: `      Read the lake bucket's objects from day --from to --to (default today, UTC; at most
      365 days back), oldest first, deliver them, then exit; a second run goes on where
      the first stopped and sends nothing twice. --dry-run prints the objects and bytes per
      day and source instead; --shard i/n takes one of n parts, for n instances; --input
      names the input when the configuration has several; --sources keeps only the listed
      sources.
      Exit 0 if every object was delivered, 1 otherwise, 69 if the bucket cannot be listed.`,
  },
  decode: {
    usage:
      "seclake decode FILE.parquet [--format ocsf|devo] [--reference] [--config FILE [--input NAME]]",
    text: `      Print the events of a local Parquet file, one per line.
      --format ocsf|devo  the OCSF JSON events (default), or the lines as Devo receives them
      --reference         decode with the reference reader instead of the collector's own
      --config FILE       apply an input's obfuscation, drop_events, tag_routes, devo_tag_map
                          and source_fields, to preview them (the first input, or --input NAME)`,
  },
  version: {
    usage: "seclake version",
    text: `      Print the version, the commit it was built from, the Deno version and the target.`,
  },
  help: {
    usage: "seclake help [COMMAND]",
    text: `      Print the help of every command, or of COMMAND.`,
  },
};

/** The help of `command` as `seclake COMMAND --help` prints it. */
export function commandHelp(command: CommandName): string {
  const help = COMMAND_HELP[command];
  return `Usage: ${help.usage}\n${help.text}`;
}

/** Whether `name` is one of the commands. */
export function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMAND_HELP, name);
}

/** A `SetupError 90` for a mistake on `command`'s line: `what`, then the command's usage. */
export function usageError(command: CommandName, what: string): CollectorError {
  return new CollectorError("USAGE", `${what}; usage: ${COMMAND_HELP[command].usage}`);
}

/**
 * Reads the arguments of `command` with `options`. Returns `undefined` after printing the
 * command's help when `--help` or `-h` comes before any `--`; throws {@link usageError} for an
 * unknown option, an option without its value, a value given to a flag, or a positional argument
 * the command does not take.
 */
export function parseCommand<T extends ParseArgsOptionsConfig>(
  command: CommandName,
  args: string[],
  options: T,
  positionals = false,
) {
  const end = args.indexOf("--");
  const own = end < 0 ? args : args.slice(0, end);
  if (own.includes("--help") || own.includes("-h")) {
    console.log(commandHelp(command));
    return undefined;
  }
  try {
    return parseArgs({ args, options, allowPositionals: positionals, strict: true });
  } catch (e) {
    throw usageError(command, describe(command, args, options, e));
  }
}

/** What was wrong with `args`, in the collector's words rather than the parser's. */
function describe(
  command: CommandName,
  args: readonly string[],
  options: ParseArgsOptionsConfig,
  e: unknown,
): string {
  const code = (e as { code?: string }).code;
  const quoted = /'([^']*)'/.exec(e instanceof Error ? e.message : "")?.[1] ?? "";
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    return `seclake ${command} takes no argument ${JSON.stringify(quoted)}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const long = /--([\w-]+)/.exec(quoted)?.[1] ?? quoted;
    return options[long]?.type === "boolean"
      ? `--${long} takes no value`
      : `--${long} needs a value`;
  }
  const unknown = quoted !== "" ? quoted : args.find((a) => a.startsWith("-")) ?? "";
  return `seclake ${command} has no option ${unknown.split("=")[0]}`;
}
