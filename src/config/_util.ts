/**
 * Private helpers of the configuration loader: how values and types are described in messages,
 * sizes and dates parsed, file errors classified, and keys suggested.
 * @module
 */
import { isMap, isScalar, isSeq } from "yaml";
import type { Node as YamlNode } from "yaml";
import type { CollectorError, ErrorCode } from "../errors.ts";
import { SCHEMA } from "./schema.ts";
import type { ScalarSpec, Spec } from "./schema.ts";

/** A YAML path: keys and list indexes. */
export type Path = readonly (string | number)[];

const SECONDS = 1000;
/** Milliseconds in a day. */
export const DAY = 86_400 * SECONDS;
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** The line an error was reported at, for sorting. */
export function lineOfError(e: CollectorError): number | undefined {
  const l = e.context.line;
  return typeof l === "number" ? l : undefined;
}

/** Whether a YAML value is absent or empty (`key:` with nothing after it). */
export function isNull(node: YamlNode | undefined | null): boolean {
  return node === undefined || node === null || (isScalar(node) && node.value === null);
}

/** The mapping key whose text covers `offset`, for duplicate-key messages. */
export function keyAt(root: unknown, offset: number): string | undefined {
  let found: string | undefined;
  const visit = (n: unknown) => {
    if (found !== undefined || !n) return;
    if (isMap(n)) {
      for (const p of n.items) {
        const k = p.key as YamlNode;
        if (isScalar(k) && k.range && k.range[0] <= offset && offset <= k.range[1]) {
          found = String(k.value);
          return;
        }
        visit(p.value);
      }
    } else if (isSeq(n)) n.items.forEach(visit);
  };
  visit(root);
  return found;
}

/** A hint for a YAML parser error code, starting with ": ", or "". */
export function yamlHint(code: string): string {
  switch (code) {
    case "TAB_AS_INDENT":
      return ": indent with spaces, not tabs";
    case "BAD_INDENT":
    case "MISSING_CHAR":
      return ": check the indentation and the colons of the lines above";
    case "BLOCK_AS_IMPLICIT_KEY":
      return ": a key is probably missing its colon, or a value its quotes";
    case "MULTILINE_IMPLICIT_KEY":
      return ": a quote or bracket is probably not closed";
    default:
      return "";
  }
}

/** How a YAML node's type is named in messages: "a list", "an object", or its value. */
export function typeName(node: YamlNode): string {
  if (isMap(node)) return "an object";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) return describe(node.value);
  return "something else";
}

/** A type name with its article: "a string", "an object". */
export function article(t: string): string {
  return t === "object" ? "an object" : t === "undefined" ? "nothing" : `a ${t}`;
}

/** How a received value is shown in a message (never used for masked settings). */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (typeof v === "string") {
    return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  }
  if (typeof v === "number") return Number.isInteger(v) ? `${v} (an integer)` : `${v} (a number)`;
  if (typeof v === "boolean") return `${v} (a boolean)`;
  if (Array.isArray(v)) return "a list";
  return article(typeof v);
}

/** The allowed range of an integer setting, completing "must be ...". */
export function rangeText(spec: ScalarSpec): string {
  const u = spec.unit === "bytes" ? "" : spec.unit ? ` ${spec.unit}` : "";
  const f = (n: number) => (spec.unit === "bytes" ? exactSize(n) : String(n));
  if (spec.min !== undefined && spec.max !== undefined) {
    return `between ${f(spec.min)} and ${f(spec.max)}${u}`;
  }
  if (spec.min !== undefined) return `at least ${f(spec.min)}${u}`;
  return `at most ${f(spec.max!)}${u}`;
}

/** A received number as shown next to a range (bytes also in binary units). */
export function amount(n: number, spec: ScalarSpec): string {
  return spec.unit === "bytes" ? `${exactSize(n)} (${n} bytes)` : String(n);
}

/** `8 MiB`, `1 GiB`, `1536 bytes`: exact binary units where they fit. */
export function exactSize(n: number): string {
  for (
    const [u, size] of [["TiB", 1024 ** 4], ["GiB", 1024 ** 3], ["MiB", 1024 ** 2], [
      "KiB",
      1024,
    ]] as const
  ) {
    if (n >= size && n % size === 0) return `${n / size} ${u}`;
  }
  return `${n} bytes`;
}

