/**
 * Pass 2 of loading a configuration: every value against the schema table. Types, ranges,
 * patterns, choices, `${VAR}` substitution, `*_file` secrets, unknown keys (with "did you
 * mean"), defaults; the result is the raw tree the later passes read.
 * @module
 */
import { isMap, isScalar, isSeq } from "yaml";
import { isAlias } from "yaml";
import type { Document, Node as YamlNode, Pair } from "yaml";
import { isAbsolute, resolve } from "node:path";
import { closest, fileProblem, fill, isNull, placesOf, typeName } from "./_util.ts";
import type { Path } from "./_util.ts";
import { formatPath } from "./report.ts";
import type { Report } from "./report.ts";
import { acceptsFile } from "./schema.ts";
import type {
  ListSpec,
  MapSpec,
  ObjectListSpec,
  ObjectSpec,
  Pattern,
  ScalarSpec,
  Spec,
} from "./schema.ts";

/** A configuration tree as walked: plain objects, lists and scalars. */
export type Raw = Record<string, unknown>;

/** An object's values walked so far, the keys written, and the keys whose value was refused. */
interface Seen {
  out: Raw;
  given: Set<string>;
  invalid: Set<string>;
}

/** What the walk needs besides the document. */
export interface WalkOptions {
  env: (name: string) => string | undefined;
  /** Folder relative `*_file` paths are read from. */
  baseDir: string;
  /** The time date-times are judged at. */
  now: Date;
  /** Keep `historical_poll_datetime` values older than allowed in {@link Walker.tooOld}. */
  keepTooOld: boolean;
}

import { ScalarChecks } from "./scalar_checks.ts";
import type { TooOld } from "./scalar_checks.ts";

/** Pass 2 (see the module). */
export class Walker {
  readonly #r: Report;
  readonly #doc: Document.Parsed;
  readonly #o: WalkOptions;
  readonly #scalars: ScalarChecks;

  constructor(report: Report, doc: Document.Parsed, options: WalkOptions) {
    this.#r = report;
    this.#doc = doc;
    this.#o = options;
    this.#scalars = new ScalarChecks(report, options);
  }

  /** `historical_poll_datetime` values older than allowed, decided once the config is built. */
  get tooOld(): readonly TooOld[] {
    return this.#scalars.tooOld;
  }

  /** `node`, or the node an alias in it names. */
  deref(node: unknown): YamlNode | undefined {
    let n = node as YamlNode | null | undefined;
    for (let i = 0; i < 16 && n && isAlias(n); i++) n = n.resolve(this.#doc) as YamlNode;
    return n ?? undefined;
  }

  #walk(node: YamlNode | undefined, spec: Spec, path: Path, keyLine?: number): unknown {
    switch (spec.kind) {
      case "object":
        return this.walkObject(node, spec, path, keyLine);
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

  /** Walks a mapping against an object spec; the root is walked with `SCHEMA` and path `[]`. */
  walkObject(
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
      this.#r.fail(
        "CONFIG_TYPE",
        path,
        this.#r.line(node),
        `must be an object (a mapping of settings): got ${typeName(node)}`,
      );
      return undefined;
    }
    const seen: Seen = { out: {}, given: new Set(), invalid: new Set() };
    for (const pair of node?.items ?? []) this.#walkPair(pair, spec, path, seen);
    this.#fillAbsent(spec, path, seen, keyLine ?? this.#r.line(node));
    return seen.out;
  }

