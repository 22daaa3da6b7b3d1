import assert from "node:assert/strict";
import { join } from "node:path";
import { writeOcsfParquet } from "../../tests/lib/ocsf_fixtures.ts";
import { listParquet, SAMPLES_PARQUET } from "../../tests/helpers/samples.ts";
import type { ObfuscationRule } from "../config/types.ts";
import { LineFormatter } from "../transform/line.ts";
import { toJson } from "../transform/json.ts";
import { Obfuscator } from "../transform/obfuscate.ts";
import { readEventObjects } from "./event_objects.ts";
import { readEventLines } from "./json_reader.ts";
import type { LineSlice } from "./json_reader.ts";
import { readObfuscatedLines } from "./obfuscated_lines.ts";
import { DecodePool, readEventLinesParallel } from "./parallel_lines.ts";
import { bufferFromBytes } from "./reader.ts";

const PULLING_ID = "1712750700000";

function rule(r: Partial<ObfuscationRule> & Pick<ObfuscationRule, "method">): ObfuscationRule {
  return { value: "****", hash_length: 64, keep_last: 4, ...r };
}

/**
 * One rule of each method, on paths through structs, lists and a map, and a pattern that would
 * also match the pulling id's digits, were it there when the rules run.
 */
const RULES: ObfuscationRule[] = [
  rule({
    paths: ["actor.user.name", "src_endpoint.ip"],
    method: "hash",
    hash_key: "k",
    hash_length: 16,
  }),
  rule({ paths: ["observables[].value"], method: "partial", keep_last: 3 }),
  rule({ paths: ["unmapped.*"], method: "mask", value: "X" }),
  rule({ paths: ["resources[].uid"], method: "drop" }),
  rule({ string_patterns: ["\\d{6,}"], method: "mask", value: "#" }),
];

const formatter = new LineFormatter({
  hostname: "hôte-ü", // a header longer in bytes than in characters
  tag: "cloud.aws.amazon.security_lake.events",
  pullingId: PULLING_ID,
  now: () => Date.UTC(2024, 3, 10, 12, 5),
});
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The object path's lines (parsed back, obfuscated, `toJson`, `LineFormatter.line`) from `startRow`. */
async function reference(bytes: Uint8Array, startRow: number, obfuscator: Obfuscator) {
  let text = "";
  for await (const s of readEventObjects(bufferFromBytes(bytes), { startRow })) {
    const header = formatter.header();
    for (const e of s.events) text += formatter.line(toJson(obfuscator.apply(e)), header);
  }
  return text;
}

async function text(slices: AsyncGenerator<LineSlice>, startRow: number): Promise<string> {
  let out = "";
  let row = startRow;
  for await (const s of slices) {
    assert.equal(s.rowStart, row);
    row += s.rows;
    out += dec.decode(s.bytes);
  }
  return out;
}

const lineOptions = (startRow: number) => ({
  startRow,
  sliceRows: 64,
  header: () => enc.encode(formatter.header()),
  append: formatter.extraMembers,
});

