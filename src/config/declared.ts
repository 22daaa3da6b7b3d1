/**
 * The relations the schema declares beside an object's fields (`ObjectSpec.relations`): settings
 * required for a type, one of several required, settings that exclude or need each other, and
 * settings that apply to one method only. The relations pass checks them on each object.
 * @module
 */
import type { Path } from "./_util.ts";
import type { Report } from "./report.ts";
import { formatPath } from "./report.ts";
import { acceptsFile } from "./spec.ts";
import type { ObjectSpec, Relation, Spec, When } from "./spec.ts";
import type { Raw } from "./walk.ts";

/** Checks the relations `spec` declares on `raw`, the object at `path`. */
export function checkDeclared(r: Report, path: Path, spec: ObjectSpec, raw: Raw): void {
  for (const rel of spec.relations ?? []) checkOne(r, path, spec, raw, rel);
}

function checkOne(r: Report, path: Path, spec: ObjectSpec, raw: Raw, rel: Relation): void {
  const has = (field: string) => valueAt(raw, field) !== undefined;
  const at = (field: string): Path => [...path, ...field.split(".")];
  switch (rel.kind) {
    case "requiredFor": {
      if (!holds(raw, rel.when)) return;
      const value = String(raw[rel.when.key]);
      for (const field of rel.fields) {
        if (has(field)) continue;
        const fieldSpec = specAt(spec, field);
        if (rel.code === undefined) {
          const why = rel.label === undefined ? undefined : `is required for ${rel.label} ${value}`;
          r.missing(at(field), fieldSpec, r.lineNear(at(field)), why);
          continue;
        }
        const key = field.split(".").at(-1)!;
        const orFile = acceptsFile(fieldSpec) ? ` (or ${key}_file)` : "";
        r.fail(
          rel.code,
          at(field),
          r.lineNear([...path, rel.when.key]),
          `is required for ${rel.label} ${value}: add it, e.g. ${key}: ${fieldSpec.example}${orFile}`,
        );
      }
      return;
    }
    case "oneOf": {
      if (!holds(raw, rel.when) || rel.fields.some(has)) return;
      const [first, ...rest] = rel.fields as [string, ...string[]];
      r.fail(
        "CONFIG_MISSING",
        at(first),
        r.lineNear(at(first)),
        `is required (or ${rest.join(", or ")}): add it, e.g. ${first}: ${
          specAt(spec, first).example
        }`,
      );
      return;
    }
    case "conflicts": {
      const other = rel.with.find(has);
      if (!holds(raw, rel.when) || !has(rel.field) || other === undefined) return;
      r.fail(
        "CONFIG_CONFLICT",
        at(rel.field),
        r.lineNear(at(rel.field)),
        `cannot be given together with ${formatPath(at(other))}${rel.why ?? ""}: ${
          rel.fix ?? "keep one of the two"
        }`,
      );
      return;
    }
    case "needs":
      if (has(rel.needs)) return;
      for (const field of rel.fields) {
        if (!r.written(at(field))) continue;
        r.fail(
          "CONFIG_REQUIRES",
          at(field),
          r.lineNear(at(field)),
          `has no effect without ${formatPath(at(rel.needs))}: add ${rel.needs} or remove ${field}`,
        );
      }
      return;
    case "onlyFor": {
      const actual = raw[rel.key];
      for (const [field, only] of Object.entries(rel.fields)) {
        if (!r.written(at(field)) || actual === only) continue;
        r.fail(
          rel.code,
          at(field),
          r.lineNear(at(field)),
          `applies to ${rel.key} ${only} only, and this ${rel.noun}'s ${rel.key} is ${actual}: remove ${field} or change the ${rel.key}`,
        );
      }
      return;
    }
  }
}

function holds(raw: Raw, when: When | undefined): boolean {
  if (when === undefined) return true;
  const value = raw[when.key] as string | undefined;
  if (when.is !== undefined) return value !== undefined && when.is.includes(value);
  return value === undefined || !(when.not ?? []).includes(value);
}

function valueAt(raw: Raw, field: string): unknown {
  let v: unknown = raw;
  for (const k of field.split(".")) v = (v as Raw | undefined)?.[k];
  return v;
}

function specAt(spec: ObjectSpec, field: string): Spec {
  let s: Spec = spec;
  for (const k of field.split(".")) s = (s as ObjectSpec).fields[k]!;
  return s;
}
