/**
 * The configuration types (`types.ts`) and the schema (`schema.ts`) name the same settings: a
 * setting added, renamed or removed in one and not the other fails this file's type check, and
 * so the test run. The loader's own keys (`name`, and an output's `config` flattened into it)
 * are the only differences.
 */
import assert from "node:assert/strict";
import { SPECS } from "./schema.ts";
import type {
  CredentialsConfig,
  EventsServiceConfig,
  GlobalsConfig,
  InputConfig,
  MetricsConfig,
  ObfuscationRule,
  OutputConfig,
} from "./types.ts";

type Fields<S> = S extends { readonly fields: infer F } ? keyof F & string : never;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** Compiles only when `A` and `B` are the same set of names. */
function same<A, B>(_: Same<A, B>): void {}

Deno.test("every setting of the schema is a field of the configuration types, and the reverse", () => {
  same<Fields<typeof SPECS.globals>, keyof GlobalsConfig>(true);
  same<Fields<typeof SPECS.globals.fields.metrics>, keyof MetricsConfig>(true);
  same<Fields<typeof SPECS.globals.fields.persistence>, keyof GlobalsConfig["persistence"]>(true);
  same<
    Exclude<Fields<typeof SPECS.output>, "config"> | Fields<typeof SPECS.output.fields.config>,
    Exclude<keyof OutputConfig, "name">
  >(true);
  same<Fields<typeof SPECS.inputs>, Exclude<keyof InputConfig, "name">>(true);
  same<Fields<typeof SPECS.events>, keyof EventsServiceConfig>(true);
  same<Fields<typeof SPECS.obfuscationRule>, keyof ObfuscationRule>(true);
  same<Fields<typeof SPECS.credentials>, keyof CredentialsConfig>(true);
  assert.ok(Object.keys(SPECS.inputs.fields).length > 20);
});
