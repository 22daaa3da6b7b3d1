/**
 * The checks of one scalar value against its spec in pass 2 of loading a configuration: whole
 * numbers and sizes in range, booleans, choices (with "did you mean"), strings of their pattern,
 * source names, linear-time regular expressions and RFC 3339 date-times.
 * @module
 */
import type { Node as YamlNode } from "yaml";
import { isScalar } from "yaml";
import { LinearRegexError, linearRegExp } from "../linear_regex.ts";
import {
  amount,
  article,
  closest,
  DAY,
  describe,
  iso,
  parseRfc3339,
  parseSize,
  patternHint,
  rangeText,
  typeName,
} from "./_util.ts";
import type { Path } from "./_util.ts";
import type { Report } from "./report.ts";
import { isMasked, NATIVE_SOURCES } from "./schema.ts";
import type { ScalarSpec } from "./schema.ts";

/** A `historical_poll_datetime` older than allowed, and the message it would get. */
export interface TooOld {
  path: Path;
  line: number | undefined;
  what: string;
}

const MASK = '"****"';

/** A value as messages show it: masked for secrets and masked settings. */
function shownAs(spec: ScalarSpec, v: unknown): string {
  return isMasked(spec) ? MASK : describe(v);
}

/** Checks scalar values, reporting each mistake to one report. */
export class ScalarChecks {
  /** `historical_poll_datetime` values older than allowed, decided once the config is built. */
  readonly tooOld: TooOld[] = [];
  readonly #r: Report;
  readonly #now: Date;
  readonly #keepTooOld: boolean;

  constructor(report: Report, options: { now: Date; keepTooOld: boolean }) {
    this.#r = report;
    this.#now = options.now;
    this.#keepTooOld = options.keepTooOld;
  }

