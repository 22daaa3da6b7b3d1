/**
 * Loads a YAML configuration file: parses it, replaces `${VAR}` from the environment, validates
 * every value against the schema table, applies defaults and returns a frozen {@link Config}.
 * Every mistake is a `SetupError` naming the YAML path, the line and the value (secrets masked).
 * @module
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Node as YamlNode } from "yaml";
import { dirname, isAbsolute, resolve } from "node:path";
import { CollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { SCHEMA } from "./schema.ts";
import type { ListSpec, MapSpec, ObjectSpec, ScalarSpec, Spec } from "./schema.ts";
import type { Config, InputConfig, OutputConfig } from "./types.ts";

/** Options for {@link loadConfig} and {@link parseConfig}. */
export interface LoadOptions {
  /** Environment used for `${VAR}`; defaults to the process environment. */
  env?: (name: string) => string | undefined;
  /** Directory relative paths are resolved against; defaults to the config file's directory. */
  baseDir?: string;
  /** Check that certificate files exist and are PEM (default true). */
  checkFiles?: boolean;
}

/** Reads and validates the configuration file at `path`. */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new CollectorError("CONFIG_UNREADABLE", `Cannot read configuration file ${path}`, {
      cause: e,
      context: { path },
    });
  }
  return parseConfig(text, { baseDir: dirname(resolve(path)), ...options });
}

interface Ctx {
  lc: LineCounter;
  env: (name: string) => string | undefined;
}

/** Validates configuration `text` (YAML) and returns the frozen configuration. */
export function parseConfig(text: string, options: LoadOptions = {}): Config {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const pos = err.linePos?.[0] ?? lc.linePos(err.pos[0]);
    const where = pos ? ` (line ${pos.line}, column ${pos.col})` : "";
    throw new CollectorError(
      "CONFIG_YAML",
      `Configuration is not valid YAML: ${err.message.split("\n")[0]}${where}`,
      { context: { line: pos?.line, column: pos?.col } },
    );
  }
  const ctx: Ctx = { lc, env: options.env ?? ((n) => Deno.env.get(n)) };
  const root = doc.contents;
  if (!root || !isMap(root)) {
    throw new CollectorError(
      "CONFIG_TYPE",
      "The configuration must be a mapping with globals, outputs and inputs",
    );
  }
  const raw = walk(ctx, root, SCHEMA, []) as Record<string, unknown>;
  const baseDir = options.baseDir ?? Deno.cwd();
  const config = finish(ctx, doc, raw, baseDir, options.checkFiles ?? true);
  return deepFreeze(config);
}

function lineOf(ctx: Ctx, node: YamlNode | null | undefined): number | undefined {
  const offset = node?.range?.[0];
  return offset === undefined ? undefined : ctx.lc.linePos(offset).line;
}

function fail(
  code: ErrorCode,
  ctx: Ctx,
  node: YamlNode | null | undefined,
  path: readonly string[],
  what: string,
): never {
  const line = lineOf(ctx, node);
  const p = path.join(".");
  throw new CollectorError(code, `${p} ${what}${line ? ` (line ${line})` : ""}`, {
    context: { path: p, line },
  });
}

function shown(spec: ScalarSpec | ListSpec, value: unknown): string {
  if ("secret" in spec && spec.secret) return '"****"';
  return JSON.stringify(value);
}

function typeName(node: YamlNode): string {
  if (isMap(node)) return "an object";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return "empty";
    if (typeof v === "number") return Number.isInteger(v) ? "an integer" : "a number";
    return `a ${typeof v}`;
  }
  return "something else";
}

const ARTICLE: Record<string, string> = {
  string: "a string",
  integer: "an integer",
  boolean: "a boolean",
  enum: "a string",
  list: "a list",
  object: "an object",
  map: "an object",
};

function walk(
  ctx: Ctx,
  node: YamlNode | null,
  spec: Spec,
  path: string[],
  keyNode?: YamlNode,
): unknown {
  if (node === null || (isScalar(node) && node.value === null)) return undefined;
  switch (spec.kind) {
    case "object":
      return walkObject(ctx, node, spec, path, keyNode);
    case "map":
      return walkMap(ctx, node, spec, path);
    case "list":
      return walkList(ctx, node, spec, path);
    default:
      return walkScalar(ctx, node, spec, path);
  }
}

