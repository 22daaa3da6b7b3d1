/**
 * Turns hyparquet's assembled rows into OCSF JSON values, driven by the file's schema: every
 * LIST becomes an array whatever its physical layout (including the legacy two-level layouts
 * parquet-mr's Avro writer uses for Security Lake), MAP becomes an object, structs stay nested,
 * and null fields are left out; byte arrays without a text annotation are text when they are
 * UTF-8, else base64. The scalar policy comes from `transform/values.ts`.
 * @module
 */
import type { SchemaTree } from "hyparquet";
import { base64, scalar } from "../transform/values.ts";
import type { JsonValue } from "../transform/values.ts";

/** A converted event: an OCSF object. */
export type JsonObject = { [key: string]: JsonValue };

type Conv = (v: unknown) => JsonValue | undefined;

/**
 * Compiles the converter for a file whose schema root is `root`. It takes the decoded values
 * column by column (`columns[c][row]`, in schema order) and builds the event of one row.
 */
export function compileColumnConverter(
  root: SchemaTree,
): (columns: readonly (readonly unknown[])[], row: number) => JsonObject {
  const fields = root.children.map((c) => [c.element.name, convert(c)] as const);
  return (columns, row) => {
    const out: JsonObject = {};
    for (let i = 0; i < fields.length; i++) {
      const [name, conv] = fields[i]!;
      const v = conv(columns[i]![row]);
      if (v !== undefined && v !== null) out[name] = v;
    }
    return out;
  };
}

const isRepeated = (n: SchemaTree) => n.element.repetition_type === "REPEATED";

/** The converter for a value of node `n`, taking its own repetition into account. */
function convert(n: SchemaTree): Conv {
  const one = convertOne(n);
  return isRepeated(n) ? listOf(one) : one;
}

function listOf(element: Conv): Conv {
  return (v) => {
    if (v === null || v === undefined) return null;
    if (!Array.isArray(v)) return null;
    const out: JsonValue[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = element(v[i]) ?? null;
    return out;
  };
}

/** The converter for one (non-repeated) value of node `n`. */
function convertOne(n: SchemaTree): Conv {
  const ct = n.element.converted_type;
  const lt = n.element.logical_type?.type;
  if (n.children.length === 0) {
    return n.element.type === "BYTE_ARRAY" && ct === undefined && lt === undefined
      ? textOrBase64
      : scalar;
  }
  if ((ct === "LIST" || lt === "LIST") && n.children.length === 1) return convertList(n);
  if ((ct === "MAP" || ct === "MAP_KEY_VALUE" || lt === "MAP") && mapLike(n)) {
    return convertMap(n.children[0]!.children.find((c) => c.element.name === "value"));
  }
  return convertStruct(n);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * A byte array without a text annotation: text when its bytes are UTF-8 (writers that leave
 * strings unannotated), else base64, so that binary values arrive intact.
 */
function textOrBase64(v: unknown): JsonValue | undefined {
  if (!(v instanceof Uint8Array)) return scalar(v);
  try {
    return strictUtf8.decode(v);
  } catch {
    return base64(v);
  }
}

function mapLike(n: SchemaTree): boolean {
  const kv = n.children[0];
  return n.children.length === 1 && kv !== undefined && isRepeated(kv) &&
    kv.children.length === 2 && kv.children.some((c) => c.element.name === "key") &&
    kv.children.every((c) => !isRepeated(c));
}

/**
 * LIST, following the Parquet format's backward-compatibility rules:
 * - repeated child is a primitive: it is the element (two-level);
 * - repeated child is a group with several fields: the group is the element (two-level);
 *   hyparquet returns these as `{ <repeated name>: [...] }`;
 * - repeated group with one field named `array` or `<list>_tuple`: the group is the element
 *   (two-level); hyparquet returns the field's values, so each is wrapped again;
 * - otherwise the standard three-level `list`/`element` layout.
 */
function convertList(n: SchemaTree): Conv {
  const rep = n.children[0]!;
  if (!isRepeated(rep)) return convertStruct(n);
  if (rep.children.length === 0) return listOf(scalar);
  if (rep.children.length > 1) {
    const element = listOf(convertStruct(rep));
    const key = rep.element.name;
    return (v) => {
      if (v === null || v === undefined) return null;
      if (Array.isArray(v)) return element(v);
      return element((v as Record<string, unknown>)[key]);
    };
  }
  const only = rep.children[0]!;
  const legacy = rep.element.name === "array" || rep.element.name === `${n.element.name}_tuple`;
  if (legacy) {
    const inner = convert(only);
    const name = only.element.name;
    return listOf((x) => {
      const obj: JsonObject = {};
      const v = inner(x);
      if (v !== undefined && v !== null) obj[name] = v;
      return obj;
    });
  }
  return listOf(convert(only));
}

function convertMap(valueNode: SchemaTree | undefined): Conv {
  const value = valueNode ? convert(valueNode) : scalar;
  return (v) => {
    if (v === null || v === undefined || typeof v !== "object") return null;
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const c = value(x);
      if (c !== undefined && c !== null) out[k] = c;
    }
    return out;
  };
}

function convertStruct(n: SchemaTree): Conv {
  const fields = n.children.map((c) => [c.element.name, convert(c)] as const);
  return (v) => {
    if (v === null || v === undefined || typeof v !== "object") return null;
    const src = v as Record<string, unknown>;
    const out: JsonObject = {};
    for (const [name, conv] of fields) {
      const c = conv(src[name]);
      if (c !== undefined && c !== null) out[name] = c;
    }
    return out;
  };
}