  checkSource(value: string, path: Path, line: number | undefined): boolean {
    if ((NATIVE_SOURCES as readonly string[]).includes(value)) return true;
    const near = closest(value, NATIVE_SOURCES);
    if (near && (/^[A-Z0-9_]+$/.test(value) || value.toUpperCase() === near)) {
      this.#r.fail(
        "CONFIG_SOURCE_NAME",
        path,
        line,
        `is not a Security Lake source name: did you mean ${near}? got ${JSON.stringify(value)}`,
      );
      return false;
    }
    return true;
  }

  typeMessage(spec: ScalarSpec, node: YamlNode | unknown, value?: unknown): string {
    const got = node !== undefined && typeof node === "object" && node !== null && !isScalar(node)
      ? typeName(node as YamlNode)
      : isMasked(spec)
      ? `${article(typeof value)} (masked)`
      : describe(value);
    switch (spec.kind) {
      case "integer":
        return spec.unit === "bytes"
          ? `must be a number of bytes or a size such as 8MiB: got ${got}`
          : `must be a whole number${spec.unit ? ` of ${spec.unit}` : ""}: got ${got}${
            typeof value === "string" && /^-?\d+$/.test(value) ? " (write it without quotes)" : ""
          }`;
      case "boolean":
        return `must be true or false: got ${got}`;
      case "enum":
        return `must be one of ${spec.choices!.join(", ")}: got ${got}`;
      case "datetime":
        return `must be a string holding an RFC 3339 date-time, e.g. "2024-05-01T00:00:00Z": got ${got}`;
      default:
        return spec.typeCode === "CONFIG_RESET_AUTH"
          ? `must be a string: got ${got}; quote it, e.g. "${String(value ?? "2024-05-01")}"`
          : `must be a string: got ${got}`;
    }
  }

  /** Checks one scalar `value`; `text` says it came from `${VAR}` or a file (so "25" may be 25). */
  check(
    value: unknown,
    text: boolean,
    spec: ScalarSpec,
    path: Path,
    line: number | undefined,
    file?: string,
  ): unknown {
    const from = file ? ` (read from ${file})` : "";
    switch (spec.kind) {
      case "integer":
        return this.#checkInteger(value, text, spec, path, line, from);
      case "boolean": {
        let b = value;
        if (text && typeof b === "string" && /^(true|false)$/i.test(b.trim())) {
          b = b.trim().toLowerCase() === "true";
        }
        if (typeof b !== "boolean") {
          this.#wrongType(spec, path, line, value);
          return undefined;
        }
        return b;
      }
      case "enum":
        return this.#checkEnum(value, spec, path, line);
      case "datetime":
        return this.#checkDatetime(value, spec, path, line);
      default:
        return this.#checkString(value, spec, path, line, from);
    }
  }

  #checkInteger(
    value: unknown,
    text: boolean,
    spec: ScalarSpec,
    path: Path,
    line: number | undefined,
    from: string,
  ): number | undefined {
    let n = value;
    if (typeof n === "string" && spec.unit === "bytes") n = parseSize(n) ?? n;
    if (typeof n === "string" && text && /^-?\d+$/.test(n.trim())) n = Number(n.trim());
    if (typeof n !== "number" || !Number.isInteger(n)) {
      this.#r.fail(
        spec.typeCode ?? "CONFIG_TYPE",
        path,
        line,
        this.typeMessage(spec, undefined, value) + from,
      );
      return undefined;
    }
    if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
      this.#r.fail(
        "CONFIG_RANGE",
        path,
        line,
        `must be ${rangeText(spec)}: got ${amount(n, spec)}`,
      );
      return undefined;
    }
    return n;
  }

  #checkEnum(
    value: unknown,
    spec: ScalarSpec,
    path: Path,
    line: number | undefined,
  ): string | undefined {
    if (typeof value === "string" && spec.choices!.includes(value)) return value;
    const near = typeof value === "string" ? closest(value, spec.choices!) : undefined;
    this.#r.fail(
      typeof value === "string" ? "CONFIG_CHOICE" : (spec.typeCode ?? "CONFIG_TYPE"),
      path,
      line,
      `must be one of ${spec.choices!.join(", ")}: got ${shownAs(spec, value)}${
        near ? `; did you mean ${near}?` : ""
      }`,
    );
    return undefined;
  }

  #checkString(
    value: unknown,
    spec: ScalarSpec,
    path: Path,
    line: number | undefined,
    from: string,
  ): string | undefined {
    if (typeof value !== "string") {
      this.#wrongType(spec, path, line, value);
      return undefined;
    }
    if (value === "") return undefined;
    if (spec.pattern && !spec.pattern.re.test(value)) {
      this.#r.fail(
        spec.pattern.code ?? "CONFIG_PATTERN",
        path,
        line,
        `must be ${spec.pattern.form}: got ${shownAs(spec, value)}${from}${
          isMasked(spec) ? "" : patternHint(spec.pattern.code, value)
        }`,
      );
      return undefined;
    }
    if (spec.pattern?.code === "CONFIG_SOURCE_NAME" && !this.checkSource(value, path, line)) {
      return undefined;
    }
    if (spec.regex && !this.#checkRegex(value, spec, path, line)) return undefined;
    return value;
  }

  /** Whether `value` compiles as a linear-time regular expression; if not, says why. */
  #checkRegex(value: string, spec: ScalarSpec, path: Path, line: number | undefined): boolean {
    try {
      linearRegExp(value, "g");
      return true;
    } catch (e) {
      if (e instanceof LinearRegexError) {
        this.#r.fail(
          e.reason === "engine" ? "CONFIG_REGEX_ENGINE" : "CONFIG_REGEX_NOT_LINEAR",
          path,
          line,
          e.reason === "engine"
            ? `needs linear-time regular expressions, and ${e.message}`
            : `is refused: ${e.message} (a crafted value could then take seconds to minutes): got ${
              shownAs(spec, value)
            }`,
        );
        return false;
      }
      const why = e instanceof Error ? e.message.replace(/^Invalid regular expression: /, "") : "";
      this.#r.fail(
        "CONFIG_REGEX",
        path,
        line,
        `is not a valid regular expression (${why}): got ${shownAs(spec, value)}`,
      );
      return false;
    }
  }

  /** Reports a value of the wrong type for `spec`. */
  #wrongType(spec: ScalarSpec, path: Path, line: number | undefined, value: unknown): void {
    this.#r.fail(
      spec.typeCode ?? "CONFIG_TYPE",
      path,
      line,
      this.typeMessage(spec, undefined, value),
    );
  }

  #checkDatetime(value: unknown, spec: ScalarSpec, path: Path, line: number | undefined): unknown {
    if (typeof value !== "string") {
      this.#wrongType(spec, path, line, value);
      return undefined;
    }
    if (value === "") return undefined;
    const ms = parseRfc3339(value);
    if (ms === undefined) {
      this.#r.fail(
        "CONFIG_HISTORICAL_FORMAT",
        path,
        line,
        `must be an RFC 3339 date-time with a time zone, e.g. 2024-05-01T00:00:00Z: got ${
          describe(value)
        }`,
      );
      return undefined;
    }
    const now = this.#now.getTime();
    if (ms > now) {
      this.#r.fail(
        "CONFIG_HISTORICAL_FUTURE",
        path,
        line,
        `must not be in the future (now is ${iso(now)}): got ${describe(value)}`,
      );
      return undefined;
    }
    const days = spec.maxAgeDays ?? 365;
    if (ms < now - days * DAY) {
      const what = `must be at most ${days} days back (not before ${
        iso(now - days * DAY)
      }) when its backfill starts: got ${describe(value)}`;
      // With the hook, decided once the configuration is built: its backfill may have begun.
      if (this.#keepTooOld) this.tooOld.push({ path, line, what });
      else {
        this.#r.fail("CONFIG_HISTORICAL_TOO_OLD", path, line, what);
        return undefined;
      }
    }
    return new Date(ms).toISOString();
  }
}
