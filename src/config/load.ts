/**
 * Loads a YAML configuration file: parses it, replaces `${VAR}` from the environment, reads
 * `*_file` secrets, validates every value against the schema table, applies defaults, checks the
 * certificate files and returns a frozen {@link Config}. Every mistake is a numbered `SetupError`
 * naming the YAML path, the line and the value received (secrets masked); all mistakes of one
 * pass are reported together. Nothing here opens a network connection.
 * @module
 */
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import type { Document } from "yaml";
import { dirname, isAbsolute, resolve } from "node:path";
import { CollectorError } from "../errors.ts";
import { deepFreeze, dropUndefined, keyAt, lineOfError, typeName, yamlHint } from "./_util.ts";
import { checkFiles } from "./files.ts";
import { checkRelations } from "./relations.ts";
import { Report } from "./report.ts";
import { SCHEMA } from "./schema.ts";
import type { Config, InputConfig, OutputConfig } from "./types.ts";
import { Walker } from "./walk.ts";
import { blameSyntax } from "./yaml_hints.ts";
import type { Raw } from "./walk.ts";

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

export { formatPath } from "./report.ts";
export { MIN_HASH_KEY_BYTES } from "./relations.ts";
export { readCaBundle } from "./files.ts";

/** Runs the four passes over one document (syntax, schema, relations, files). */
class Validator {
  readonly #lc = new LineCounter();
  readonly #doc: Document.Parsed;
  readonly #r: Report;
  readonly #walker: Walker;
  readonly #env: (name: string) => string | undefined;
  readonly #baseDir: string;
  readonly #checkFiles: boolean;
  readonly #now: Date;
  readonly #backfillStarted?: (config: Config, input: string) => boolean;

  readonly #text: string;

  constructor(text: string, options: LoadOptions) {
    this.#text = text;
    this.#doc = parseDocument(text, {
      lineCounter: this.#lc,
      prettyErrors: false,
      uniqueKeys: true,
    });
    this.#r = new Report(this.#lc);
    this.#env = options.env ?? ((n) => Deno.env.get(n));
    this.#baseDir = options.baseDir ?? Deno.cwd();
    this.#checkFiles = options.checkFiles ?? true;
    this.#now = options.now?.() ?? new Date();
    this.#backfillStarted = options.backfillStarted;
    this.#walker = new Walker(this.#r, this.#doc, {
      env: this.#env,
      baseDir: this.#baseDir,
      now: this.#now,
      keepTooOld: this.#backfillStarted !== undefined,
    });
  }

  /** Every mistake found, in line order once `run` returned. */
  get errors(): CollectorError[] {
    return this.#r.errors;
  }

  run(): Config | undefined {
    this.#syntax();
    if (this.errors.length > 0) return undefined;
    const root = this.#walker.deref(this.#doc.contents);
    if (!root || !isMap(root)) {
      const what = !root || (isScalar(root) && root.value === null)
        ? "is empty"
        : `is ${typeName(root)}`;
      this.#r.fail(
        "CONFIG_NOT_MAPPING",
        [],
        this.#r.line(root ?? undefined) ?? 1,
        `The configuration ${what}: it must be a mapping with globals, outputs and inputs sections`,
      );
      return undefined;
    }
    const raw = this.#walker.walkObject(root, SCHEMA, [], 1) as Raw;
    // Relations compare values, so they wait for every value to have its form; the files named
    // by the values that do are checked at once, so that every mistake is reported together.
    if (this.errors.length === 0) checkRelations(this.#r, raw);
    if (this.#checkFiles) {
      const named = { outputs: this.#outputs(raw), inputs: this.#inputs(raw) };
      checkFiles(this.#r, named, { now: this.#now, env: this.#env });
    }
    this.#r.errors.sort((a, b) => (lineOfError(a) ?? 0) - (lineOfError(b) ?? 0));
    if (this.errors.length > 0) return undefined;
    const config = this.#build(raw);
    for (const old of this.#walker.tooOld) {
      const name = String(old.path[1]);
      // A disabled input does not backfill; an enabled one may have begun already.
      if (!config.inputs.some((i) => i.name === name)) continue;
      if (!this.#begun(config, name)) {
        this.#r.fail("CONFIG_HISTORICAL_TOO_OLD", old.path, old.line, old.what);
      }
    }
    this.#r.errors.sort((a, b) => (lineOfError(a) ?? 0) - (lineOfError(b) ?? 0));
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

  #syntax(): void {
    const errs = this.#doc.errors;
    let other = false;
    for (const err of errs) {
      const pos = this.#lc.linePos(err.pos[0]);
      const at = `(line ${pos.line}, column ${pos.col})`;
      if (err.code === "DUPLICATE_KEY") {
        const key = keyAt(this.#doc.contents, err.pos[0]);
        this.#r.errors.push(
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
        const blame = blameSyntax(this.#text, pos.line);
        const first = err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
        this.#r.errors.push(
          blame
            ? new CollectorError(
              "CONFIG_YAML",
              `Configuration is not valid YAML: ${blame.what} (line ${blame.line}, column ${blame.column})`,
              { context: { line: blame.line, column: blame.column } },
            )
            : new CollectorError(
              "CONFIG_YAML",
              `Configuration is not valid YAML: ${first}${yamlHint(err.code)} ${at}`,
              { context: { line: pos.line, column: pos.col } },
            ),
        );
      }
    }
  }

  // ---- building the typed configuration -------------------------------------------------------

  #abs(p: string | undefined): string | undefined {
    return p === undefined ? undefined : isAbsolute(p) ? p : resolve(this.#baseDir, p);
  }

  #outputs(raw: Raw): OutputConfig[] {
    return Object.entries((raw.outputs ?? {}) as Record<string, Raw>).map(([name, o]) => {
      const c = (o.config ?? {}) as Raw;
      return {
        ...c,
        name,
        type: o.type,
        chain: this.#abs(c.chain as string | undefined),
        cert: this.#abs(c.cert as string | undefined),
        key: this.#abs(c.key as string | undefined),
      } as unknown as OutputConfig;
    });
  }

  /** The enabled inputs, with their paths made absolute. */
  #inputs(raw: Raw): InputConfig[] {
    return Object.entries((raw.inputs ?? {}) as Record<string, Raw>)
      .filter(([, i]) => i.enabled !== false)
      .map(([name, i]) => ({
        ...i,
        name,
        directory: this.#abs(i.directory as string | undefined),
        ca_bundle: this.#abs(i.ca_bundle as string | undefined),
        // Notifications may name the input's own bucket only, unless configured otherwise.
        allowed_buckets: i.allowed_buckets ?? (i.bucket !== undefined ? [i.bucket] : undefined),
      } as unknown as InputConfig));
  }

  #build(raw: Raw): Config {
    const globals = raw.globals as Raw & { persistence: Raw };
    const outputs = this.#outputs(raw);
    const inputs = this.#inputs(raw);
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
}

export { closest, parseRfc3339 } from "./_util.ts";
