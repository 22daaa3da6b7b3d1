/**
 * Loads a YAML configuration file: parses it, replaces `${VAR}` from the environment, reads
 * `*_file` secrets, validates every value against the schema table, applies defaults, checks the
 * certificate files and returns a frozen {@link Config}. Every mistake is a numbered `SetupError`
 * naming the YAML path, the line and the value received (secrets masked); all mistakes of one
 * pass are reported together. Nothing here opens a network connection.
 * @module
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, Node as YamlNode } from "yaml";
import { dirname, isAbsolute, resolve } from "node:path";
import { CollectorError } from "../errors.ts";
import { LinearRegexError, linearRegExp } from "../linear_regex.ts";
import {
  amount,
  article,
  closest,
  DAY,
  deepFreeze,
  describe,
  dropUndefined,
  fileProblem,
  fill,
  isNull,
  iso,
  keyAt,
  lineOfError,
  parseRfc3339,
  parseSize,
  patternHint,
  placesOf,
  rangeText,
  typeName,
  yamlHint,
} from "./_util.ts";
import type { Path } from "./_util.ts";
import type { ErrorCode } from "../errors.ts";
import { checkCertificateFiles } from "./pem.ts";
import { acceptsFile, isMasked, NATIVE_SOURCES, SCHEMA } from "./schema.ts";
import type {
  ListSpec,
  MapSpec,
  ObjectListSpec,
  ObjectSpec,
  Pattern,
  ScalarSpec,
  Spec,
} from "./schema.ts";
import type { Config, InputConfig, OutputConfig } from "./types.ts";

/** Options for {@link loadConfig}, {@link parseConfig} and {@link validateConfig}. */
export interface LoadOptions {
  /** Environment used for `${VAR}`; defaults to the process environment. */
  env?: (name: string) => string | undefined;
  /** Directory relative paths are resolved against; defaults to the config file's directory. */
  baseDir?: string;
  /**
   * Check that the certificate files exist, are PEM, are valid now and pair with the key, and
   * that directory inputs exist (default true). `*_file` secrets are always read.
   */
  checkFiles?: boolean;
  /** The current time, for `historical_poll_datetime` and certificate validity (default now). */
  now?: () => Date;
  /**
   * Whether the backfill at start of input `input` already began with these settings (its
   * cursor is in the state folder). The one-year limit of `historical_poll_datetime` is on
   * where a backfill may start: a value that aged past it after its backfill began is accepted
   * when this says so, and the collector keeps starting; a disabled input's is accepted too. Asked
   * once the configuration is built, so such a value is reported after every other mistake (false
   * when the hook throws). Without it every such value is refused with the other settings.
   */
  backfillStarted?: (config: Config, input: string) => boolean;
}

/** The outcome of {@link validateConfig}: the configuration, or every mistake found. */
export interface ValidationResult {
  /** The frozen configuration when there is no error. */
  readonly config?: Config;
  /** Every `SetupError` found, in file order within each pass; empty when valid. */
  readonly errors: readonly CollectorError[];
}

/** Reads and validates the configuration file at `path`; throws the first error found. */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<Config> {
  const text = await readConfigText(path);
  return parseConfig(text, { baseDir: dirname(resolve(path)), ...options });
}

/** Reads the configuration file at `path` as text, or throws `CONFIG_UNREADABLE`. */
export async function readConfigText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "does not exist"
      : e instanceof Deno.errors.PermissionDenied
      ? "may not be read by this user"
      : e instanceof Deno.errors.IsADirectory
      ? "is a folder"
      : `cannot be read (${e instanceof Error ? e.message : String(e)})`;
    throw new CollectorError(
      "CONFIG_UNREADABLE",
      `Configuration file ${path} ${why}: give the path of the YAML file with --config`,
      { cause: e, context: { path } },
    );
  }
}

/**
 * Validates configuration `text` (YAML) and returns the frozen configuration. Throws the first
 * `SetupError`; the others found in the same pass are in its `related` list.
 */
export function parseConfig(text: string, options: LoadOptions = {}): Config {
  const result = validateConfig(text, options);
  if (result.errors.length > 0) {
    const [first, ...rest] = result.errors;
    throw new CollectorError(first!.code, first!.detail, {
      context: first!.context,
      cause: first!.cause,
      related: rest,
    });
  }
  return result.config!;
}

/**
 * Validates configuration `text` (YAML) without throwing. Passes run in order (YAML syntax,
 * settings, relations between settings, files); a pass runs only when the one before found
 * nothing, so one mistake is not reported twice.
 */
export function validateConfig(text: string, options: LoadOptions = {}): ValidationResult {
  const v = new Validator(text, options);
  const config = v.run();
  return v.errors.length > 0 ? { errors: v.errors } : { config: deepFreeze(config!), errors: [] };
}

type Raw = Record<string, unknown>;

/** The shortest `hash_key` accepted, in UTF-8 bytes. */
export const MIN_HASH_KEY_BYTES = 16;

/** Formats a YAML path: `inputs.x.services.events.obfuscation[0].method`. */
export function formatPath(path: Path): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}

