/**
 * Values cannot escape obfuscation: string_patterns search keys as well as values (a MAP such
 * as `unmapped` keyed by an e-mail address), a key holding dots can be named by a path (in
 * double quotes), and a hash_key short enough to guess is refused (SetupError 45).
 */
import assert from "node:assert/strict";
import { validateConfig } from "../src/config/load.ts";
import type { ObfuscationRule } from "../src/config/types.ts";
import { Obfuscator } from "../src/transform/obfuscate.ts";
import type { JsonObject } from "../src/transform/obfuscate.ts";
import { obfuscationConfig } from "./helpers/obfuscation_config.ts";

const EMAIL = "[\\w.+-]+@[\\w-]+\\.[\\w.]+";
const KEY = "0123456789abcdef0123456789abcdef";

/** The rules of `yaml` (the obfuscation list), validated as the collector loads them. */
function rules(yaml: string): readonly ObfuscationRule[] {
  const result = validateConfig(obfuscationConfig(yaml));
  assert.deepEqual(result.errors.map((e) => e.message), []);
  return result.config!.inputs[0]!.services.events.obfuscation;
}

function apply(yaml: string, event: JsonObject): JsonObject {
  return new Obfuscator(rules(yaml)).apply(structuredClone(event));
}

Deno.test("string_patterns replace matches in map keys too, at any depth, keeping order and every value", () => {
  const event: JsonObject = {
    unmapped: { "bob1@example.com": "x", other: "alice@example.org", plain: "y" },
    metadata: { labels: { "carol@example.net": { "dave@example.com": 1 } } },
  };
  assert.deepEqual(apply(`- { string_patterns: ['${EMAIL}'], method: mask }`, event), {
    unmapped: { "****SANITIZED****": "x", other: "****SANITIZED****", plain: "y" },
    metadata: { labels: { "****SANITIZED****": { "****SANITIZED****": 1 } } },
  });
  // Under a path only, and with hash: the same key always gives the same pseudonym.
  const hashed = apply(
    `- { paths: [unmapped], string_patterns: ['${EMAIL}'], method: hash, hash_key: ${KEY} }`,
    event,
  );
  const keys = Object.keys(hashed.unmapped as JsonObject);
  assert.equal(keys.length, 3);
  assert.match(keys[0]!, /^[0-9a-f]{16}$/);
  assert.deepEqual(keys.slice(1), ["other", "plain"]);
  assert.deepEqual(hashed.metadata, event.metadata, "outside the path: untouched");
  // Two keys masked to the same text keep both values.
  const two = apply(`- { string_patterns: ['${EMAIL}'], method: mask }`, {
    unmapped: { "a@x.com": 1, "b@y.com": 2, "****SANITIZED****": 3 },
  });
  assert.deepEqual(two.unmapped, {
    "****SANITIZED****#2": 1,
    "****SANITIZED****#3": 2,
    "****SANITIZED****": 3,
  });
  // drop removes the member whose key matches.
  assert.deepEqual(
    apply(`- { string_patterns: ['${EMAIL}'], method: drop }`, {
      unmapped: { "bob@example.com": "x", keep: "y" },
    }),
    { unmapped: { keep: "y" } },
  );
});

Deno.test("paths name keys holding dots in double quotes", () => {
  const event: JsonObject = {
    unmapped: { "x.forwarded.for": "10.1.2.3", x: { forwarded: { for: "kept" } } },
  };
  assert.deepEqual(
    apply(`- { paths: ['unmapped."x.forwarded.for"'], method: mask }`, event),
    { unmapped: { "x.forwarded.for": "****SANITIZED****", x: { forwarded: { for: "kept" } } } },
  );
  // Quotes and backslashes inside a quoted name; a quoted * is the key *, not any key.
  const odd: JsonObject = { 'a"b': { "*": "star", other: "o" }, "c\\d": ["v", "w"] };
  assert.deepEqual(
    apply(`- { paths: ['"a\\"b"."*"', '"c\\\\d"[]'], method: mask, value: M }`, odd),
    { 'a"b': { "*": "M", other: "o" }, "c\\d": ["M", "M"] },
  );
  // Unbalanced quotes are refused when the configuration is loaded.
  const bad = validateConfig(
    obfuscationConfig(`- { paths: ['unmapped."x.forwarded'], method: mask }`),
  );
  assert.equal(bad.errors.length, 1);
  assert.match(bad.errors[0]!.message, /a name holding dots goes in double quotes/);
});

Deno.test("a hash_key under 16 bytes is SetupError 45, without showing it", () => {
  const yaml = (key: string) =>
    obfuscationConfig(`- { paths: [actor.user.name], method: hash, hash_key: "${key}" }`);
  for (const key of ["Zq", "fifteen-bytes!!", "ünïcödé"]) {
    const { errors } = validateConfig(yaml(key));
    assert.equal(errors.length, 1, key);
    const e = errors[0]!;
    assert.equal(e.id, 45);
    assert.equal(e.family, "SetupError");
    assert.equal(e.code, "CONFIG_HASH_KEY_SHORT");
    assert.match(e.message, /hash_key is \d+ bytes? long, and must be at least 16/);
    assert.ok(!e.message.includes(key), e.message);
  }
  assert.deepEqual(validateConfig(yaml("sixteen-bytes-ok")).errors, []);
});