function walkObject(
  ctx: Ctx,
  node: YamlNode,
  spec: ObjectSpec,
  path: string[],
  keyNode?: YamlNode,
) {
  if (!isMap(node)) {
    fail("CONFIG_TYPE", ctx, node, path, `must be an object: got ${typeName(node)}`);
  }
  const out: Record<string, unknown> = {};
  for (const pair of node.items) {
    const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
    const child = spec.fields[key];
    if (!child) {
      const hint = closest(key, Object.keys(spec.fields));
      fail(
        "CONFIG_UNKNOWN_KEY",
        ctx,
        pair.key as YamlNode,
        [...path, key],
        `is not a known setting${hint ? `: did you mean ${[...path, hint].join(".")}?` : ""}`,
      );
    }
    out[key] = walk(
      ctx,
      pair.value as YamlNode | null,
      child,
      [...path, key],
      pair.key as YamlNode,
    );
  }
  for (const [key, child] of Object.entries(spec.fields)) {
    if (out[key] === undefined && "default" in child && child.default !== undefined) {
      out[key] = child.default;
    }
    if (out[key] === undefined && child.kind === "object") {
      out[key] = walk(ctx, emptyMap(node), child, [...path, key]);
    }
    if (out[key] === undefined && child.required) {
      fail("CONFIG_MISSING", ctx, keyNode ?? node, [...path, key], "is required but missing");
    }
  }
  return out;
}

function emptyMap(near: YamlNode): YamlNode {
  // A stand-in node at the parent's position, so defaults of nested objects apply.
  const doc = parseDocument("{}");
  const m = doc.contents as YamlNode;
  m.range = near.range;
  return m;
}

function walkMap(ctx: Ctx, node: YamlNode, spec: MapSpec, path: string[]) {
  if (!isMap(node)) {
    fail("CONFIG_TYPE", ctx, node, path, `must be an object: got ${typeName(node)}`);
  }
  const out: Record<string, unknown> = {};
  for (const pair of node.items) {
    const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
    const value = (pair.value as YamlNode | null) ?? emptyMap(pair.key as YamlNode);
    out[key] = walk(ctx, value, spec.value, [...path, key], pair.key as YamlNode) ?? {};
  }
  return out;
}

function walkList(ctx: Ctx, node: YamlNode, spec: ListSpec, path: string[]) {
  if (!isSeq(node)) fail("CONFIG_TYPE", ctx, node, path, `must be a list: got ${typeName(node)}`);
  return node.items.map((item, i) => {
    const p = [...path, String(i)];
    if (!isScalar(item) || typeof item.value !== "string") {
      fail("CONFIG_TYPE", ctx, item as YamlNode, p, "must be a string");
    }
    const v = substitute(ctx, item, p, item.value as string);
    if (spec.pattern && !spec.pattern.re.test(v)) {
      fail(
        "CONFIG_PATTERN",
        ctx,
        item,
        p,
        `must be ${spec.pattern.form}: got ${JSON.stringify(v)}`,
      );
    }
    return v;
  });
}

function substitute(ctx: Ctx, node: YamlNode, path: string[], value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = ctx.env(name);
    if (v === undefined) {
      fail(
        "CONFIG_ENV",
        ctx,
        node,
        path,
        `refers to environment variable ${name}, which is not set`,
      );
    }
    return v;
  });
}

