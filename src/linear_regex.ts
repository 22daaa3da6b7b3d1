/**
 * Regular expressions that run in linear time on any input. User patterns (`string_patterns`)
 * run on untrusted strings; a backtracking engine can take quadratic or exponential time on a
 * crafted value and hold a decode worker for minutes. They are compiled with V8's
 * non-backtracking engine instead (the `l` flag, enabled by the V8 flag
 * `--enable-experimental-regexp-engine`, which every launcher of the collector passes: the
 * compiled binary, the bundle's command line, `deno task run` and the tests' helpers; see
 * `scripts/compile.ts` `V8_FLAGS`).
 *
 * That engine does not run everything: backreferences (`\1`, `\k<name>`), lookahead and
 * lookbehind (`(?=`, `(?!`, `(?<=`, `(?<!`), and counted repetitions above
 * {@link MAX_LINEAR_COUNT} (`{17}`, `{1,100}`) are refused, and so is every pattern when the
 * process was started without the V8 flag. Nothing falls back to the backtracking engine.
 * @module
 */

/** The V8 flag that enables the linear-time engine (the `l` flag of regular expressions). */
export const LINEAR_REGEX_V8_FLAG = "--enable-experimental-regexp-engine";

/** The largest count of a `{n}` or `{n,m}` repetition the linear-time engine accepts. */
export const MAX_LINEAR_COUNT = 16;

/** Why a pattern cannot be compiled for linear time. */
export class LinearRegexError extends Error {
  /** `engine`: this process lacks the engine; `pattern`: the pattern needs backtracking. */
  readonly reason: "engine" | "pattern";

  /** `message` says why, in words for an operator. */
  constructor(reason: "engine" | "pattern", message: string) {
    super(message);
    this.name = "LinearRegexError";
    this.reason = reason;
  }
}

let available: boolean | undefined;

/** Whether this process runs V8's linear-time engine (was started with the V8 flag). */
export function linearEngineAvailable(): boolean {
  if (available === undefined) {
    try {
      // deno-lint-ignore no-invalid-regexp
      new RegExp("", "l");
      available = true;
    } catch {
      available = false;
    }
  }
  return available;
}

/**
 * `source` compiled for the linear-time engine with `flags` (the `l` flag is added); throws a
 * {@link LinearRegexError} saying why when it cannot be, and a `SyntaxError` when `source` is
 * not a regular expression at all.
 */
export function linearRegExp(source: string, flags = ""): RegExp {
  // Syntax first, with the ordinary engine: a typo gets its usual message.
  new RegExp(source, flags);
  if (!linearEngineAvailable()) {
    throw new LinearRegexError(
      "engine",
      `this process was started without V8's linear-time regular expression engine: start seclake with --v8-flags=${LINEAR_REGEX_V8_FLAG} (the seclake binary, the container and deno task run do)`,
    );
  }
  try {
    return new RegExp(source, flags + "l");
  } catch {
    throw new LinearRegexError(
      "pattern",
      `${whyNotLinear(source)}, which cannot run in linear time`,
    );
  }
}

/** What in `source` the linear-time engine refuses, in words. */
function whyNotLinear(source: string): string {
  const found: string[] = [];
  if (/\\[1-9]|\\k</.test(source)) found.push("a backreference (\\1, \\k<name>)");
  if (/\(\?<?[=!]/.test(source)) found.push("a lookahead or lookbehind ((?=, (?!, (?<=, (?<!)");
  const counts = [...source.matchAll(/\{(\d+)(?:,(\d*))?\}/g)];
  if (counts.some((m) => Number(m[1]) > MAX_LINEAR_COUNT || Number(m[2] || 0) > MAX_LINEAR_COUNT)) {
    found.push(
      `a counted repetition above ${MAX_LINEAR_COUNT} (write [0-9a-f]{32} as [0-9a-f]{16}[0-9a-f]{16}, or use +)`,
    );
  }
  return found.length > 0
    ? `it uses ${found.join(" and ")}`
    : "it uses a construct that needs backtracking";
}