const MASK = '"****"';

/** Where a setting was written: the line of its key and of its value. */
interface Where {
  readonly keyLine?: number;
  readonly valueLine?: number;
  /** The `${VAR}` names its value came from, for messages. */
  readonly fromEnv?: readonly string[];
}

class Validator {
  readonly errors: CollectorError[] = [];
  readonly #lc = new LineCounter();
  readonly #doc: Document.Parsed;
  readonly #env: (name: string) => string | undefined;
  readonly #baseDir: string;
  readonly #checkFiles: boolean;
  readonly #now: Date;
  readonly #backfillStarted?: (config: Config, input: string) => boolean;
  /** `historical_poll_datetime` values older than allowed, decided once the config is built. */
  readonly #tooOld: { path: Path; line: number | undefined; what: string }[] = [];
  readonly #where = new Map<string, Where>();

  constructor(text: string, options: LoadOptions) {
    this.#doc = parseDocument(text, {
      lineCounter: this.#lc,
      prettyErrors: false,
      uniqueKeys: true,
    });
    this.#env = options.env ?? ((n) => Deno.env.get(n));
    this.#baseDir = options.baseDir ?? Deno.cwd();
    this.#checkFiles = options.checkFiles ?? true;
    this.#now = options.now?.() ?? new Date();
    this.#backfillStarted = options.backfillStarted;
  }

  run(): Config | undefined {
    this.#syntax();
    if (this.errors.length > 0) return undefined;
    const root = this.#deref(this.#doc.contents);
    if (!root || !isMap(root)) {
      const what = !root || (isScalar(root) && root.value === null)
        ? "is empty"
        : `is ${typeName(root)}`;
      this.#fail(
        "CONFIG_NOT_MAPPING",
        [],
        this.#line(root ?? undefined) ?? 1,
        `The configuration ${what}: it must be a mapping with globals, outputs and inputs sections`,
      );
      return undefined;
    }
    const raw = this.#walkObject(root, SCHEMA, [], 1) as Raw;
    if (this.errors.length > 0) return undefined;
    this.#relations(raw);
    if (this.errors.length > 0) return undefined;
    const config = this.#build(raw);
    for (const old of this.#tooOld) {
      const name = String(old.path[1]);
      // A disabled input does not backfill; an enabled one may have begun already.
      if (!config.inputs.some((i) => i.name === name)) continue;
      if (!this.#begun(config, name)) {
        this.#fail("CONFIG_HISTORICAL_TOO_OLD", old.path, old.line, old.what);
      }
    }
    if (this.#checkFiles) this.#files(config);
    this.errors.sort((a, b) => (lineOfError(a) ?? 0) - (lineOfError(b) ?? 0));
    return this.errors.length > 0 ? undefined : config;
  }

  /** The `backfillStarted` hook's answer; false when it fails. */
  #begun(config: Config, input: string): boolean {
    try {
      return this.#backfillStarted?.(config, input) === true;
    } catch {
      return false;
    }
  }

  // ---- reporting -----------------------------------------------------------------------------

  #fail(code: ErrorCode, path: Path, line: number | undefined, what: string): void {
    const p = formatPath(path);
    const text = p === "" ? what : `${p} ${what}`;
    this.errors.push(
      new CollectorError(code, `${text}${line ? ` (line ${line})` : ""}`, {
        context: { path: p, line },
      }),
    );
  }

  #line(node: YamlNode | null | undefined): number | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.#lc.linePos(offset).line;
  }

  /** The line of the key at `path`, else that of its nearest written ancestor. */
  #lineNear(path: Path): number | undefined {
    for (let i = path.length; i > 0; i--) {
      const w = this.#where.get(formatPath(path.slice(0, i)));
      if (w) return w.keyLine ?? w.valueLine;
    }
    return undefined;
  }

  #written(path: Path): boolean {
    return this.#where.has(formatPath(path));
  }

  #syntax(): void {
    const errs = this.#doc.errors;
    let other = false;
    for (const err of errs) {
      const pos = this.#lc.linePos(err.pos[0]);
      const at = `(line ${pos.line}, column ${pos.col})`;
      if (err.code === "DUPLICATE_KEY") {
        const key = keyAt(this.#doc.contents, err.pos[0]);
        this.errors.push(
          new CollectorError(
            "CONFIG_DUPLICATE_KEY",
            `The key ${
              key ? JSON.stringify(key) + " " : ""
            }is given twice in one mapping: remove one of the two ${at}`,
            { context: { line: pos.line, column: pos.col } },
          ),
        );
      } else if (!other) {
        other = true;
        const first = err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
        this.errors.push(
          new CollectorError(
            "CONFIG_YAML",
            `Configuration is not valid YAML: ${first}${yamlHint(err.code)} ${at}`,
            { context: { line: pos.line, column: pos.col } },
          ),
        );
      }
    }
  }

  #deref(node: unknown): YamlNode | undefined {
    let n = node as YamlNode | null | undefined;
    for (let i = 0; i < 16 && n && isAlias(n); i++) n = n.resolve(this.#doc) as YamlNode;
    return n ?? undefined;
  }

  // ---- pass 2: every value against the schema ------------------------------------------------

  #walk(node: YamlNode | undefined, spec: Spec, path: Path, keyLine?: number): unknown {
    switch (spec.kind) {
      case "object":
        return this.#walkObject(node, spec, path, keyLine);
      case "map":
        return this.#walkMap(node, spec, path);
      case "list":
        return this.#walkList(node, spec, path);
      case "objects":
        return this.#walkObjects(node, spec, path);
      default:
        return this.#walkScalar(node, spec, path);
    }
  }

  #walkObject(
    node: YamlNode | undefined,
    spec: ObjectSpec,
    path: Path,
    keyLine?: number,
  ): Raw | undefined {
    if (isNull(node)) {
      if (spec.optional && node === undefined) return undefined;
      node = undefined;
    }
    if (node !== undefined && !isMap(node)) {
      this.#fail(
        "CONFIG_TYPE",
        path,
        this.#line(node),
        `must be an object (a mapping of settings): got ${typeName(node)}`,
      );
      return undefined;
    }
    const out: Raw = {};
    const given = new Set<string>();
    const invalid = new Set<string>();
    for (const pair of node?.items ?? []) {
      const keyNode = pair.key as YamlNode;
      const key = String(isScalar(keyNode) ? keyNode.value : keyNode);
      const valueNode = this.#deref(pair.value);
      const line = this.#line(keyNode);
      const child = spec.fields[key];
      if (child) {
        if (given.has(key)) {
          this.#conflict(path, key, `${key}_file`, line);
          continue;
        }
        given.add(key);
        this.#where.set(formatPath([...path, key]), {
          keyLine: line,
          valueLine: this.#line(valueNode),
        });
        const before = this.errors.length;
        out[key] = this.#walk(valueNode, child, [...path, key], line);
        if (this.errors.length > before) invalid.add(key);
        continue;
      }
      const base = key.endsWith("_file") ? key.slice(0, -5) : undefined;
      const baseSpec = base === undefined ? undefined : spec.fields[base];
      if (base !== undefined && baseSpec && acceptsFile(baseSpec)) {
        if (given.has(base)) {
          this.#conflict(path, base, key, line);
          continue;
        }
        given.add(base);
        this.#where.set(formatPath([...path, base]), {
          keyLine: line,
          valueLine: this.#line(valueNode),
        });
        const before = this.errors.length;
        out[base] = this.#fromFile(valueNode, baseSpec as ScalarSpec, [...path, key], [
          ...path,
          base,
        ]);
        if (this.errors.length > before) invalid.add(base);
        continue;
      }
      this.#fail("CONFIG_UNKNOWN_KEY", [...path, key], line, this.#unknown(key, spec, path));
    }
    for (const [key, child] of Object.entries(spec.fields)) {
      if (out[key] !== undefined || invalid.has(key)) continue;
      if (child.kind !== "object" && child.kind !== "map" && child.kind !== "objects") {
        if (child.kind !== "list" && child.default !== undefined) out[key] = child.default;
      } else if (child.kind === "object" && !child.optional) {
        out[key] = this.#walkObject(undefined, child, [...path, key]);
      } else if (child.kind === "objects") {
        out[key] = [];
      }
      if (out[key] === undefined && child.required) {
        const line = this.#where.get(formatPath([...path, key]))?.keyLine ?? keyLine ??
          this.#line(node);
        this.#missing([...path, key], child, line, given.has(key) ? "is empty" : undefined);
      }
    }
    return out;
  }

  #missing(path: Path, spec: Spec, line: number | undefined, why?: string): void {
    why ??= this.#written(path) ? "is empty" : "is required";
    why += this.#emptyNote(path);
    const key = String(path.at(-1));
    const example = spec.example ?? ("choices" in spec ? spec.choices?.[0] : undefined);
    const hint = example !== undefined ? `add it, e.g. ${key}: ${example}` : `add it`;
    this.#fail("CONFIG_MISSING", path, line, `${why}: ${hint}`);
  }

  /** ` (it comes from ${VAR}, which is empty)` when the value at `path` came from variables. */
  #emptyNote(path: Path): string {
    const vars = this.#where.get(formatPath(path))?.fromEnv;
    return vars?.length ? ` (it comes from \${${vars.join("}, ${")}}, which is empty)` : "";
  }

  #conflict(path: Path, a: string, b: string, line: number | undefined): void {
    this.#fail(
      "CONFIG_CONFLICT",
      [...path, b],
      line,
      `cannot be given together with ${formatPath([...path, a])}: keep one of the two`,
    );
  }

  #unknown(key: string, spec: ObjectSpec, path: Path): string {
    const known = Object.entries(spec.fields).flatMap(([k, s]) =>
      acceptsFile(s) ? [k, `${k}_file`] : [k]
    );
    const near = closest(key, known);
    if (near) return `is not a known setting: did you mean ${formatPath([...path, near])}?`;
    const elsewhere = placesOf(key).map((p) => fill(p, path));
    if (elsewhere.length > 0) {
      return `is not a setting here: it belongs under ${
        elsewhere.map((p) => p.split(".").slice(0, -1).join(".")).join(" or ")
      }`;
    }
    return `is not a known setting: remove it (docs/configuration.md lists the settings of ${
      formatPath(path) || "the top level"
    })`;
  }

  #fromFile(
    node: YamlNode | undefined,
    spec: ScalarSpec,
    filePath: Path,
    basePath: Path,
  ): unknown {
    const pathSpec: ScalarSpec = { kind: "string", description: spec.description };
    const file = this.#walkScalar(node, pathSpec, filePath) as string | undefined;
    if (file === undefined) return undefined;
    const line = this.#line(node);
    const abs = isAbsolute(file) ? file : resolve(this.#baseDir, file);
    let text: string;
    try {
      text = Deno.readTextFileSync(abs);
    } catch (e) {
      const [code, why] = fileProblem(e);
      this.#fail(code, filePath, line, `names ${abs}, which ${why}`);
      return undefined;
    }
    const value = text.replace(/\r?\n$/, "");
    if (value.trim() === "") {
      this.#fail(
        "CONFIG_FILE_EMPTY",
        filePath,
        line,
        `names ${abs}, which is empty: write the value of ${formatPath(basePath)} into it`,
      );
      return undefined;
    }
    return this.#checkScalar(value, true, spec, basePath, line, `${abs}`);
  }

  #walkMap(node: YamlNode | undefined, spec: MapSpec, path: Path): Raw | undefined {
    if (isNull(node)) return undefined;
    if (!isMap(node)) {
      this.#fail(
        "CONFIG_TYPE",
        path,
        this.#line(node),
        `must be an object (a mapping of names to settings): got ${typeName(node!)}`,
      );
      return undefined;
    }
    const out: Raw = {};
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      const key = String(isScalar(keyNode) ? keyNode.value : keyNode);
      const line = this.#line(keyNode);
      const valueNode = this.#deref(pair.value);
      this.#where.set(formatPath([...path, key]), {
        keyLine: line,
        valueLine: this.#line(valueNode),
      });
      if (spec.key) this.#checkKey(key, spec.key, [...path, key], line);
      const value = this.#walk(valueNode, spec.value, [...path, key], line);
      if (value !== undefined) out[key] = value;
      else if (isNull(valueNode) && spec.value.kind === "object") {
        out[key] = this.#walkObject(undefined, spec.value, [...path, key], line);
      } else if (isNull(valueNode)) this.#missing([...path, key], spec.value, line, "has no value");
    }
    return out;
  }

  #checkKey(key: string, pattern: Pattern, path: Path, line: number | undefined): void {
    if (!pattern.re.test(key)) {
      this.#fail(
        pattern.code ?? "CONFIG_PATTERN",
        path,
        line,
        `is not a valid key: it must be ${pattern.form}`,
      );
    } else if (pattern.code === "CONFIG_SOURCE_NAME" && key !== "default") {
      this.#checkSource(key, path, line);
    }
  }

  #checkSource(value: string, path: Path, line: number | undefined): boolean {
    if ((NATIVE_SOURCES as readonly string[]).includes(value)) return true;
    const near = closest(value, NATIVE_SOURCES);
    if (near && (/^[A-Z0-9_]+$/.test(value) || value.toUpperCase() === near)) {
      this.#fail(
        "CONFIG_SOURCE_NAME",
        path,
        line,
        `is not a Security Lake source name: did you mean ${near}? got ${JSON.stringify(value)}`,
      );
      return false;
    }
    return true;
  }

  #walkList(node: YamlNode | undefined, spec: ListSpec, path: Path): string[] | undefined {
    if (isNull(node)) return undefined;
    if (!isSeq(node)) {
      this.#fail(
        "CONFIG_TYPE",
        path,
        this.#line(node),
        `must be a list (written [a, b] or one "- item" per line): got ${typeName(node!)}`,
      );
      return undefined;
    }
    const out: string[] = [];
    node.items.forEach((item, i) => {
      const n = this.#deref(item);
      this.#where.set(formatPath([...path, i]), { valueLine: this.#line(n) });
      if (isNull(n)) {
        this.#fail(
          "CONFIG_TYPE",
          [...path, i],
          this.#line(n) ?? this.#lineNear(path),
          "must be a string: got nothing (an empty list item)",
        );
        return;
      }
      const v = this.#walkScalar(n, spec.item, [...path, i]);
      if (typeof v === "string") out.push(v);
    });
    return out;
  }

  #walkObjects(node: YamlNode | undefined, spec: ObjectListSpec, path: Path): Raw[] | undefined {
    if (isNull(node)) return [];
    if (!isSeq(node)) {
      this.#fail(
        "CONFIG_TYPE",
        path,
        this.#line(node),
        `must be a list of objects (one "- key: value" entry per item): got ${typeName(node!)}`,
      );
      return undefined;
    }
    const out: Raw[] = [];
    node.items.forEach((item, i) => {
      const n = this.#deref(item);
      this.#where.set(formatPath([...path, i]), {
        valueLine: this.#line(n),
        keyLine: this.#line(n),
      });
      if (isNull(n)) {
        this.#fail(
          "CONFIG_TYPE",
          [...path, i],
          this.#line(n) ?? this.#lineNear(path),
          "must be an object: got nothing",
        );
        return;
      }
      const v = this.#walkObject(n, spec.item, [...path, i], this.#line(n));
      if (v) out.push(v);
    });
    return out;
  }

  #walkScalar(node: YamlNode | undefined, spec: ScalarSpec, path: Path): unknown {
    if (isNull(node)) return undefined;
    const line = this.#line(node);
    if (!isScalar(node!)) {
      this.#fail(spec.typeCode ?? "CONFIG_TYPE", path, line, this.#typeMessage(spec, node!));
      return undefined;
    }
    let value = node.value;
    let text = false;
    if (typeof value === "string") {
      const sub = this.#substitute(value, path, line);
      if (sub === undefined) return undefined;
      if (sub !== value) {
        text = true;
        this.#where.set(formatPath(path), {
          ...this.#where.get(formatPath(path)),
          fromEnv: [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!),
        });
      }
      value = sub;
    } else if (typeof value === "number" && (spec.kind === "string") && !spec.typeCode) {
      // An unquoted number where text is expected (ids, account ids): keep it as written.
      value = node.source ?? String(value);
    }
    return this.#checkScalar(value, text, spec, path, line);
  }

  #typeMessage(spec: ScalarSpec, node: YamlNode | unknown, value?: unknown): string {
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

  #substitute(value: string, path: Path, line: number | undefined): string | undefined {
    let ok = true;
    const out = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = this.#env(name);
      if (v === undefined) {
        ok = false;
        this.#fail(
          "CONFIG_ENV",
          path,
          line,
          `refers to environment variable ${name}, which is not set: export ${name} before starting the collector`,
        );
        return "";
      }
      return v;
    });
    return ok ? out : undefined;
  }

  /** Checks one scalar `value`; `text` says it came from `${VAR}` or a file (so "25" may be 25). */
  #checkScalar(
    value: unknown,
    text: boolean,
    spec: ScalarSpec,
    path: Path,
    line: number | undefined,
    file?: string,
  ): unknown {
    const masked = isMasked(spec);
    const shown = (v: unknown) => (masked ? MASK : describe(v));
    const from = file ? ` (read from ${file})` : "";
    switch (spec.kind) {
      case "integer": {
        let n = value;
        if (typeof n === "string" && spec.unit === "bytes") n = parseSize(n) ?? n;
        if (typeof n === "string" && text && /^-?\d+$/.test(n.trim())) n = Number(n.trim());
        if (typeof n !== "number" || !Number.isInteger(n)) {
          this.#fail(
            spec.typeCode ?? "CONFIG_TYPE",
            path,
            line,
            this.#typeMessage(spec, undefined, value) + from,
          );
          return undefined;
        }
        if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
          this.#fail(
            "CONFIG_RANGE",
            path,
            line,
            `must be ${rangeText(spec)}: got ${amount(n, spec)}`,
          );
          return undefined;
        }
        return n;
      }
      case "boolean": {
        let b = value;
        if (text && typeof b === "string" && /^(true|false)$/i.test(b.trim())) {
          b = b.trim().toLowerCase() === "true";
        }
        if (typeof b !== "boolean") {
          this.#fail(
            spec.typeCode ?? "CONFIG_TYPE",
            path,
            line,
            this.#typeMessage(spec, undefined, value),
          );
          return undefined;
        }
        return b;
      }
      case "enum": {
        if (typeof value !== "string" || !spec.choices!.includes(value)) {
          const near = typeof value === "string" ? closest(value, spec.choices!) : undefined;
          this.#fail(
            typeof value === "string" ? "CONFIG_CHOICE" : (spec.typeCode ?? "CONFIG_TYPE"),
            path,
            line,
            `must be one of ${spec.choices!.join(", ")}: got ${shown(value)}${
              near ? `; did you mean ${near}?` : ""
            }`,
          );
          return undefined;
        }
        return value;
      }
      case "datetime":
        return this.#checkDatetime(value, spec, path, line);
      default: {
        if (typeof value !== "string") {
          this.#fail(
            spec.typeCode ?? "CONFIG_TYPE",
            path,
            line,
            this.#typeMessage(spec, undefined, value),
          );
          return undefined;
        }
        if (value === "") return undefined;
        if (spec.pattern && !spec.pattern.re.test(value)) {
          this.#fail(
            spec.pattern.code ?? "CONFIG_PATTERN",
            path,
            line,
            `must be ${spec.pattern.form}: got ${shown(value)}${from}${
              masked ? "" : patternHint(spec.pattern.code, value)
            }`,
          );
          return undefined;
        }
        if (spec.pattern?.code === "CONFIG_SOURCE_NAME" && !this.#checkSource(value, path, line)) {
          return undefined;
        }
        if (spec.regex) {
          try {
            linearRegExp(value, "g");
          } catch (e) {
            if (e instanceof LinearRegexError) {
              this.#fail(
                e.reason === "engine" ? "CONFIG_REGEX_ENGINE" : "CONFIG_REGEX_NOT_LINEAR",
                path,
                line,
                e.reason === "engine"
                  ? `needs linear-time regular expressions, and ${e.message}`
                  : `is refused: ${e.message} (a crafted value could then take seconds to minutes): got ${
                    shown(value)
                  }`,
              );
              return undefined;
            }
            const why = e instanceof Error
              ? e.message.replace(/^Invalid regular expression: /, "")
              : "";
            this.#fail(
              "CONFIG_REGEX",
              path,
              line,
              `is not a valid regular expression (${why}): got ${shown(value)}`,
            );
            return undefined;
          }
        }
        return value;
      }
    }
  }

  #checkDatetime(value: unknown, spec: ScalarSpec, path: Path, line: number | undefined): unknown {
    if (typeof value !== "string") {
      this.#fail(
        spec.typeCode ?? "CONFIG_TYPE",
        path,
        line,
        this.#typeMessage(spec, undefined, value),
      );
      return undefined;
    }
    if (value === "") return undefined;
    const ms = parseRfc3339(value);
    if (ms === undefined) {
      this.#fail(
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
      this.#fail(
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
      if (this.#backfillStarted) this.#tooOld.push({ path, line, what });
      else {
        this.#fail("CONFIG_HISTORICAL_TOO_OLD", path, line, what);
        return undefined;
      }
    }
    return new Date(ms).toISOString();
  }

  // ---- pass 3: relations between settings ----------------------------------------------------

  #relations(raw: Raw): void {
    const outputs = (raw.outputs ?? {}) as Record<string, Raw>;
    if (Object.keys(outputs).length === 0) {
      this.#fail(
        "CONFIG_NO_OUTPUT",
        ["outputs"],
        this.#lineNear(["outputs"]),
        `${
          this.#written(["outputs"]) ? "is empty" : "is missing"
        }: configure at least one output (devo_platform, relay or console)`,
      );
    }
    for (const [name, o] of Object.entries(outputs)) this.#outputRelations(name, o);

    const inputs = (raw.inputs ?? {}) as Record<string, Raw>;
    const enabled = Object.entries(inputs).filter(([, i]) => i.enabled !== false);
    if (enabled.length === 0) {
      const what = !this.#written(["inputs"])
        ? "is missing"
        : Object.keys(inputs).length === 0
        ? "is empty"
        : "has no enabled input (every input has enabled: false)";
      this.#fail(
        "CONFIG_NO_INPUT",
        ["inputs"],
        this.#lineNear(["inputs"]),
        `${what}: configure and enable at least one input`,
      );
    }
    for (const [name, i] of enabled) this.#inputRelations(name, i);
  }

  #outputRelations(name: string, o: Raw): void {
    const path = ["outputs", name];
    const c = (o.config ?? {}) as Raw;
    const needed = o.type === "devo_platform"
      ? ["address", "port", "chain", "cert", "key"]
      : o.type === "relay"
      ? ["address", "port"]
      : [];
    const fields = ((SCHEMA.fields.outputs as MapSpec).value as ObjectSpec).fields;
    const configSpec = fields.config as ObjectSpec;
    for (const k of needed) {
      if (c[k] !== undefined) continue;
      this.#missing(
        [...path, "config", k],
        configSpec.fields[k]!,
        this.#lineNear([...path, "config", k]),
        `is required for output type ${o.type}`,
      );
    }
  }

  #inputRelations(name: string, i: Raw): void {
    const path = ["inputs", name];
    const inputSpec = (SCHEMA.fields.inputs as MapSpec).value as ObjectSpec;
    if (i.type === "directory") {
      if (i.directory === undefined) {
        this.#missing(
          [...path, "directory"],
          inputSpec.fields.directory!,
          this.#lineNear([...path, "directory"]),
          "is required for input type directory",
        );
      }
    } else {
      if (i.region === undefined) {
        this.#missing(
          [...path, "region"],
          inputSpec.fields.region!,
          this.#lineNear([...path, "region"]),
        );
      }
      if (i.queue_name === undefined && i.queue_url === undefined) {
        this.#fail(
          "CONFIG_MISSING",
          [...path, "queue_name"],
          this.#lineNear([...path, "queue_name"]),
          "is required (or queue_url): add it, e.g. queue_name: AmazonSecurityLake-00000000-0000-Main-Queue",
        );
      }
      if (i.queue_name !== undefined && i.queue_url !== undefined) {
        this.#conflict(path, "queue_name", "queue_url", this.#lineNear([...path, "queue_url"]));
      }
      if (i.queue_account_id !== undefined && i.queue_url !== undefined) {
        this.#fail(
          "CONFIG_CONFLICT",
          [...path, "queue_account_id"],
          this.#lineNear([...path, "queue_account_id"]),
          `cannot be given together with ${
            formatPath([...path, "queue_url"])
          }, which already names the account: keep one of the two`,
        );
      }
      this.#credentialRelations([...path, "credentials"], i.credentials as Raw, true);
      for (const k of ["sqs_credentials", "s3_credentials"]) {
        if (i[k] !== undefined) this.#credentialRelations([...path, k], i[k] as Raw, true);
      }
    }
    const events = ((i.services as Raw).events ?? {}) as Raw;
    const ev = [...path, "services", "events"];
    const map = events.devo_tag_map as Record<string, string> | undefined;
    if (map !== undefined && map.default === undefined) {
      this.#fail(
        "CONFIG_TAG_MAP_DEFAULT",
        [...ev, "devo_tag_map"],
        this.#lineNear([...ev, "devo_tag_map"]),
        `has no default entry: add default: ${
          events.tag ?? "cloud.aws.amazon.security_lake.events"
        }`,
      );
    }
    const include = (events.include_sources ?? []) as string[];
    ((events.exclude_sources ?? []) as string[]).forEach((s, n) => {
      if (include.includes(s)) {
        this.#fail(
          "CONFIG_CONFLICT",
          [...ev, "exclude_sources", n],
          this.#lineNear([...ev, "exclude_sources", n]),
          `names ${s}, which include_sources also names: keep it in one of the two lists`,
        );
      }
    });
    const allowed = i.allowed_buckets as string[] | undefined;
    if (i.bucket !== undefined && allowed !== undefined && !allowed.includes(i.bucket as string)) {
      this.#fail(
        "CONFIG_CONFLICT",
        [...path, "bucket"],
        this.#lineNear([...path, "bucket"]),
        `names ${i.bucket}, which allowed_buckets does not list: add it there or correct it`,
      );
    }
    ((events.obfuscation ?? []) as Raw[]).forEach((rule, n) =>
      this.#ruleRelations([...ev, "obfuscation", n], rule)
    );
  }

  #credentialRelations(path: Path, c: Raw, needSome: boolean): void {
    const has = (k: string) => c[k] !== undefined;
    const line = (k: string) => this.#lineNear([...path, k]);
    if (has("aws_access_key_id") !== has("aws_secret_access_key")) {
      const [given, absent] = has("aws_access_key_id")
        ? ["aws_access_key_id", "aws_secret_access_key"]
        : ["aws_secret_access_key", "aws_access_key_id"];
      this.#fail(
        "CONFIG_CREDENTIALS_PAIR",
        [...path, absent],
        line(given),
        `is missing${
          this.#emptyNote([...path, absent])
        } while ${given} is given: set both keys of the IAM access key, or neither`,
      );
    } else if (has("aws_session_token") && !has("aws_access_key_id")) {
      this.#fail(
        "CONFIG_CREDENTIALS_PAIR",
        [...path, "aws_session_token"],
        line("aws_session_token"),
        "is given without aws_access_key_id and aws_secret_access_key: set all three or remove it",
      );
    }
    if (has("profile") && (has("aws_access_key_id") || has("aws_secret_access_key"))) {
      this.#fail(
        "CONFIG_CONFLICT",
        [...path, "profile"],
        line("profile"),
        `cannot be given together with ${
          formatPath([...path, "aws_access_key_id"])
        }: use the profile or the access keys, not both`,
      );
    }
    if (!has("role_arn")) {
      for (const k of ["external_id", "role_session_name", "role_duration_seconds"]) {
        if (this.#written([...path, k])) {
          this.#fail(
            "CONFIG_REQUIRES",
            [...path, k],
            line(k),
            `has no effect without ${
              formatPath([...path, "role_arn"])
            }: add role_arn or remove ${k}`,
          );
        }
      }
    }
    if (
      needSome && !has("aws_access_key_id") && !has("aws_secret_access_key") && !has("profile") &&
      !has("role_arn")
    ) {
      this.#fail(
        "CONFIG_MISSING",
        [...path, "aws_access_key_id"],
        this.#lineNear([...path, "aws_access_key_id"]),
        'is required: set aws_access_key_id and aws_secret_access_key (or profile, or role_arn), e.g. aws_access_key_id: "${AWS_ACCESS_KEY_ID}"',
      );
    }
  }

  #ruleRelations(path: Path, rule: Raw): void {
    const line = this.#lineNear(path);
    const given = (k: string) => this.#written([...path, k]);
    if (rule.paths === undefined && rule.string_patterns === undefined) {
      this.#fail(
        "CONFIG_OBFUSCATION_RULE",
        path,
        line,
        "names neither paths nor string_patterns: add the fields (paths) or the patterns (string_patterns) it applies to",
      );
    }
    const method = rule.method as string;
    if (method === "hash" && rule.hash_key === undefined) {
      this.#fail(
        "CONFIG_OBFUSCATION_RULE",
        [...path, "hash_key"],
        this.#lineNear([...path, "method"]),
        'is required for method hash: add it, e.g. hash_key: "${SECLAKE_HASH_KEY}" (or hash_key_file)',
      );
    }
    if (method === "hash" && typeof rule.hash_key === "string") {
      const bytes = new TextEncoder().encode(rule.hash_key).length;
      if (bytes < MIN_HASH_KEY_BYTES) {
        this.#fail(
          "CONFIG_HASH_KEY_SHORT",
          [...path, "hash_key"],
          this.#lineNear([...path, "hash_key"]),
          `is ${bytes} byte${
            bytes === 1 ? "" : "s"
          } long, and must be at least ${MIN_HASH_KEY_BYTES}: anyone who can guess it can reverse the pseudonyms by hashing likely values; use a long random key, e.g. the output of openssl rand -hex 32`,
        );
      }
    }
    const only: Record<string, string> = {
      value: "mask",
      hash_key: "hash",
      hash_length: "hash",
      keep_last: "partial",
    };
    for (const [k, m] of Object.entries(only)) {
      if (given(k) && method !== m) {
        this.#fail(
          "CONFIG_OBFUSCATION_RULE",
          [...path, k],
          this.#lineNear([...path, k]),
          `applies to method ${m} only, and this rule's method is ${method}: remove ${k} or change the method`,
        );
      }
    }
  }

  // ---- building the typed configuration -------------------------------------------------------

  #abs(p: string | undefined): string | undefined {
    return p === undefined ? undefined : isAbsolute(p) ? p : resolve(this.#baseDir, p);
  }

  #build(raw: Raw): Config {
    const globals = raw.globals as Raw & { persistence: Raw };
    const outputs: OutputConfig[] = Object.entries((raw.outputs ?? {}) as Record<string, Raw>).map(
      ([name, o]) => {
        const c = (o.config ?? {}) as Raw;
        return {
          ...c,
          name,
          type: o.type,
          chain: this.#abs(c.chain as string | undefined),
          cert: this.#abs(c.cert as string | undefined),
          key: this.#abs(c.key as string | undefined),
        } as unknown as OutputConfig;
      },
    );
    const inputs: InputConfig[] = Object.entries((raw.inputs ?? {}) as Record<string, Raw>)
      .filter(([, i]) => i.enabled !== false)
      .map(([name, i]) => ({
        ...i,
        name,
        directory: this.#abs(i.directory as string | undefined),
        ca_bundle: this.#abs(i.ca_bundle as string | undefined),
        // Notifications may name the input's own bucket only, unless configured otherwise.
        allowed_buckets: i.allowed_buckets ?? (i.bucket !== undefined ? [i.bucket] : undefined),
      } as unknown as InputConfig));
    return {
      globals: {
        ...globals,
        persistence: {
          ...globals.persistence,
          directory_name: this.#abs(globals.persistence.directory_name as string)!,
        },
      } as unknown as Config["globals"],
      outputs: dropUndefined(outputs),
      inputs: dropUndefined(inputs),
    };
  }

  // ---- pass 4: files ---------------------------------------------------------------------------

  #files(config: Config): void {
    for (const o of config.outputs) {
      if (o.type !== "devo_platform") continue;
      const at = (k: string) => ["outputs", o.name, "config", k];
      for (
        const problem of checkCertificateFiles({ chain: o.chain!, cert: o.cert!, key: o.key! }, {
          now: this.#now,
        })
      ) {
        this.#fail(
          problem.code,
          at(problem.setting),
          this.#where.get(formatPath(at(problem.setting)))?.valueLine ??
            this.#lineNear(at(problem.setting)),
          problem.text,
        );
      }
    }
    for (const i of config.inputs) {
      if (i.type !== "security_lake") continue;
      const path = ["inputs", i.name, "ca_bundle"];
      const env = this.#env("AWS_CA_BUNDLE")?.trim();
      const bundle = i.ca_bundle ?? (env ? resolve(env) : undefined);
      if (bundle === undefined) continue;
      const problem = caBundleProblem(bundle);
      if (problem === undefined) continue;
      const from = i.ca_bundle ? "" : " (from the AWS_CA_BUNDLE environment variable)";
      this.#fail(
        problem[0],
        i.ca_bundle ? path : ["inputs", i.name],
        i.ca_bundle ? this.#where.get(formatPath(path))?.valueLine : this.#lineNear(path),
        `${i.ca_bundle ? "names" : "uses"} ${bundle}${from}, which ${problem[1]}`,
      );
    }
    for (const i of config.inputs) {
      if (i.type !== "directory" || i.directory === undefined) continue;
      const path = ["inputs", i.name, "directory"];
      const line = this.#where.get(formatPath(path))?.valueLine;
      try {
        if (!Deno.statSync(i.directory).isDirectory) {
          this.#fail(
            "CONFIG_FILE_UNREADABLE",
            path,
            line,
            `names ${i.directory}, which is a file, not a folder`,
          );
        }
      } catch (e) {
        const [code, why] = fileProblem(e);
        this.#fail(code, path, line, `names ${i.directory}, which ${why}`);
      }
    }
  }
}

/** Why the CA bundle at `path` cannot be used (code and reason), or undefined when it can. */
export function caBundleProblem(path: string): [ErrorCode, string] | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    return fileProblem(e);
  }
  return /-----BEGIN CERTIFICATE-----/.test(text)
    ? undefined
    : ["CONFIG_CA_BUNDLE", "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"];
}

export { closest, humanBytes, parseRfc3339 } from "./_util.ts";