/** Bytes of a size such as `8MiB` or `512 KiB`, or undefined when it is not one. */
export function parseSize(s: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]iB|B)\s*$/i.exec(s);
  if (!m) return undefined;
  const n = Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  return Number.isInteger(n) ? n : Math.round(n);
}

/** A hint for a common mistake behind a pattern mismatch, starting with "; ", or "". */
export function patternHint(code: ErrorCode | undefined, v: string): string {
  if (code === "CONFIG_QUEUE_NAME" && /^https?:\/\//.test(v)) return "; a URL goes in queue_url";
  if (code === "CONFIG_QUEUE_NAME" && v.startsWith("arn:")) {
    return `; an ARN goes in queue_arn (the name is the part after the last colon: ${
      v.split(":").at(-1)
    })`;
  }
  if (code === "CONFIG_QUEUE_ARN" && /^https?:\/\//.test(v)) return "; a URL goes in queue_url";
  if (code === "CONFIG_ADDRESS" && /^[a-z]+:\/\//i.test(v)) return "; leave out the scheme";
  if (code === "CONFIG_ADDRESS" && /:\d+$/.test(v)) return "; put the port in port";
  if (code === "CONFIG_REGION" && /^[a-z]{2}-[a-z]+-\d[a-z]$/.test(v)) {
    return `; that is an availability zone, the region is ${v.slice(0, -1)}`;
  }
  if (code === "CONFIG_BUCKET" && v.startsWith("s3://")) return "; leave out s3:// and any key";
  return "";
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/** Epoch milliseconds of an RFC 3339 date-time, or undefined when it is not one. */
export function parseRfc3339(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as number[];
  const day = new Date(Date.UTC(y!, mo! - 1, d!));
  if (
    day.getUTCFullYear() !== y || day.getUTCMonth() !== mo! - 1 || day.getUTCDate() !== d ||
    h! > 23 || mi! > 59 || se! > 59
  ) return undefined;
  if (m[9] && (Number(m[10]) > 23 || Number(m[11]) > 59)) return undefined;
  const ms = Date.parse(s.replace(" ", "T"));
  return Number.isNaN(ms) ? undefined : ms;
}

/** An RFC 3339 UTC time without milliseconds. */
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, "Z");
}

/** The catalogue code and the words for a failed file read. */
export function fileProblem(e: unknown): [ErrorCode, string] {
  if (e instanceof Deno.errors.NotFound) return ["CONFIG_FILE_MISSING", "does not exist"];
  if (e instanceof Deno.errors.PermissionDenied) {
    return ["CONFIG_FILE_UNREADABLE", "may not be read by this user"];
  }
  if (e instanceof Deno.errors.IsADirectory) {
    return ["CONFIG_FILE_UNREADABLE", "is a folder, not a file"];
  }
  return ["CONFIG_FILE_UNREADABLE", `cannot be read (${e instanceof Error ? e.message : e})`];
}

/** Every schema path template whose last key is `key`, e.g. `inputs.<name>.region`. */
export function placesOf(key: string): string[] {
  const out: string[] = [];
  const visit = (spec: Spec, path: string) => {
    if (spec.kind === "object") {
      for (const [k, s] of Object.entries(spec.fields)) {
        const p = path ? `${path}.${k}` : k;
        if (k === key) out.push(p);
        visit(s, p);
      }
    } else if (spec.kind === "map") visit(spec.value, `${path}.<name>`);
    else if (spec.kind === "objects") visit(spec.item, `${path}[]`);
  };
  visit(SCHEMA, "");
  return out;
}

/** Replaces `<name>` in a path template with the names of `path` where the two align. */
export function fill(template: string, path: Path): string {
  const t = template.split(".");
  for (let n = 0; n < t.length && n < path.length; n++) {
    if (t[n] === "<name>") t[n] = String(path[n]);
    else if (t[n] !== path[n]) break;
  }
  return t.join(".");
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

/** Levenshtein distance between two strings. */
export function distance(a: string, b: string): number {
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

/** A copy of `v` without undefined object fields. */
export function dropUndefined<T>(v: T): T {
  if (Array.isArray(v)) return v.map(dropUndefined) as T;
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, dropUndefined(x)]),
    ) as T;
  }
  return v;
}

/** Freezes `v` and everything in it; returns it. */
export function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object") {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
