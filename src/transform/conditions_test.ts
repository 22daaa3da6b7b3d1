import assert from "node:assert/strict";
import { compileCondition, DROP, holds, NO_ROUTE, RowRules } from "./conditions.ts";
import type { ConditionConfig } from "./conditions.ts";
import type { JsonValue } from "./values.ts";

const EVENT: JsonValue = {
  class_uid: 3002,
  is_mfa: false,
  actor: { invoked_by: "securitylake.amazonaws.com", user: { name: "alice" } },
  resources: [{ type: "AWS::S3::Bucket" }, { type: "AWS::IAM::Role", owner: { uid: "1" } }],
  unmapped: { "x.forwarded.for": "10.0.0.1", tags: ["a", "b"] },
  src_endpoint: { ip: null },
  metadata: { product: { name: "CloudTrail" } },
};

const test = (c: ConditionConfig) => holds(compileCondition(c), EVENT);

Deno.test("conditions: equals, in, matches and exists on scalars, compared as text", () => {
  assert.equal(test({ path: "actor.invoked_by", equals: "securitylake.amazonaws.com" }), true);
  assert.equal(test({ path: "actor.invoked_by", equals: "securitylake" }), false);
  assert.equal(test({ path: "class_uid", equals: "3002" }), true);
  assert.equal(test({ path: "class_uid", in: ["3001", "3002"] }), true);
  assert.equal(test({ path: "class_uid", in: ["3001"] }), false);
  assert.equal(test({ path: "is_mfa", equals: "false" }), true);
  assert.equal(test({ path: "actor.user.name", matches: "^ali" }), true);
  assert.equal(test({ path: "actor.user.name", matches: "^bob" }), false);
  assert.equal(test({ path: "actor.user.name", exists: true }), true);
  assert.equal(test({ path: "actor.user.uid", exists: true }), false);
  assert.equal(test({ path: "actor.user.uid", exists: false }), true);
  // A null value is no value.
  assert.equal(test({ path: "src_endpoint.ip", exists: false }), true);
  // Objects and lists never equal, are never in, and never match.
  assert.equal(test({ path: "actor.user", matches: "alice" }), false);
  assert.equal(test({ path: "actor.user", exists: true }), true);
});

Deno.test("conditions: lists walked element by element, any keys, quoted names", () => {
  assert.equal(test({ path: "resources[].type", equals: "AWS::IAM::Role" }), true);
  assert.equal(test({ path: "resources.type", equals: "AWS::IAM::Role" }), true);
  assert.equal(test({ path: "resources.owner.uid", exists: true }), true);
  assert.equal(test({ path: "unmapped.tags", equals: "b" }), true);
  assert.equal(test({ path: "unmapped.*", equals: "10.0.0.1" }), true);
  assert.equal(test({ path: 'unmapped."x.forwarded.for"', matches: "^10\\." }), true);
  assert.equal(test({ path: "*.product.name", equals: "CloudTrail" }), true);
  assert.equal(test({ path: "*.*.name", equals: "CloudTrail" }), true);
  assert.equal(test({ path: "*.*.name", equals: "alice" }), true);
});

Deno.test("conditions: exactly one test; bad paths refused", () => {
  assert.throws(() => compileCondition({ path: "a" }), /exactly one of/);
  assert.throws(() => compileCondition({ path: "a", equals: "x", exists: true }), /exactly one/);
  assert.throws(() => compileCondition({ path: "a..b", exists: true }), /not valid/);
});

Deno.test("RowRules: a drop wins over every route; the first route that matches gives the tag", () => {
  const rules = new RowRules({
    drop: [{ path: "actor.user.name", equals: "bob" }],
    routes: [
      { path: "class_uid", equals: "3001", tag: "a.b.c" },
      { path: "class_uid", in: ["3002"], tag: "a.b.d" },
      { path: "is_mfa", exists: true, tag: "a.b.e" },
    ],
  });
  assert.equal(rules.verdict(EVENT), 1);
  assert.equal(rules.tags[1], "a.b.d");
  const bob = { ...(EVENT as object), actor: { user: { name: "bob" } } };
  assert.equal(rules.verdict(bob), DROP);
  assert.equal(rules.verdict({ class_uid: 1 }), NO_ROUTE);
});
