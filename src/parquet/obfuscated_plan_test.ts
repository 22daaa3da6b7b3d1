import assert from "node:assert/strict";
import { join } from "node:path";
import { parquetMetadataAsync, parquetSchema } from "hyparquet";
import type { SchemaElement, SchemaTree } from "hyparquet";
import { writeOcsfParquet } from "../../tests/lib/ocsf_fixtures.ts";
import type { ObfuscationRule } from "../config/types.ts";
import { Obfuscator } from "../transform/obfuscate.ts";
import { compile } from "./json_plan.ts";
import { readEventLines } from "./json_reader.ts";
import { isIndex, leafText, planObfuscation } from "./obfuscated_plan.ts";
import type { Node } from "./obfuscated_plan.ts";
import { rewrittenLines } from "./obfuscated_lines.ts";
import { bufferFromFile } from "./reader.ts";

function rule(r: Partial<ObfuscationRule> & Pick<ObfuscationRule, "method">): ObfuscationRule {
  return { value: "****", hash_length: 64, keep_last: 4, ...r };
}

const dec = new TextDecoder();
const APPEND = '"@devo_pulling_id":"1"';

/** A CloudTrail-like fixture (avro layout: legacy lists, a MAP `unmapped`), in a temp dir. */
async function fixture(): Promise<{ path: string; done: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "seclake-obf-plan-" });
  const path = join(dir, "ct.parquet");
  await writeOcsfParquet(path, { classUid: 6003, rows: 600, seed: 3, rowGroupSize: 250 });
  return { path, done: () => Deno.remove(dir, { recursive: true }) };
}

/** The fast path's and the object path's lines with `rules`, and the rows that fell back. */
async function both(path: string, rules: ObfuscationRule[]) {
  const file = await bufferFromFile(path);
  try {
    const stats = { passedPages: 0, objectRows: 0 };
    let fast = "";
    for await (
      const s of readEventLines(file, {
        obfuscator: new Obfuscator(rules),
        append: APPEND,
        sliceRows: 97,
        stats,
      })
    ) fast += dec.decode(s.bytes);
    let slow = "";
    for await (
      const s of rewrittenLines(file, { obfuscator: new Obfuscator(rules), append: APPEND })
    ) slow += dec.decode(s.bytes);
    return { fast, slow, objectRows: stats.objectRows };
  } finally {
    file.close();
  }
}

/** The plan of `rules` over the schema of `path`, with each leaf's text as the reader gives it. */
async function planFor(path: string, rules: ObfuscationRule[]) {
  const file = await bufferFromFile(path);
  try {
    const root = parquetSchema(await parquetMetadataAsync(file));
    const { fields, leafPaths } = compile(root);
    const element = (names: string[]) =>
      names.reduce(
        (t: SchemaTree, name) => t.children.find((c) => c.element.name === name)!,
        root,
      ).element;
    const texts = leafPaths.map((names) => leafText(element(names)));
    return planObfuscation(fields, new Obfuscator(rules), texts);
  } finally {
    file.close();
  }
}