  /** Walks one `key: value` of a mapping: a field, a field's `_file` form, or an unknown key. */
  #walkPair(pair: Pair, spec: ObjectSpec, path: Path, seen: Seen): void {
    const { out, given, invalid } = seen;
    const keyNode = pair.key as YamlNode;
    const key = String(isScalar(keyNode) ? keyNode.value : keyNode);
    const valueNode = this.deref(pair.value);
    const line = this.#r.line(keyNode);
    const child = spec.fields[key];
    if (child) {
      if (given.has(key)) {
        this.#r.conflict(path, key, `${key}_file`, line);
        return;
      }
      given.add(key);
      this.#r.where.set(formatPath([...path, key]), {
        keyLine: line,
        valueLine: this.#r.line(valueNode),
      });
      const before = this.#r.errors.length;
      out[key] = this.#walk(valueNode, child, [...path, key], line);
      if (this.#r.errors.length > before) invalid.add(key);
      return;
    }
    const base = key.endsWith("_file") ? key.slice(0, -5) : undefined;
    const baseSpec = base === undefined ? undefined : spec.fields[base];
    if (base !== undefined && baseSpec && acceptsFile(baseSpec)) {
      if (given.has(base)) {
        this.#r.conflict(path, base, key, line);
        return;
      }
      given.add(base);
      this.#r.where.set(formatPath([...path, base]), {
        keyLine: line,
        valueLine: this.#r.line(valueNode),
      });
      const before = this.#r.errors.length;
      out[base] = this.#fromFile(valueNode, baseSpec as ScalarSpec, [...path, key], [
        ...path,
        base,
      ]);
      if (this.#r.errors.length > before) invalid.add(base);
      return;
    }
    this.#r.fail("CONFIG_UNKNOWN_KEY", [...path, key], line, this.#unknown(key, spec, path));
  }

  /** Fills the defaults of the fields not written, and reports required ones that are absent. */
  #fillAbsent(spec: ObjectSpec, path: Path, seen: Seen, line: number | undefined): void {
    const { out, given, invalid } = seen;
    for (const [key, child] of Object.entries(spec.fields)) {
      if (out[key] !== undefined || invalid.has(key)) continue;
      if (child.kind !== "object" && child.kind !== "map" && child.kind !== "objects") {
        if (child.kind !== "list" && child.default !== undefined) out[key] = child.default;
      } else if (child.kind === "object" && !child.optional) {
        out[key] = this.walkObject(undefined, child, [...path, key]);
      } else if (child.kind === "objects") {
        out[key] = [];
      }
      if (out[key] === undefined && child.required) {
        this.#r.missing(
          [...path, key],
          child,
          this.#r.where.get(formatPath([...path, key]))?.keyLine ?? line,
          given.has(key) ? "is empty" : undefined,
        );
      }
    }
  }

  #unknown(key: string, spec: ObjectSpec, path: Path): string {
    const known = Object.entries(spec.fields).flatMap(([k, s]) =>
      acceptsFile(s) ? [k, `${k}_file`] : [k]
    );
    // A typo, or a key written without the word that completes it (endpoint for endpoint_url).
    const near = closest(key, known) ??
      known.filter((k) => k.startsWith(`${key}_`) || k.endsWith(`_${key}`))
        .sort((a, b) => a.length - b.length)[0];
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
    const line = this.#r.line(node);
    const abs = isAbsolute(file) ? file : resolve(this.#o.baseDir, file);
    let text: string;
    try {
      text = Deno.readTextFileSync(abs);
    } catch (e) {
      const [code, why] = fileProblem(e);
      this.#r.fail(code, filePath, line, `names ${abs}, which ${why}`);
      return undefined;
    }
    const value = text.replace(/\r?\n$/, "");
    if (value.trim() === "") {
      this.#r.fail(
        "CONFIG_FILE_EMPTY",
        filePath,
        line,
        `names ${abs}, which is empty: write the value of ${formatPath(basePath)} into it`,
      );
      return undefined;
    }
    return this.#scalars.check(value, true, spec, basePath, line, `${abs}`);
  }

  #walkMap(node: YamlNode | undefined, spec: MapSpec, path: Path): Raw | undefined {
    if (isNull(node)) return undefined;
    if (!isMap(node)) {
      this.#r.fail(
        "CONFIG_TYPE",
        path,
        this.#r.line(node),
        `must be an object (a mapping of names to settings): got ${typeName(node!)}`,
      );
      return undefined;
    }
    const out: Raw = {};
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      const key = String(isScalar(keyNode) ? keyNode.value : keyNode);
      const line = this.#r.line(keyNode);
      const valueNode = this.deref(pair.value);
      this.#r.where.set(formatPath([...path, key]), {
        keyLine: line,
        valueLine: this.#r.line(valueNode),
      });
      if (spec.key) this.#checkKey(key, spec.key, [...path, key], line);
      const value = this.#walk(valueNode, spec.value, [...path, key], line);
      if (value !== undefined) out[key] = value;
      else if (isNull(valueNode) && spec.value.kind === "object") {
        out[key] = this.walkObject(undefined, spec.value, [...path, key], line);
      } else if (isNull(valueNode)) {
        this.#r.missing([...path, key], spec.value, line, "has no value");
      }
    }
    return out;
  }

  #checkKey(key: string, pattern: Pattern, path: Path, line: number | undefined): void {
    if (!pattern.re.test(key)) {
      this.#r.fail(
        pattern.code ?? "CONFIG_PATTERN",
        path,
        line,
        `is not a valid key: it must be ${pattern.form}`,
      );
    } else if (pattern.code === "CONFIG_SOURCE_NAME" && key !== "default") {
      this.#scalars.checkSource(key, path, line);
    }
  }

  #walkList(node: YamlNode | undefined, spec: ListSpec, path: Path): string[] | undefined {
    if (isNull(node)) return undefined;
    if (!isSeq(node)) {
      this.#r.fail(
        "CONFIG_TYPE",
        path,
        this.#r.line(node),
        `must be a list (written [a, b] or one "- item" per line): got ${typeName(node!)}`,
      );
      return undefined;
    }
    const out: string[] = [];
    node.items.forEach((item, i) => {
      const n = this.deref(item);
      this.#r.where.set(formatPath([...path, i]), { valueLine: this.#r.line(n) });
      if (isNull(n)) {
        this.#r.fail(
          "CONFIG_TYPE",
          [...path, i],
          this.#r.line(n) ?? this.#r.lineNear(path),
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
      this.#r.fail(
        "CONFIG_TYPE",
        path,
        this.#r.line(node),
        `must be a list of objects (one "- key: value" entry per item): got ${typeName(node!)}`,
      );
      return undefined;
    }
    const out: Raw[] = [];
    node.items.forEach((item, i) => {
      const n = this.deref(item);
      this.#r.where.set(formatPath([...path, i]), {
        valueLine: this.#r.line(n),
        keyLine: this.#r.line(n),
      });
      if (isNull(n)) {
        this.#r.fail(
          "CONFIG_TYPE",
          [...path, i],
          this.#r.line(n) ?? this.#r.lineNear(path),
          "must be an object: got nothing",
        );
        return;
      }
      const v = this.walkObject(n, spec.item, [...path, i], this.#r.line(n));
      if (v) out.push(v);
    });
    return out;
  }

  #walkScalar(node: YamlNode | undefined, spec: ScalarSpec, path: Path): unknown {
    if (isNull(node)) return undefined;
    const line = this.#r.line(node);
    if (!isScalar(node!)) {
      this.#r.fail(
        spec.typeCode ?? "CONFIG_TYPE",
        path,
        line,
        this.#scalars.typeMessage(spec, node!),
      );
      return undefined;
    }
    let value = node.value;
    let text = false;
    if (typeof value === "string") {
      const sub = this.#substitute(value, path, line);
      if (sub === undefined) return undefined;
      if (sub !== value) {
        text = true;
        this.#r.where.set(formatPath(path), {
          ...this.#r.where.get(formatPath(path)),
          fromEnv: [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!),
        });
      }
      value = sub;
    } else if (typeof value === "number" && (spec.kind === "string") && !spec.typeCode) {
      // An unquoted number where text is expected (ids, account ids): keep it as written.
      value = node.source ?? String(value);
    }
    return this.#scalars.check(value, text, spec, path, line);
  }

  #substitute(value: string, path: Path, line: number | undefined): string | undefined {
    let ok = true;
    const out = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = this.#o.env(name);
      if (v === undefined) {
        ok = false;
        this.#r.fail(
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
}
