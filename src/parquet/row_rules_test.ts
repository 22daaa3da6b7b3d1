import assert from "node:assert/strict";
import { readEventLines } from "./json_reader.ts";
import type { LineSlice, ReadEventLinesOptions } from "./json_reader.ts";
import { bufferFromBytes } from "./reader.ts";
import { DecodePool, readEventLinesParallel } from "./parallel_lines.ts";
import { readObfuscatedLines } from "./obfuscated_lines.ts";
import { Obfuscator } from "../transform/obfuscate.ts";
import { APPEND, fixture } from "../../tests/helpers/line_slices.ts";
import { DROP, RowRules } from "../transform/conditions.ts";
import type { RowRulesConfig } from "../transform/conditions.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();
/** Headers of other lengths per route, so that lines move when their route is known. */
const headFor = (route: number) => enc.encode(`<14>H ${"r".repeat(route + 2)}: `);

async function slices(bytes: Uint8Array, o: ReadEventLinesOptions): Promise<LineSlice[]> {
  const out: LineSlice[] = [];
  for await (const s of readEventLines(bufferFromBytes(bytes), o)) out.push(s);
  return out;
}

/** The lines of every row without rules, and the verdict of each on the event as an object. */
async function expected(bytes: Uint8Array, rules: RowRulesConfig, o: ReadEventLinesOptions) {
  const lines = async (o: ReadEventLinesOptions) =>
    (await slices(bytes, { ...o, append: APPEND })).flatMap((s) =>
      dec.decode(s.bytes).split("\n").slice(0, -1)
    );
  // Events cut off (maxEventBytes) are judged on their values as read.
  const whole = await lines({ startRow: o.startRow });
  const sent = await lines({ startRow: o.startRow, maxEventBytes: o.maxEventBytes });
  const judge = new RowRules(rules);
  return whole.map((json, i) => {
    const event = JSON.parse(json);
    delete event["@devo_pulling_id"];
    return { json: sent[i]!, verdict: judge.verdict(event) };
  });
}

/** Checks the slices of a read with `rules` against the verdicts taken on the events. */
async function check(
  bytes: Uint8Array,
  rules: RowRulesConfig,
  o: ReadEventLinesOptions = {},
): Promise<{ kept: number; dropped: number; routes: Map<number, number> }> {
  const startRow = o.startRow ?? 0;
  const want = await expected(bytes, rules, o);
  const got = await slices(bytes, {
    ...o,
    append: APPEND,
    rules,
    header: headFor,
    lineStarts: true,
  });
  let row = startRow;
  const routes = new Map<number, number>();
  let kept = 0;
  for (const s of got) {
    assert.equal(s.rowStart, row, "slices cover the rows in order");
    const lines = dec.decode(s.bytes).split("\n").slice(0, -1);
    assert.equal(lines.length, s.lines);
    assert.equal(s.lineRows!.length, s.lines);
    assert.equal(s.starts!.length, s.lines);
    assert.equal(s.lineRoutes!.length, s.lines);
    for (const [i, line] of lines.entries()) {
      const r = row + s.lineRows![i]! - startRow;
      const route = s.lineRoutes![i]!;
      const head = dec.decode(headFor(route));
      assert.equal(s.lineHeadBytes![i], headFor(route).length);
      assert.ok(line.startsWith(head), `line ${i} of the slice at ${s.rowStart} has its header`);
      assert.equal(dec.decode(s.bytes.subarray(s.starts![i]!)).indexOf(head), 0);
      assert.equal(line.slice(head.length), want[r]!.json, `row ${r + startRow}`);
      assert.equal(want[r]!.verdict, route, `route of row ${r + startRow}`);
      routes.set(route, (routes.get(route) ?? 0) + 1);
      kept++;
    }
    // The rows of the slice without a line are those dropped.
    const lineSet = new Set(s.lineRows);
    for (let i = 0; i < s.rows; i++) {
      if (!lineSet.has(i)) assert.equal(want[row + i - startRow]!.verdict, DROP);
    }
    row += s.rows;
  }
  assert.equal(row - startRow, want.length, "every row is covered");
  const dropped = want.filter((w) => w.verdict === DROP).length;
  assert.equal(kept, want.length - dropped);
  return { kept, dropped, routes };
}

const RULES: RowRulesConfig = {
  drop: [
    { path: "actor.user.uid", equals: "s3.amazonaws.com" },
    { path: "src_endpoint.domain", exists: true },
  ],
  routes: [
    { path: "api.operation", matches: "^Delete", tag: "a.b.delete" },
    { path: "cloud.region", in: ["eu-west-1", "us-east-1"], tag: "a.b.region" },
    { path: "resources[].owner.account.uid", exists: true, tag: "a.b.owned" },
  ],
};

