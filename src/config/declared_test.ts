import assert from "node:assert/strict";
import { validateConfig } from "./load.ts";
import { SPECS } from "./schema.ts";

/** The errors of a configuration with one console output and the input written `input`. */
function errors(input: string, output = "type: console"): string[] {
  const text = `outputs:\n  out:\n    ${output.replaceAll("\n", "\n    ")}\ninputs:\n  lake:\n    ${
    input.replaceAll("\n", "\n    ")
  }\n`;
  return validateConfig(text, { env: () => undefined, baseDir: "/tmp" }).errors.map((e) =>
    `${e.code}: ${e.detail}`
  );
}

const KEYS = 'credentials: { aws_access_key_id: AKIAEXAMPLE, aws_secret_access_key: "x" }';

Deno.test("requiredFor: an output type's settings, each named with the type", () => {
  const got = errors(`type: directory\ndirectory: /tmp`, "type: relay\nconfig: { port: 514 }");
  assert.deepEqual(got, [
    "CONFIG_MISSING: outputs.out.config.address is required for output type relay: add it, e.g. address: collector-eu.devo.io (line 4)",
  ]);
});

Deno.test("requiredFor without a label, and oneOf, hold only when their condition does", () => {
  assert.deepEqual(errors(`${KEYS}`), [
    "CONFIG_MISSING: inputs.lake.region is required: add it, e.g. region: us-east-1 (line 5)",
    "CONFIG_MISSING: inputs.lake.queue_name is required (or queue_url, or queue_arn): add it, e.g. queue_name: AmazonSecurityLake-00000000-0000-Main-Queue (line 5)",
  ]);
  assert.deepEqual(errors(`type: directory\ndirectory: /tmp`), []);
});

Deno.test("conflicts: the later setting is blamed, with the reason and fix declared", () => {
  const got = errors(
    `${KEYS}\nregion: us-east-1\nqueue_account_id: "123456789012"\nqueue_url: https://sqs.us-east-1.amazonaws.com/123456789012/q`,
  );
  assert.deepEqual(got, [
    "CONFIG_CONFLICT: inputs.lake.queue_account_id cannot be given together with inputs.lake.queue_url, which already names the account: keep one of the two (line 8)",
  ]);
});

Deno.test("needs and onlyFor: settings without effect are refused", () => {
  const got = errors(
    `credentials: { profile: p, external_id: abc }\nregion: us-east-1\nqueue_name: q\nservices:\n  events:\n    obfuscation:\n      - { paths: [a], method: mask, keep_last: 2 }`,
  );
  assert.deepEqual(got, [
    "CONFIG_REQUIRES: inputs.lake.credentials.external_id has no effect without inputs.lake.credentials.role_arn: add role_arn or remove external_id (line 6)",
    "CONFIG_OBFUSCATION_RULE: inputs.lake.services.events.obfuscation[0].keep_last applies to method partial only, and this rule's method is mask: remove keep_last or change the method (line 12)",
  ]);
});

Deno.test("every declared relation names fields its object has", () => {
  for (const [name, spec] of Object.entries(SPECS)) {
    for (const rel of spec.relations ?? []) {
      const names = rel.kind === "onlyFor"
        ? [rel.key, ...Object.keys(rel.fields)]
        : rel.kind === "conflicts"
        ? [rel.field, ...rel.with]
        : rel.kind === "needs"
        ? [...rel.fields, rel.needs]
        : [...rel.fields, ...(rel.when ? [rel.when.key] : [])];
      for (const field of names) {
        let s: unknown = spec;
        for (const k of field.split(".")) {
          s = (s as { fields?: Record<string, unknown> }).fields?.[k];
        }
        assert.ok(s !== undefined, `${name}: ${rel.kind} names ${field}, which is not a field`);
      }
    }
  }
});

Deno.test("drop_events and tag_routes: each value checked, with its line", () => {
  const got = errors(
    [
      "type: directory",
      "directory: /tmp",
      "services:",
      "  events:",
      "    drop_events:",
      "      - { path: actor.invoked_by, equals: securitylake.amazonaws.com }",
      "      - { path: a.b, matches: '(a)\\1' }",
      "      - { path: 'a..b', exists: true }",
      "      - { path: class_uid, in: [3001, 3002], exists: maybe }",
      "    tag_routes:",
      "      - { path: class_uid, equals: 3001, tag: my.app.iam }",
      "      - { path: class_uid, equals: 3002, tag: nodots }",
      "    source_fields: true",
    ].join("\n"),
  );
  assert.deepEqual(got.map((e) => e.replace(/:.*\(line/, " (line")), [
    "CONFIG_REGEX_NOT_LINEAR (line 12)",
    "CONFIG_PATTERN (line 13)",
    "CONFIG_TYPE (line 14)",
    "CONFIG_TAG (line 17)",
  ], JSON.stringify(got, null, 1));
});

Deno.test("drop_events and tag_routes: a condition has exactly one of equals, in, matches, exists", () => {
  const got = errors(
    [
      "type: directory",
      "directory: /tmp",
      "services:",
      "  events:",
      "    drop_events:",
      "      - { path: actor.user.name }",
      "      - { path: a.b, equals: x, matches: y }",
      "    tag_routes:",
      "      - { path: class_uid, in: [3001], exists: true, tag: my.app.iam }",
    ].join("\n"),
  );
  assert.deepEqual(got, [
    "CONFIG_MISSING: inputs.lake.services.events.drop_events[0].equals is required (or in, or matches, or exists): add it, e.g. equals: securitylake.amazonaws.com (line 11)",
    "CONFIG_CONFLICT: inputs.lake.services.events.drop_events[1].equals cannot be given together with inputs.lake.services.events.drop_events[1].matches: a condition has one test: write another condition for the other (line 12)",
    "CONFIG_CONFLICT: inputs.lake.services.events.tag_routes[0].in cannot be given together with inputs.lake.services.events.tag_routes[0].exists: a condition has one test: write another condition for the other (line 14)",
  ]);
});
