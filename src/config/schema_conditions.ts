/**
 * The schema of the conditions of `drop_events` and `tag_routes`: a field path and exactly one
 * test of its value. Part of the schema table (`schema.ts`).
 * @module
 */
import { list, obj, str } from "./spec.ts";
import type { ScalarSpec } from "./spec.ts";
import { FIELD_PATH, TAG } from "./forms.ts";

const FORMS = ["equals", "in", "matches", "exists"];
const conditionFields = {
  path: str("The field the condition tests, in the obfuscation paths' syntax.", {
    pattern: FIELD_PATH,
    required: true,
    example: "actor.invoked_by",
  }),
  equals: str(
    "The field holds this value (numbers and booleans compared as their JSON text, e.g. 3001).",
    { example: "securitylake.amazonaws.com" },
  ),
  in: list(
    "The field holds one of these values.",
    str("A value.", { example: "securitylake.amazonaws.com" }),
    { example: "[3001, 3002]", exampleOnly: true },
  ),
  matches: str(
    "The field holds a string containing a match of this regular expression (linear-time engine: no backreferences or lookarounds).",
    { regex: true, example: "^AmazonSecurityLake" },
  ),
  exists: {
    kind: "boolean",
    description: "true: the field holds a value (not null); false: it holds none.",
    example: "true",
  } as ScalarSpec,
};
/** Exactly one of the forms: at least one, and none with another. */
const conditionRelations = [
  { kind: "oneOf" as const, fields: FORMS },
  ...FORMS.slice(0, -1).map((field, i) => ({
    kind: "conflicts" as const,
    field,
    with: FORMS.slice(i + 1),
    fix: "a condition has one test: write another condition for the other",
  })),
];

/** One condition of `drop_events`. */
export const condition = obj(
  "One condition on an event's field: path and exactly one of equals, in, matches or exists.",
  conditionFields,
  { relations: conditionRelations },
);

/** One route of `tag_routes`: a condition and its tag. */
export const tagRoute = obj("A condition and the Devo tag of the events that match it.", {
  ...conditionFields,
  tag: str("Devo tag (table) of the events that match.", {
    pattern: TAG,
    required: true,
    example: "my.app.security_lake.iam",
  }),
}, { relations: conditionRelations });
