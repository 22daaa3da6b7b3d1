/**
 * The kinds of node a configuration schema is made of (a scalar, a list, an object, a map of
 * named objects, a list of objects), the builders the schema table is written with, and what a
 * node says of its value (secret, masked, accepted from a file).
 * @module
 */
import type { ErrorCode } from "../errors.ts";

/** The form a string must have: a regular expression, its description, and the error it raises. */
export interface Pattern {
  readonly re: RegExp;
  /** What the form is, completing "must be ...", e.g. "an AWS region such as us-east-1". */
  readonly form: string;
  /** Catalogue code raised when a value does not match (default `CONFIG_PATTERN`). */
  readonly code?: ErrorCode;
}

/** Byte units for sizes in the schema. */
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Fields every node of the schema has. */
interface BaseSpec {
  /** One or two sentences for the docs; the first also appears in error messages. */
  readonly description: string;
  /** The setting must be given (checked wherever its parent is present). */
  readonly required?: boolean;
  /** An example value for messages and the example configuration (YAML text). */
  readonly example?: string;
  /** Shown commented out in `config.example.yaml` (an optional or alternative setting). */
  readonly exampleOnly?: boolean;
}

/** A scalar setting: text, a whole number, a boolean, one of a few words, or a date-time. */
export interface ScalarSpec extends BaseSpec {
  readonly kind: "string" | "integer" | "boolean" | "enum" | "datetime";
  readonly default?: string | number | boolean;
  /** Unit of a number, for docs and messages: `seconds` or `bytes` (which also accepts `8MiB`). */
  readonly unit?: "seconds" | "bytes";
  readonly min?: number;
  readonly max?: number;
  /** Form a string must have. */
  readonly pattern?: Pattern;
  /** The allowed words of an `enum`. */
  readonly choices?: readonly string[];
  /** Secret: masked in messages and dumps, and also accepted as `<key>_file`. */
  readonly secret?: boolean;
  /** Not secret, but masked in messages and dumps anyway (for example an external id). */
  readonly masked?: boolean;
  /** Also accepted as `<key>_file`: the path of a file holding the value (secrets imply it). */
  readonly file?: boolean;
  /** Catalogue code for a value of the wrong type (default `CONFIG_TYPE`). */
  readonly typeCode?: ErrorCode;
  /** A string list item must compile as a JavaScript regular expression. */
  readonly regex?: boolean;
  /** A `datetime` must not lie further back than this many days. */
  readonly maxAgeDays?: number;
}

/** A list of strings, each checked against `item`. */
export interface ListSpec extends BaseSpec {
  readonly kind: "list";
  readonly item: ScalarSpec;
}

/** A condition on a sibling setting: its value is (or is not) one of a few words. */
export interface When {
  readonly key: string;
  readonly is?: readonly string[];
  readonly not?: readonly string[];
}

/**
 * A relation between the fields of one object, declared beside them and checked by the relations
 * pass once every value has its form. Fields may be dotted (`config.address`).
 */
export type Relation =
  /** Each of `fields` must be given when `when` holds: "is required for <label> <value>". */
  | {
    readonly kind: "requiredFor";
    readonly fields: readonly string[];
    readonly when: When;
    /** Names the condition in messages, e.g. `output type`; absent: a plain "is required". */
    readonly label?: string;
    /** Reported with this code at the condition's line, rather than as a missing setting. */
    readonly code?: ErrorCode;
  }
  /** At least one of `fields` must be given when `when` holds. */
  | { readonly kind: "oneOf"; readonly fields: readonly string[]; readonly when?: When }
  /** `field` cannot be given with any of `with` (the message names the first one given). */
  | {
    readonly kind: "conflicts";
    readonly field: string;
    readonly with: readonly string[];
    readonly when?: When;
    /** Completes "cannot be given together with X", e.g. `, which already names the account`. */
    readonly why?: string;
    /** What to do instead of the default "keep one of the two". */
    readonly fix?: string;
  }
  /** Each of `fields` has no effect without `needs`. */
  | { readonly kind: "needs"; readonly fields: readonly string[]; readonly needs: string }
  /** Each field applies to one value of `key` only (e.g. `value` to method mask). */
  | {
    readonly kind: "onlyFor";
    readonly key: string;
    readonly fields: Readonly<Record<string, string>>;
    /** What the object is called in messages ("this rule's method"). */
    readonly noun: string;
    readonly code: ErrorCode;
  };

/** An object with a fixed set of keys. */
export interface ObjectSpec extends BaseSpec {
  readonly kind: "object";
  readonly fields: Readonly<Record<string, Spec>>;
  /** Relations between its fields (settings required for a type, settings that exclude others). */
  readonly relations?: readonly Relation[];
  /** When absent, the object stays absent (no defaults are filled in). */
  readonly optional?: boolean;
  /** Has the same keys as this sibling; the docs list them once, there. */
  readonly sameAs?: string;
}

/** An object whose keys are names chosen by the operator (outputs, inputs, a tag map). */
export interface MapSpec extends BaseSpec {
  readonly kind: "map";
  readonly value: Spec;
  /** Form the keys must have. */
  readonly key?: Pattern;
  /** The key used in the example configuration. */
  readonly exampleKey: string;
}

/** A list of objects of one shape (obfuscation rules). */
export interface ObjectListSpec extends BaseSpec {
  readonly kind: "objects";
  readonly item: ObjectSpec;
}

/** Any node of the schema. */
export type Spec = ScalarSpec | ListSpec | ObjectSpec | MapSpec | ObjectListSpec;

type Extra = Partial<Omit<ScalarSpec, "kind" | "description">>;

export const str = (description: string, extra: Extra = {}): ScalarSpec => ({
  kind: "string",
  description,
  ...extra,
});
export const int = (description: string, extra: Extra = {}): ScalarSpec => ({
  kind: "integer",
  description,
  ...extra,
});
export const bool = (description: string, dflt: boolean): ScalarSpec => ({
  kind: "boolean",
  description,
  default: dflt,
});
export const choice = (
  description: string,
  choices: readonly string[],
  extra: Extra = {},
): ScalarSpec => ({ kind: "enum", description, choices, ...extra });
/** An object's spec that keeps its field names in its type (see `types_test.ts`). */
export type ObjectOf<F extends Record<string, Spec>> = Omit<ObjectSpec, "fields"> & {
  readonly fields: F;
};

export const obj = <F extends Record<string, Spec>>(
  description: string,
  fields: F,
  extra: {
    required?: boolean;
    optional?: boolean;
    sameAs?: string;
    relations?: readonly Relation[];
  } = {},
): ObjectOf<F> => ({ kind: "object", description, fields, ...extra });
export const list = (
  description: string,
  item: ScalarSpec,
  extra: { example?: string; exampleOnly?: boolean } = {},
): ListSpec => ({
  kind: "list",
  description,
  item,
  ...extra,
});

/** Whether `spec` may also be given as `<key>_file`. */
export function acceptsFile(spec: Spec): boolean {
  return spec.kind !== "list" && spec.kind !== "object" && spec.kind !== "map" &&
    spec.kind !== "objects" && (spec.secret === true || spec.file === true);
}

/** Whether values of `spec` are masked in messages and dumps. */
export function isMasked(spec: Spec): boolean {
  return spec.kind !== "list" && spec.kind !== "object" && spec.kind !== "map" &&
    spec.kind !== "objects" && (spec.secret === true || spec.masked === true);
}
