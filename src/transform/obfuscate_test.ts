import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { validateConfig } from "../config/load.ts";
import type { ObfuscationRule } from "../config/types.ts";
import { toJson } from "./json.ts";
import { compileObfuscation, hmacSha256, Obfuscator, parsePath } from "./obfuscate.ts";
import type { JsonObject } from "./obfuscate.ts";

const KEY = "k3y-for-tests-only";
const hmac = (s: string, n = 16) => createHmac("sha256", KEY).update(s).digest("hex").slice(0, n);

const rule = (r: Partial<ObfuscationRule> & Pick<ObfuscationRule, "method">): ObfuscationRule => ({
  value: "****SANITIZED****",
  hash_length: 16,
  keep_last: 4,
  ...r,
});

function event(): JsonObject {
  return {
    time: 1712750700123,
    actor: { user: { name: "alice", uid: 42, email_addr: "alice@example.com" } },
    src_endpoint: { ip: "10.1.2.34", port: 443 },
    observables: [
      { name: "actor.user.name", type: "User Name", value: "alice" },
      { name: "src_endpoint.ip", type: "IP Address", value: "10.1.2.34" },
      null,
    ],
    resources: [{ uid: "arn:aws:s3:::b", owner: { account: { uid: "111122223333" } } }, {
      uid: "r2",
    }],
    unmapped: { "requestParameters.userName": "bob", note: "mail bob@corp.example.org now" },
    flags: [true, false],
    big: 9007199254740993n,
    message: "login by carol@example.net from 10.9.9.9",
  };
}

Deno.test("the documented example works as written, through the configuration loader", () => {
  const yaml = `
outputs:
  c: { type: console }
inputs:
  sl:
    type: directory
    directory: /tmp
    services:
      events:
        obfuscation:
          - { paths: [actor.user.name, "observables[].value"], method: hash, hash_key: "\${SECLAKE_HASH_KEY}" }
          - { paths: [src_endpoint.ip], method: partial, keep_last: 3 }
          - { string_patterns: ['[\\w.+-]+@[\\w-]+\\.[\\w.]+'], method: mask }
`;
  const r = validateConfig(yaml, {
    env: (n) => (n === "SECLAKE_HASH_KEY" ? KEY : undefined),
    checkFiles: false,
  });
  assert.deepEqual(r.errors.map((e) => e.message), []);
  const o = new Obfuscator(r.config!.inputs[0]!.services.events.obfuscation);
  const e = o.apply(event());
  assert.equal(
    (e.actor as JsonObject).user && ((e.actor as JsonObject).user as JsonObject).name,
    hmac("alice"),
  );
  assert.deepEqual(
    (e.observables as JsonObject[]).map((x) => x?.value),
    [hmac("alice"), hmac("10.1.2.34"), undefined],
  );
  assert.equal((e.src_endpoint as JsonObject).ip, "******.34");
  assert.equal((e.src_endpoint as JsonObject).port, 443); // not named: untouched
  assert.equal(((e.actor as JsonObject).user as JsonObject).email_addr, "****SANITIZED****");
  assert.equal(e.message, "login by ****SANITIZED**** from 10.9.9.9");
  assert.equal((e.unmapped as JsonObject).note, "mail ****SANITIZED**** now");
  assert.equal(((e.actor as JsonObject).user as JsonObject).uid, 42);
  // 2 hashes of observables + 1 user name + ip + 3 strings with an email
  assert.deepEqual(o.stats, { fieldsObfuscated: 7, eventsTouched: 1 });
});

Deno.test("hash is keyed, deterministic and cut to hash_length; non-strings are stringified", () => {
  const o = new Obfuscator([
    rule({
      paths: ["actor.user.name", "actor.user.uid", "big", "flags"],
      method: "hash",
      hash_key: KEY,
      hash_length: 12,
    }),
  ]);
  const a = o.apply(event());
  const b = o.apply(event());
  assert.deepEqual(a, b);
  const user = (a.actor as JsonObject).user as JsonObject;
  assert.equal(user.name, hmac("alice", 12));
  assert.equal(user.uid, hmac("42", 12));
  assert.equal(a.big, hmac("9007199254740993", 12));
  assert.equal(a.flags, hmac("[true,false]", 12));
  const other = new Obfuscator([
    rule({ paths: ["actor.user.name"], method: "hash", hash_key: "another" }),
  ]);
  assert.notEqual(
    ((other.apply(event()).actor as JsonObject).user as JsonObject).name,
    hmac("alice"),
  );
});