function walkScalar(ctx: Ctx, node: YamlNode, spec: ScalarSpec, path: string[]): unknown {
  const want = ARTICLE[spec.kind]!;
  if (!isScalar(node)) {
    fail("CONFIG_TYPE", ctx, node, path, `must be ${want}: got ${typeName(node)}`);
  }
  let value = node.value;
  if (typeof value === "string") value = substitute(ctx, node, path, value);
  // A value that came from ${VAR} is text; accept digits and true/false for numbers and booleans.
  const fromEnv = typeof node.value === "string" && /\$\{/.test(node.value);
  switch (spec.kind) {
    case "integer": {
      if (fromEnv && typeof value === "string" && /^-?\d+$/.test(value)) value = Number(value);
      if (typeof value !== "number" || !Number.isInteger(value)) {
        fail("CONFIG_TYPE", ctx, node, path, `must be an integer: got ${shown(spec, value)}`);
      }
      if (
        (spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)
      ) {
        fail(
          "CONFIG_RANGE",
          ctx,
          node,
          path,
          `must be between ${spec.min} and ${spec.max}: got ${value}`,
        );
      }
      return value;
    }
    case "boolean": {
      if (fromEnv && (value === "true" || value === "false")) value = value === "true";
      if (typeof value !== "boolean") {
        fail("CONFIG_TYPE", ctx, node, path, `must be true or false: got ${shown(spec, value)}`);
      }
      return value;
    }
    case "enum": {
      if (typeof value !== "string" || !spec.choices!.includes(value)) {
        fail(
          "CONFIG_RANGE",
          ctx,
          node,
          path,
          `must be one of ${spec.choices!.join(", ")}: got ${JSON.stringify(value)}`,
        );
      }
      return value;
    }
    default: {
      if (typeof value === "number" && !spec.pattern && !spec.secret) value = String(value);
      if (typeof value !== "string") {
        fail("CONFIG_TYPE", ctx, node, path, `must be a string: got ${typeName(node)}`);
      }
      if (value === "") return undefined;
      if (spec.pattern && !spec.pattern.re.test(value)) {
        fail(
          "CONFIG_PATTERN",
          ctx,
          node,
          path,
          `must be ${spec.pattern.form}: got ${shown(spec, value)}`,
        );
      }
      return value;
    }
  }
}

function finish(
  ctx: Ctx,
  doc: ReturnType<typeof parseDocument>,
  raw: Record<string, unknown>,
  baseDir: string,
  checkFiles: boolean,
): Config {
  // The key node of `path` (the line an operator looks at), else the value node.
  const at = (path: string[]): YamlNode | undefined => {
    const parent = path.length > 1 ? doc.getIn(path.slice(0, -1), true) : doc.contents;
    if (parent && isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === path.at(-1));
      if (pair) return pair.key as YamlNode;
    }
    return undefined;
  };
  const abs = (
    p: string | undefined,
  ) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(baseDir, p));
  const globals = raw.globals as Config["globals"];
  const persistence = globals.persistence;

  const outputs: OutputConfig[] = [];
  for (const [name, o] of Object.entries(raw.outputs as Record<string, Record<string, unknown>>)) {
    const path = ["outputs", name];
    const type = o.type as OutputConfig["type"];
    const c = (o.config ?? {}) as Record<string, unknown>;
    const needed = type === "devo_platform"
      ? ["address", "port", "chain", "cert", "key"]
      : type === "relay"
      ? ["address", "port"]
      : [];
    for (const k of needed) {
      if (c[k] === undefined) {
        fail(
          "CONFIG_MISSING",
          ctx,
          at([...path, "config"]) ?? at(path),
          [...path, "config", k],
          "is required for output type " + type,
        );
      }
    }
    const files: Record<string, string | undefined> = {};
    for (const k of ["chain", "cert", "key"] as const) {
      files[k] = abs(c[k] as string | undefined);
      if (type === "devo_platform" && checkFiles) {
        checkPem(ctx, at([...path, "config", k]), [...path, "config", k], files[k]!);
      }
    }
    outputs.push({ ...(c as object), name, type, ...files } as OutputConfig);
  }
  if (outputs.length === 0) {
    throw new CollectorError("CONFIG_NO_OUTPUT", "outputs must name at least one output");
  }

  const inputs: InputConfig[] = [];
  for (const [name, i] of Object.entries(raw.inputs as Record<string, Record<string, unknown>>)) {
    const path = ["inputs", name];
    const input = { ...i, name, directory: abs(i.directory as string | undefined) } as InputConfig;
    if (!input.enabled) continue;
    if (input.type === "security_lake") {
      const creds = input.credentials;
      const checks: [string[], unknown][] = [
        [["credentials", "aws_access_key_id"], creds.aws_access_key_id],
        [["credentials", "aws_secret_access_key"], creds.aws_secret_access_key],
        [["region"], input.region],
        [["queue_name"], input.queue_name ?? input.queue_url],
      ];
      for (const [p, v] of checks) {
        if (v === undefined) {
          fail(
            "CONFIG_MISSING",
            ctx,
            at([...path, ...p.slice(0, -1)]) ?? at(path),
            [...path, ...p],
            "is required but missing",
          );
        }
      }
    } else if (input.directory === undefined) {
      fail(
        "CONFIG_MISSING",
        ctx,
        at(path),
        [...path, "directory"],
        "is required for input type directory",
      );
    }
    inputs.push(input);
  }
  if (inputs.length === 0) {
    throw new CollectorError("CONFIG_NO_INPUT", "inputs must contain at least one enabled input");
  }
  return {
    globals: {
      ...globals,
      persistence: { ...persistence, directory_name: abs(persistence.directory_name)! },
    },
    outputs,
    inputs,
  };
}

function checkPem(ctx: Ctx, node: YamlNode | undefined, path: string[], file: string) {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "does not exist" : "cannot be read";
    fail("CONFIG_FILE", ctx, node, path, `names ${file}, which ${why}`);
  }
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text)) {
    fail("CONFIG_FILE", ctx, node, path, `names ${file}, which is not a PEM file`);
  }
}

/** The known key closest to `key` by edit distance, when close enough to be a typo. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object") {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