Deno.test("row rules: dropped rows and routes on the fast path are the verdicts on the events", async () => {
  const bytes = await fixture(6003, "ZSTD", "avro", 3000, 1000);
  const r = await check(bytes, RULES);
  assert.ok(r.dropped > 100 && r.kept > 100, `dropped ${r.dropped}, kept ${r.kept}`);
  for (const route of [-1, 0, 1, 2]) assert.ok((r.routes.get(route) ?? 0) > 0, `route ${route}`);
  // Small slices (a carried line at most slices' ends), a resumed read, parts taken in turn.
  await check(bytes, RULES, { sliceRows: 7 });
  await check(bytes, RULES, { sliceBytes: 3000, startRow: 1234 });
  await check(bytes, RULES, { partRows: 100 });
  // Events cut off while they are built still get the verdict of their values.
  await check(bytes, RULES, { maxEventBytes: 600, sliceRows: 50 });
});

Deno.test("row rules: numbers, maps, lists and any-key paths are judged as on the event", async () => {
  const bytes = await fixture(6003, "ZSTD", "standard", 2000, 1000);
  const r = await check(bytes, {
    drop: [
      { path: "severity_id", in: ["3", "4"] },
      { path: "unmapped.readOnly", equals: "true" },
    ],
    routes: [
      { path: "class_uid", equals: "6003", tag: "a.b.never" },
      { path: "metadata.product.feature", exists: false, tag: "a.b.c" },
    ],
  });
  assert.ok(r.dropped > 0);
  const s = await check(bytes, {
    drop: [{ path: "unmapped.*", matches: "^4444" }, {
      path: "observables.value",
      matches: "^192\\.",
    }],
    routes: [{ path: "*.account.uid", equals: "123456789012", tag: "a.b.c" }],
  });
  assert.ok(s.dropped > 0 && (s.routes.get(0) ?? 0) > 0, JSON.stringify([...s.routes]));
  // A field the schema does not have never holds a value.
  const none = await check(bytes, {
    drop: [{ path: "no_such.field", exists: false }],
    routes: [],
  });
  assert.equal(none.kept, 0);
});

Deno.test("row rules: decode workers give the slices, lines and routes of one thread, obfuscated or not", async () => {
  using pool = new DecodePool({ threads: 2 });
  const bytes = await fixture(6003, "ZSTD", "avro", 5000, 1000);
  // Headers of one length per route, all different.
  const header = (route: number) => enc.encode(`<14>H ${"r".repeat(route + 2)}: `);
  const obfuscation = [{ paths: ["src_endpoint.ip"], method: "mask" as const, value: "x" }];
  const norm = (s: LineSlice) => ({
    rowStart: s.rowStart,
    rows: s.rows,
    lines: s.lines,
    lineRows: [...(s.lineRows ?? [])],
    lineRoutes: [...(s.lineRoutes ?? [])],
    lineHeadBytes: [...(s.lineHeadBytes ?? [])],
    text: dec.decode(s.bytes),
  });
  for (const obfuscate of [false, true]) {
    for (const o of [{}, { partRows: 200, sliceRows: 50 }, { startRow: 2100 }]) {
      const options = { ...o, header, append: APPEND, rules: RULES };
      const one = obfuscate
        ? readObfuscatedLines(bufferFromBytes(bytes), {
          ...options,
          obfuscator: new Obfuscator(obfuscation as never),
        })
        : readEventLines(bufferFromBytes(bytes), options);
      const expected: ReturnType<typeof norm>[] = [];
      for await (const s of one) expected.push(norm(s));
      const actual: ReturnType<typeof norm>[] = [];
      const many = readEventLinesParallel(bufferFromBytes(bytes), {
        ...options,
        pool,
        ...(obfuscate ? { obfuscator: new Obfuscator(obfuscation as never) } : {}),
      });
      for await (const s of many) actual.push(norm(s));
      assert.deepEqual(actual, expected, JSON.stringify(o));
      const text = expected.map((s) => s.text).join("");
      assert.ok(text.includes("<14>H rrr: ") && text.includes("<14>H r: "));
      assert.equal(text.includes('"ip":"x"'), obfuscate);
    }
  }
});

Deno.test("row rules: decode workers, a header whose length changes mid-object gives the same lines", async () => {
  using pool = new DecodePool({ threads: 2 });
  const bytes = await fixture(6003, "ZSTD", "avro", 5000, 1000);
  for (const parallel of [false, true]) {
    let long = false;
    const header = (route: number) => enc.encode(`<14>${long ? "LONG" : "H"} r${route}: `);
    const options = { header, append: APPEND, rules: RULES, sliceRows: 300 };
    const gen = parallel
      ? readEventLinesParallel(bufferFromBytes(bytes), { ...options, pool })
      : readEventLines(bufferFromBytes(bytes), options);
    let n = 0;
    const text: string[] = [];
    for await (const s of gen) {
      text.push(dec.decode(s.bytes));
      if (++n === 5) long = true; // the slices after the fifth have longer headers
    }
    const all = text.join("");
    assert.ok(all.includes("<14>LONG r") && all.includes("<14>H r"));
    if (parallel) assert.equal(all, (globalThis as { oneThread?: string }).oneThread);
    else (globalThis as { oneThread?: string }).oneThread = all;
  }
});