Deno.test("hmacSha256 is createHmac's HMAC-SHA-256 for keys shorter, as long as and longer than a block", () => {
  const keys = ["k", "é".repeat(31) + "x", "a".repeat(64), "b".repeat(65), "ключ".repeat(40), ""];
  const texts = [
    "",
    "alice",
    "9007199254740993",
    "日本語テキスト",
    "\ud800 lone",
    "x".repeat(1000),
  ];
  for (const key of keys) {
    const ours = hmacSha256(key);
    for (const text of texts) {
      // Twice: the saved hash states must not be changed by a use.
      for (let i = 0; i < 2; i++) {
        assert.equal(
          ours(text),
          createHmac("sha256", key).update(text, "utf8").digest("hex"),
          `key of ${key.length} chars, text of ${text.length}`,
        );
      }
    }
  }
});

Deno.test("mask, partial and drop on nested structs, lists of structs, maps and nulls", () => {
  const o = new Obfuscator([
    rule({ paths: ["resources[].owner.account.uid"], method: "partial", keep_last: 4 }),
    rule({ paths: ["unmapped.*"], method: "mask", value: "X" }),
    rule({ paths: ["observables[].type", "actor.user.email_addr"], method: "drop" }),
    rule({ paths: ["src_endpoint"], method: "mask" }),
    rule({ paths: ["no.such.field", "actor.nothing", "time.deeper"], method: "drop" }),
  ]);
  const e = o.apply(event());
  assert.deepEqual(e.resources, [
    { uid: "arn:aws:s3:::b", owner: { account: { uid: "********3333" } } },
    { uid: "r2" },
  ]);
  assert.deepEqual(e.unmapped, { "requestParameters.userName": "X", note: "X" });
  assert.deepEqual(e.observables, [
    { name: "actor.user.name", value: "alice" },
    { name: "src_endpoint.ip", value: "10.1.2.34" },
    null,
  ]);
  assert.equal("email_addr" in ((e.actor as JsonObject).user as JsonObject), false);
  assert.equal(e.src_endpoint, "****SANITIZED****"); // a struct, stringified then masked
  assert.equal(e.time, 1712750700123);
  assert.equal(o.stats.fieldsObfuscated, 1 + 2 + 2 + 1 + 1);
});

Deno.test("paths: lists are walked implicitly, * matches keys and list elements, [] drops elements", () => {
  assert.deepEqual(parsePath("observables[].value"), [
    { key: "observables", any: false, each: true },
    { key: "value", any: false, each: false },
  ]);
  assert.throws(() => parsePath("a..b"), RangeError);
  assert.throws(() => parsePath("a[0]"), RangeError);
  const implicit = new Obfuscator([
    rule({ paths: ["observables.value"], method: "mask", value: "M" }),
  ]);
  assert.deepEqual(
    (implicit.apply(event()).observables as JsonObject[]).map((x) => x?.value),
    ["M", "M", undefined],
  );
  const star = new Obfuscator([rule({ paths: ["resources.*.uid"], method: "drop" })]);
  const s = star.apply({ resources: [{ uid: "a" }, { uid: "b", x: 1 }] });
  assert.deepEqual(s.resources, [{}, { x: 1 }]);
  const dropAll = new Obfuscator([rule({ paths: ["flags[]"], method: "drop" })]);
  assert.deepEqual(dropAll.apply(event()).flags, []);
  const starList = new Obfuscator([rule({ paths: ["flags.*"], method: "mask", value: "M" })]);
  assert.deepEqual(starList.apply(event()).flags, ["M", "M"]);
});