/** The planned operations of each leaf, by its dotted path (list elements as `[]`). */
function leafOps(top: readonly Node[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const visit = (n: Node, at: string) => {
    if (n.plan.kind === "leaf") out.set(at, n.ops.map((o) => o.kind));
    for (const c of n.children) visit(c, `${at}.${c.name}`);
    if (n.element) visit(n.element, `${at}[]`);
    if (n.key) visit(n.key, `${at}.key`);
    if (n.value) visit(n.value, `${at}.value`);
  };
  for (const n of top) visit(n, n.name);
  return out;
}

Deno.test("paths and patterns are planned over the schema; what cannot be is left to the object path", async () => {
  const { path, done } = await fixture();
  try {
    const fast = [
      rule({ paths: ["actor.user.name", "unmapped.*"], method: "hash", hash_key: "k" }),
      rule({ paths: ["resources[].uid", "http_request"], method: "drop" }),
      rule({ string_patterns: ["\\d+"], method: "mask" }),
    ];
    assert.equal((await planFor(path, fast)).always, undefined);
    const cases: [ObfuscationRule, RegExp][] = [
      [rule({ paths: ["actor"], method: "hash", hash_key: "k" }), /hash of a struct/],
      [rule({ paths: ["unmapped.eventCategory"], method: "mask" }), /map key/],
      [rule({ paths: ["resources[]"], method: "mask" }), /mask of a struct/],
      [rule({ string_patterns: ["^metadata$"], method: "mask" }), /field name "metadata"/],
    ];
    for (const [r, why] of cases) assert.match((await planFor(path, [r])).always ?? "", why);
  } finally {
    await done();
  }
});

Deno.test("drops leave correct commas and empty objects; numbers are hashed as their JSON text", async () => {
  const { path, done } = await fixture();
  try {
    const rules = [
      // Every member of http_request dropped: it stays, empty.
      rule({ paths: ["http_request.user_agent", "metadata.uid"], method: "drop" }),
      rule({ paths: ["time", "status_id"], method: "hash", hash_key: "n", hash_length: 10 }),
      rule({ paths: ["src_endpoint.*"], method: "partial", keep_last: 2 }),
    ];
    const { fast, slow, objectRows } = await both(path, rules);
    assert.equal(fast, slow);
    assert.equal(objectRows, 0);
    assert.match(fast, /"http_request":\{\}/);
    assert.match(fast, /"time":"[0-9a-f]{10}"/);
    assert.doesNotMatch(fast, /"metadata":\{,|,,|,\}/);
  } finally {
    await done();
  }
});

Deno.test("map keys: renamed, dropped, and suffixed when two become one, as the object path does", async () => {
  const { path, done } = await fixture();
  try {
    const rules = [
      // additionalEventData.SignatureVersion and .CipherSuite both become additionalEventData.K.
      rule({ string_patterns: ["SignatureVersion|CipherSuite"], method: "mask", value: "K" }),
      rule({ paths: ["unmapped"], string_patterns: ["^readOnly$"], method: "drop" }),
    ];
    const { fast, slow, objectRows } = await both(path, rules);
    assert.equal(fast, slow);
    assert.equal(objectRows, 0);
    assert.match(fast, /"additionalEventData\.K#2":/);
    assert.doesNotMatch(fast, /"readOnly":/);
  } finally {
    await done();
  }
});

Deno.test("a row whose map key becomes an array index is written by the object path, the others not", async () => {
  const { path, done } = await fixture();
  try {
    // JavaScript objects put "7" first: the row falls back, with the same bytes.
    const rules = [rule({ string_patterns: ["^eventCategory$"], method: "mask", value: "7" })];
    const { fast, slow, objectRows } = await both(path, rules);
    assert.equal(fast, slow);
    const rows = fast.split("\n").length - 1;
    const withKey = fast.split("\n").filter((l) => l.includes('"7":')).length;
    assert.ok(withKey > 0 && withKey < rows, `${withKey} of ${rows}`);
    assert.equal(objectRows, withKey);
  } finally {
    await done();
  }
});

Deno.test("leaf text: numbers and booleans are never text; timestamps and UUIDs have a fixed form", () => {
  const e = (x: Partial<SchemaElement>) => leafText({ name: "x", ...x } as SchemaElement);
  for (
    const none of [
      { type: "BOOLEAN" },
      { type: "INT64" },
      { type: "INT32", converted_type: "INT_8" },
      { type: "INT64", converted_type: "UINT_64" },
      { type: "INT32", logical_type: { type: "INTEGER", bitWidth: 16, isSigned: false } },
    ] as Partial<SchemaElement>[]
  ) assert.equal(e(none), "none", JSON.stringify(none));
  const ts = e({ type: "INT64", converted_type: "TIMESTAMP_MILLIS" });
  assert.ok(ts instanceof Map);
  const at = (form: ReadonlyMap<number, number>, ch: string) => form.get(ch.charCodeAt(0));
  assert.deepEqual([at(ts, "."), at(ts, ":"), at(ts, "7"), at(ts, "a")], [
    1,
    2,
    Infinity,
    undefined,
  ]);
  assert.equal(
    e({ type: "INT64", logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "NANOS" } }),
    ts,
  );
  assert.equal(e({ type: "INT96" }), ts);
  const uuid = e({ type: "FIXED_LEN_BYTE_ARRAY", type_length: 16, logical_type: { type: "UUID" } });
  assert.ok(uuid instanceof Map);
  assert.deepEqual([at(uuid, "-"), at(uuid, "f"), at(uuid, "g")], [4, Infinity, undefined]);
  for (
    const any of [
      { type: "BYTE_ARRAY", converted_type: "UTF8" },
      { type: "BYTE_ARRAY" },
      { type: "DOUBLE" },
      { type: "INT32", converted_type: "DATE" },
      { type: "INT32", converted_type: "TIME_MILLIS" },
      { type: "INT64", converted_type: "DECIMAL", precision: 18, scale: 2 },
      { type: "FIXED_LEN_BYTE_ARRAY", type_length: 16 },
    ] as Partial<SchemaElement>[]
  ) assert.equal(e(any), "any", JSON.stringify(any));
});

Deno.test("patterns are not planned where no match can be: numbers, and timestamps their filters rule out", async () => {
  const { path, done } = await fixture();
  try {
    const ipv4 = rule({ string_patterns: ["\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b"], method: "mask" });
    const ops = leafOps((await planFor(path, [ipv4])).top);
    for (const leaf of ["time", "time_dt", "metadata.processed_time_dt", "metadata.sequence"]) {
      assert.deepEqual(ops.get(leaf), [], leaf);
    }
    assert.deepEqual(ops.get("src_endpoint.ip"), ["patterns"]);
    // A value a rule before makes text is searched; a pattern that may match a date is tried.
    const masked = rule({ paths: ["time"], method: "mask" });
    const date = rule({ string_patterns: ["\\d{4}-\\d{2}"], method: "mask" });
    const after = leafOps((await planFor(path, [masked, ipv4, date])).top);
    assert.deepEqual(after.get("time"), ["replace", "patterns", "patterns"]);
    assert.deepEqual(after.get("time_dt"), ["patterns"]);
    assert.deepEqual(after.get("metadata.sequence"), []);
    const { fast, slow, objectRows } = await both(path, [masked, ipv4, date]);
    assert.equal(fast, slow);
    assert.equal(objectRows, 0);
    assert.match(fast, /"time":"\*\*\*\*"/);
  } finally {
    await done();
  }
});

Deno.test("isIndex is JavaScript's array index order", () => {
  for (const s of ["0", "7", "10", "4294967294"]) assert.ok(isIndex(s), s);
  for (const s of ["", "01", "-1", "1.5", "4294967295", "1e3", "a"]) assert.ok(!isIndex(s), s);
  const o: Record<string, number> = {};
  for (const k of ["b", "4294967295", "4294967294", "01", "2"]) o[k] = 1;
  assert.deepEqual(Object.keys(o).filter(isIndex), ["2", "4294967294"]);
});
