/**
 * Configuration dumps for logs and `seclake check --json`: a copy of the configuration in which
 * every secret or masked setting (as declared in the schema table) is replaced by `****`.
 * @module
 */
import { isMasked, SCHEMA } from "./schema.ts";
import type { Spec } from "./schema.ts";
import type { Config } from "./types.ts";

/** What masked values are replaced with. */
export const MASKED = "****";

/** The keys whose values are masked in dumps: every secret or masked setting of the schema. */
export function maskedKeys(): ReadonlySet<string> {
  const keys = new Set<string>();
  const visit = (spec: Spec, key?: string) => {
    if (key !== undefined && isMasked(spec)) keys.add(key);
    if (spec.kind === "object") {
      for (const [k, s] of Object.entries(spec.fields)) visit(s, k);
    } else if (spec.kind === "map") visit(spec.value);
    else if (spec.kind === "objects") visit(spec.item);
  };
  visit(SCHEMA);
  return keys;
}

/** A deep, unfrozen copy of `config` with every masked setting replaced by {@link MASKED}. */
export function redactConfig(config: Config): Record<string, unknown> {
  const keys = maskedKeys();
  const copy = (v: unknown, key?: string): unknown => {
    if (key !== undefined && keys.has(key) && v !== undefined) return MASKED;
    if (Array.isArray(v)) return v.map((x) => copy(x));
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x, k)]));
    }
    return v;
  };
  return copy(config) as Record<string, unknown>;
}
