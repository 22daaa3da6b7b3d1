/**
 * How configuration mistakes are reported: each is a numbered `SetupError` naming the YAML path
 * and the line, collected so that every mistake of a pass is reported at once. Also remembers
 * where each setting was written (its lines, and the `${VAR}` it came from) for those messages.
 * @module
 */
import type { LineCounter, Node as YamlNode } from "yaml";
import { CollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import type { Path } from "./_util.ts";
import type { Spec } from "./schema.ts";

/** A YAML path as written in messages: `inputs.lake.services.events.obfuscation[0].paths`. */
export function formatPath(path: Path): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}

/** Where a setting was written. */
export interface Where {
  readonly keyLine?: number;
  readonly valueLine?: number;
  /** The `${VAR}` names its value came from, for messages. */
  readonly fromEnv?: readonly string[];
}

/** The mistakes found so far, and where each setting was written. */
export class Report {
  readonly errors: CollectorError[] = [];
  readonly where = new Map<string, Where>();
  readonly #lc: LineCounter;

  constructor(lc: LineCounter) {
    this.#lc = lc;
  }

  fail(code: ErrorCode, path: Path, line: number | undefined, what: string): void {
    const p = formatPath(path);
    const text = p === "" ? what : `${p} ${what}`;
    this.errors.push(
      new CollectorError(code, `${text}${line ? ` (line ${line})` : ""}`, {
        context: { path: p, line },
      }),
    );
  }

  line(node: YamlNode | null | undefined): number | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.#lc.linePos(offset).line;
  }

  /** The line of the key at `path`, else that of its nearest written ancestor. */
  lineNear(path: Path): number | undefined {
    for (let i = path.length; i > 0; i--) {
      const w = this.where.get(formatPath(path.slice(0, i)));
      if (w) return w.keyLine ?? w.valueLine;
    }
    return undefined;
  }

  written(path: Path): boolean {
    return this.where.has(formatPath(path));
  }

  missing(path: Path, spec: Spec, line: number | undefined, why?: string): void {
    why ??= this.written(path) ? "is empty" : "is required";
    why += this.emptyNote(path);
    const key = String(path.at(-1));
    const example = spec.example ?? ("choices" in spec ? spec.choices?.[0] : undefined);
    const hint = example !== undefined ? `add it, e.g. ${key}: ${example}` : `add it`;
    this.fail("CONFIG_MISSING", path, line, `${why}: ${hint}`);
  }

  /** The `${VAR}`s the value at `path` was written with. */
  fromEnv(path: Path): readonly string[] {
    return this.where.get(formatPath(path))?.fromEnv ?? [];
  }

  /** ` (it comes from ${VAR}, which is empty)` when the value at `path` came from variables. */
  emptyNote(path: Path): string {
    const vars = this.fromEnv(path);
    return vars?.length ? ` (it comes from \${${vars.join("}, ${")}}, which is empty)` : "";
  }

  conflict(path: Path, a: string, b: string, line: number | undefined): void {
    this.fail(
      "CONFIG_CONFLICT",
      [...path, b],
      line,
      `cannot be given together with ${formatPath([...path, a])}: keep one of the two`,
    );
  }
}