Deno.test("obfuscated lines, in decode workers or on this thread, are the object path's bytes, with the same counts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-obfuscated-" });
  using pool = new DecodePool({ threads: 2 });
  const closed = new DecodePool({ threads: 1 });
  closed.close();
  try {
    const inputs: [string, Uint8Array][] = [];
    for (const classUid of [6003, 4001] as const) {
      const path = join(dir, `${classUid}.parquet`);
      await writeOcsfParquet(path, {
        classUid,
        layout: "avro",
        rows: 900,
        seed: 3,
        rowGroupSize: 200,
      });
      inputs.push([path, await Deno.readFile(path)]);
    }
    for (const path of (await listParquet(SAMPLES_PARQUET)).slice(0, 3)) {
      inputs.push([path, await Deno.readFile(path)]);
    }
    let touched = 0;
    for (const [path, bytes] of inputs) {
      for (const startRow of [0, 333]) {
        const ref = new Obfuscator(RULES);
        const expected = await reference(bytes, startRow, ref);
        const here = new Obfuscator(RULES);
        const workers = new Obfuscator(RULES);
        const noPool = new Obfuscator(RULES);
        const runs = {
          here: await text(
            readObfuscatedLines(bufferFromBytes(bytes), {
              ...lineOptions(startRow),
              obfuscator: here,
            }),
            startRow,
          ),
          workers: await text(
            readEventLinesParallel(bufferFromBytes(bytes), {
              ...lineOptions(startRow),
              pool,
              obfuscator: workers,
            }),
            startRow,
          ),
          closedPool: await text(
            readEventLinesParallel(bufferFromBytes(bytes), {
              ...lineOptions(startRow),
              pool: closed,
              obfuscator: noPool,
            }),
            startRow,
          ),
        };
        for (const [how, got] of Object.entries(runs)) {
          assert.ok(got === expected, `${path} from row ${startRow}, ${how}: lines differ`);
        }
        for (const o of [here, workers, noPool]) assert.deepEqual(o.stats, ref.stats);
        touched += ref.stats.eventsTouched;
        // The pulling id is added after the rules: the pattern would have masked its digits.
        const lines = expected.split("\n").filter((l) => l !== "");
        assert.ok(lines.every((l) => l.endsWith(`,"@devo_pulling_id":"${PULLING_ID}"}`)));
      }
    }
    assert.ok(touched > 0, "the rules changed events");
    assert.ok(pool.started > 0 && pool.received.slices > 0, "the workers made lines");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs `test` on a CloudTrail-like file of `rows` rows, in a temporary folder removed after. */
async function withCloudTrail(
  rows: number,
  test: (bytes: Uint8Array, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "seclake-obfuscated-" });
  try {
    const path = join(dir, "ct.parquet");
    await writeOcsfParquet(path, { classUid: 6003, layout: "avro", rows, seed: 7 });
    await test(await Deno.readFile(path), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("pieces of PLAIN text in which no pattern's filter passes are written as they are, with the object path's bytes", async () => {
  await withCloudTrail(2000, async (bytes) => {
    // Hashed names and masked IPv4 addresses; the ids of PLAIN pages hold no dots.
    const rules: ObfuscationRule[] = [
      rule({ paths: ["actor.user.name"], method: "hash", hash_key: "k" }),
      rule({
        string_patterns: ["\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b"],
        method: "mask",
        value: "x.x.x.x",
      }),
    ];
    const ref = new Obfuscator(rules);
    const expected = await reference(bytes, 0, ref);
    assert.ok(expected.includes('"x.x.x.x"'), "the pattern masked addresses");
    const o = new Obfuscator(rules);
    const stats = { passedPages: 0, cleanPieces: 0 };
    const got = await text(
      readEventLines(bufferFromBytes(bytes), {
        ...lineOptions(0),
        obfuscator: o,
        pieceEntries: 100,
        stats,
      }),
      0,
    );
    assert.ok(got === expected, "the lines differ");
    assert.deepEqual(o.stats, ref.stats);
    assert.ok(stats.cleanPieces > 20, `${stats.cleanPieces} pieces written as they are`);
  });
});

Deno.test("what the workers' rules did is counted once per line handed out, also when a worker is lost", async () => {
  await withCloudTrail(5000, async (bytes) => {
    const ref = new Obfuscator(RULES);
    const expected = await reference(bytes, 0, ref);
    // A 4 MiB lead: the workers obfuscate far ahead of what is handed out when they are lost.
    const pool = new DecodePool({ threads: 2, aheadBytes: 4 * 1024 * 1024 });
    const o = new Obfuscator(RULES);
    let got = "";
    let n = 0;
    for await (
      const s of readEventLinesParallel(bufferFromBytes(bytes), {
        ...lineOptions(0),
        pool,
        obfuscator: o,
      })
    ) {
      got += dec.decode(s.bytes);
      if (++n === 3) {
        await new Promise((r) => setTimeout(r, 200));
        pool.close(); // the rest is obfuscated on this thread
      }
    }
    assert.ok(got === expected, "the lines differ");
    assert.deepEqual(o.stats, ref.stats);
  });
});

Deno.test("lines a worker did not obfuscate are refused: the object fails and nothing of them is sent", async () => {
  await withCloudTrail(600, async (bytes, dir) => {
    // A worker that ignores the rules it is given (as a stale or wrong worker module would).
    const worker = join(dir, "rules_ignored.js");
    await Deno.writeTextFile(
      worker,
      `import { serve } from ${JSON.stringify(new URL("./lines_worker.ts", import.meta.url).href)};
let handler = null;
serve({
  postMessage: (m, t) => globalThis.postMessage(m, t),
  get onmessage() { return handler; },
  set onmessage(h) { handler = h; },
});
globalThis.onmessage = (e) => {
  if (e.data.type === "start") {
    const { obfuscation: _, ...start } = e.data;
    return handler({ data: start });
  }
  return handler(e);
};
`,
    );
    using pool = new DecodePool({ threads: 1, workerUrl: new URL(`file://${worker}`) });
    const lines: LineSlice[] = [];
    await assert.rejects(async () => {
      const slices = readEventLinesParallel(bufferFromBytes(bytes), {
        ...lineOptions(0),
        pool,
        obfuscator: new Obfuscator(RULES),
      });
      for await (const s of slices) lines.push(s);
    }, /sent lines it did not obfuscate/);
    assert.equal(lines.length, 0);
    assert.ok(pool.started > 0, "the worker ran");
  });
});