Deno.test("string patterns replace matches everywhere, or only under the named paths", () => {
  const email = "[\\w.+-]+@[\\w-]+\\.[\\w.]+";
  const ip = "\\b\\d{1,3}(\\.\\d{1,3}){3}\\b";
  const everywhere = new Obfuscator([
    rule({ string_patterns: [ip], method: "hash", hash_key: KEY, hash_length: 8 }),
  ]);
  const e = everywhere.apply(event());
  assert.equal((e.src_endpoint as JsonObject).ip, hmac("10.1.2.34", 8));
  assert.equal(e.message, `login by carol@example.net from ${hmac("10.9.9.9", 8)}`);
  assert.equal((e.observables as JsonObject[])[1]!.value, hmac("10.1.2.34", 8));
  const scoped = new Obfuscator([
    rule({ paths: ["unmapped"], string_patterns: [email], method: "partial", keep_last: 3 }),
  ]);
  const f = scoped.apply(event());
  assert.equal((f.unmapped as JsonObject).note, `mail ${"*".repeat(17)}org now`);
  assert.equal(f.message, "login by carol@example.net from 10.9.9.9");
  const dropping = new Obfuscator([rule({ string_patterns: [email], method: "drop" })]);
  const g = dropping.apply(event());
  assert.equal("message" in g, false);
  assert.equal("email_addr" in ((g.actor as JsonObject).user as JsonObject), false);
  assert.deepEqual(g.unmapped, { "requestParameters.userName": "bob" });
  // A pattern that matches the empty string inserts nothing.
  const empty = new Obfuscator([rule({ string_patterns: ["x*"], method: "mask", value: "M" })]);
  assert.equal(empty.apply({ a: "abc" }).a, "abc");
});

Deno.test("partial never leaves a short value in clear and keeps whole characters", () => {
  const o = new Obfuscator([rule({ paths: ["a", "b", "c"], method: "partial", keep_last: 4 })]);
  assert.deepEqual(o.apply({ a: "abcd", b: "a😀bcdé", c: 1234567 }), {
    a: "****",
    b: "**bcdé",
    c: "***4567",
  });
});

Deno.test("no rule means no obfuscator; an untouched event is not counted", () => {
  assert.equal(compileObfuscation([]), undefined);
  const o = compileObfuscation([rule({ paths: ["nope"], method: "mask" })])!;
  const before = toJson(event());
  assert.equal(toJson(o.transform(event())), before);
  assert.deepEqual(o.stats, { fieldsObfuscated: 0, eventsTouched: 0 });
});

Deno.test("the counts add up over many events, and remembered hashes give the same values", () => {
  // (How fast this is, is the benchmark's to say: `deno task bench --obfuscate`.)
  const rules = [
    rule({ paths: ["actor.user.name", "observables[].value"], method: "hash", hash_key: KEY }),
    rule({ paths: ["src_endpoint.ip"], method: "partial", keep_last: 3 }),
    rule({ string_patterns: ["[\\w.+-]+@[\\w-]+\\.[\\w.]+"], method: "mask" }),
  ];
  const one = new Obfuscator(rules);
  const first = one.apply(event());
  const perEvent = one.stats.fieldsObfuscated;
  assert.ok(perEvent > 0);
  const o = new Obfuscator(rules);
  for (let i = 0; i < 20_000; i++) assert.deepEqual(o.apply(event()), first);
  assert.deepEqual(o.stats, { fieldsObfuscated: 20_000 * perEvent, eventsTouched: 20_000 });
});

Deno.test("a hash rule's hashBytes writes what replace returns, cut to hash_length", () => {
  const o = new Obfuscator([
    rule({ paths: ["a"], method: "hash", hash_key: KEY, hash_length: 12 }),
    rule({ paths: ["b"], method: "mask" }),
  ]);
  const [hash, mask] = o.compiled;
  assert.equal(mask!.hashBytes, undefined);
  const text = "pré-fix alice 10.0.0.1";
  const bytes = new TextEncoder().encode(`__${text}__`);
  const out = new Uint8Array(20);
  const n = hash!.hashBytes!(bytes, 2, bytes.length - 2, out, 3);
  assert.equal(n, 12);
  assert.equal(new TextDecoder().decode(out.subarray(3, 15)), hash!.replace(text));
  assert.equal(hash!.replace(text), hmac(text, 12));
});
