import assert from "node:assert/strict";
import { parquetMetadataAsync } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import { toJson } from "../transform/json.ts";
import { readEventLines } from "./json_reader.ts";
import { bufferFromBytes, bufferFromFile, readEvents } from "./reader.ts";
import type { JsonObject } from "./shape.ts";
import { isCollectorError } from "../errors.ts";

const SAMPLES = new URL("../../../shared/research/samples/parquet/", import.meta.url);

async function all(file: Parameters<typeof readEvents>[0], startRow = 0): Promise<JsonObject[]> {
  const out: JsonObject[] = [];
  for await (const s of readEvents(file, { startRow, sliceRows: 3 })) out.push(...s.events);
  return out;
}

/** The fast path's lines of `file`, and the reference path's events as JSON. */
async function bothPaths(
  file: Parameters<typeof readEvents>[0],
): Promise<{ lines: string[]; expected: string[] }> {
  const expected = (await all(file)).map((e) => toJson(e));
  const lines: string[] = [];
  for await (const s of readEventLines(file, { sliceRows: 50 })) {
    lines.push(...new TextDecoder().decode(s.bytes).split("\n").slice(0, -1));
  }
  return { lines, expected };
}

const S = (name: string, rep = "OPTIONAL") => ({
  name,
  type: "BYTE_ARRAY",
  converted_type: "UTF8",
  repetition_type: rep,
});

function write(
  schema: unknown[],
  columnData: { name: string; data: unknown[] }[],
  rowGroupSize?: number,
) {
  const buf = parquetWriteBuffer({
    schema: [{ name: "root", num_children: columnData.length }, ...schema] as never,
    columnData: columnData as never,
    ...(rowGroupSize ? { rowGroupSize } : {}),
  });
  return bufferFromBytes(new Uint8Array(buf));
}

Deno.test("INT64 of 9007199254740993 and timestamps follow the value policy", async () => {
  const file = write(
    [
      { name: "big", type: "INT64", repetition_type: "OPTIONAL" },
      { name: "time", type: "INT64", repetition_type: "OPTIONAL" },
      {
        name: "time_dt",
        type: "INT64",
        converted_type: "TIMESTAMP_MILLIS",
        repetition_type: "OPTIONAL",
      },
      { name: "f", type: "DOUBLE", repetition_type: "OPTIONAL" },
    ],
    [
      { name: "big", data: [9007199254740993n, 5n] },
      { name: "time", data: [1712750700123n, 1n] },
      { name: "time_dt", data: [1712750700123n, 0n] },
      { name: "f", data: [NaN, 1.5] },
    ],
  );
  const events = await all(file);
  assert.equal(
    toJson(events[0]!),
    // NaN becomes null, and null fields are left out.
    '{"big":9007199254740993,"time":1712750700123,"time_dt":"2024-04-10T12:05:00.123Z"}',
  );
  assert.equal(
    toJson(events[1]!),
    '{"big":5,"time":1,"time_dt":"1970-01-01T00:00:00.000Z","f":1.5}',
  );
});

Deno.test("a row with every column null becomes an empty event", async () => {
  const file = write(
    [
      S("a"),
      { name: "n", type: "INT64", repetition_type: "OPTIONAL" },
      { name: "s", repetition_type: "OPTIONAL", num_children: 1 },
      S("x"),
      { name: "l", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      S("element"),
    ],
    [
      { name: "a", data: [null, "v"] },
      { name: "n", data: [null, 1n] },
      { name: "s", data: [null, { x: null }] },
      { name: "l", data: [null, ["e", null]] },
    ],
  );
  const events = await all(file);
  assert.deepEqual(events[0], {});
  assert.deepEqual(events[1], { a: "v", n: 1, s: {}, l: ["e", null] });
});

Deno.test("MAP becomes an object; one-field legacy list groups keep their struct", async () => {
  const file = write(
    [
      { name: "unmapped", repetition_type: "OPTIONAL", converted_type: "MAP", num_children: 1 },
      {
        name: "key_value",
        repetition_type: "REPEATED",
        converted_type: "MAP_KEY_VALUE",
        num_children: 2,
      },
      S("key", "REQUIRED"),
      S("value"),
      { name: "tags", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
      { name: "tags_tuple", repetition_type: "REPEATED", num_children: 1 },
      S("name"),
    ],
    [
      { name: "unmapped", data: [{ "requestParameters.name": "x", b: "y" }] },
      { name: "tags", data: [["p", "q"]] },
    ],
  );
  assert.deepEqual(await all(file), [{
    unmapped: { "requestParameters.name": "x", b: "y" },
    tags: [{ name: "p" }, { name: "q" }],
  }]);
});

Deno.test("row groups are read one by one and startRow resumes mid-file", async () => {
  const n = 25;
  const file = write(
    [{ name: "i", type: "INT32", repetition_type: "REQUIRED" }],
    [{ name: "i", data: Array.from({ length: n }, (_, i) => i) }],
    10,
  );
  const slices: number[] = [];
  for await (const s of readEvents(file, { sliceRows: 4 })) slices.push(s.rowStart);
  assert.deepEqual(slices, [0, 4, 8, 10, 14, 18, 20, 24]);
  assert.deepEqual((await all(file, 13)).map((e) => e.i), [
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    24,
  ]);
});

Deno.test("bytes that are not Parquet give DataError 601", async () => {
  for (const bytes of [new Uint8Array(0), new TextEncoder().encode("PAR1 garbage not parquet")]) {
    await assert.rejects(
      all(bufferFromBytes(bytes)),
      (e) => isCollectorError(e, "PARQUET_INVALID"),
    );
  }
});

Deno.test("legacy two-level lists of the public Security Lake samples become arrays", async () => {
  const path = new URL(
    "aws-ocsf-validation/v2_ocsf-1.1.0/SH_FINDINGS/detection_findings/tests_iam_access_analyzer.test.parquet",
    SAMPLES,
  );
  let file;
  try {
    file = await bufferFromFile(path.pathname);
  } catch {
    return; // samples not present on this machine
  }
  try {
    const [e] = await all(file);
    // deno-lint-ignore no-explicit-any
    const event = e as Record<string, any>;
    assert.ok(Array.isArray(event.resources));
    assert.equal(event.resources[0].type, "AwsIamRole");
    assert.deepEqual(event.metadata.profiles, ["cloud", "datetime", "linux"]);
    assert.equal(event.time, 1700078913783);
    assert.equal(event.time_dt, "2023-11-15T20:08:33.783Z");
    assert.equal(event.finding_info.created_time_dt, "2023-11-15T20:08:31.325Z");
    assert.equal(event.unmapped.WorkflowState, "NEW");
    assert.equal(event.type_uid, 200402);
    assert.ok(!toJson(event).includes('"array"'));
  } finally {
    file.close();
  }
});

Deno.test("the fast path writes MILLIS, MICROS and NANOS timestamps as the reference path does", async () => {
  const n = 300;
  const ms = Array.from(
    { length: n },
    (_, i) => BigInt(1712750700123 + i * 987_654_321) - 10n ** 12n,
  );
  const values = (scale: bigint) =>
    ms.map((v, i) => i % 7 === 3 ? null : i % 5 === 0 ? -v * scale - BigInt(i) : v * scale + 7n);
  const ts = (name: string, extra: object) => ({
    name,
    type: "INT64",
    repetition_type: "OPTIONAL",
    ...extra,
  });
  const file = write(
    [
      ts("millis", { converted_type: "TIMESTAMP_MILLIS" }),
      ts("micros", { converted_type: "TIMESTAMP_MICROS" }),
      ts("nanos", { logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "NANOS" } }),
      ts("few", { converted_type: "TIMESTAMP_MILLIS" }), // repeats: dictionary-encoded
    ],
    [
      { name: "millis", data: values(1n) },
      { name: "micros", data: values(1000n) },
      { name: "nanos", data: values(1_000_000n) },
      { name: "few", data: ms.map((v, i) => i % 3 === 0 ? null : v - (v % 86_400_000n)) },
    ],
    128,
  );
  const { lines, expected } = await bothPaths(file);
  assert.equal(lines.length, n);
  assert.deepEqual(lines, expected);
  assert.match(expected[1]!, /"micros":"19\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/);
});

Deno.test("dictionary-encoded numbers: each entry written once, NaN and Infinity left out, in lists too", async () => {
  const dbl = (name: string, rep = "OPTIONAL") => ({ name, type: "DOUBLE", repetition_type: rep });
  const n = 300;
  const pick = <T>(xs: T[]) => Array.from({ length: n }, (_, i) => xs[(i * 7) % xs.length]!);
  const doubles = [NaN, 1.5, Infinity, -0, null, -Infinity, 2e21, 0.1];
  const columnData = [
    { name: "f", data: pick(doubles), encoding: "RLE_DICTIONARY" },
    { name: "i", data: pick([9007199254740993n, 5n, -3n, null]), encoding: "RLE_DICTIONARY" },
    { name: "u", data: pick([4294967295, 7, null]), encoding: "RLE_DICTIONARY" },
    {
      name: "l",
      data: pick([[NaN, 1.5, null], [], null, [Infinity], [0.1, 0.1]]),
      encoding: "RLE_DICTIONARY",
    },
  ];
  const bytes = new Uint8Array(parquetWriteBuffer({
    schema: [
      { name: "root", num_children: 4 },
      dbl("f"),
      { name: "i", type: "INT64", repetition_type: "OPTIONAL" },
      { name: "u", type: "INT32", converted_type: "UINT_32", repetition_type: "OPTIONAL" },
      { name: "l", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      dbl("element"),
    ] as never,
    columnData: columnData as never,
    rowGroupSize: 128,
  }));
  const file = bufferFromBytes(bytes);
  // Every column is dictionary-encoded, so the pre-written entries are what is read.
  const metadata = await parquetMetadataAsync(file);
  for (const c of metadata.row_groups[0]!.columns) {
    assert.ok(
      c.meta_data!.encodings.includes("RLE_DICTIONARY"),
      c.meta_data!.path_in_schema.join("."),
    );
  }
  const { lines, expected } = await bothPaths(file);
  assert.equal(lines.length, n);
  assert.deepEqual(lines, expected);
  assert.deepEqual(lines.slice(0, 6), [
    '{"i":9007199254740993,"u":4294967295,"l":[null,1.5,null]}',
    '{"f":0.1,"u":7}',
    '{"f":2e+21,"i":-3,"l":[0.1,0.1]}',
    '{"i":5,"u":4294967295,"l":[]}',
    '{"i":9007199254740993,"u":7,"l":[null]}',
    '{"f":0,"l":[null,1.5,null]}',
  ]);
});

Deno.test("PLAIN INT64 integers and millisecond timestamps read as 32-bit halves, every range", async () => {
  const edges = [
    0n,
    -1n,
    1n,
    2n ** 32n - 1n,
    2n ** 32n,
    -(2n ** 32n),
    -(2n ** 32n) - 1n,
    2n ** 53n - 1n,
    -(2n ** 53n) + 1n,
    2n ** 53n,
    -(2n ** 53n),
    2n ** 53n + 1n,
    2n ** 63n - 1n,
    -(2n ** 63n),
    1_712_750_700_123n,
    -62_167_219_200_001n,
    253_402_300_800_000n,
  ];
  const n = edges.length;
  const file = write(
    [
      { name: "i", type: "INT64", repetition_type: "OPTIONAL" },
      { name: "t", type: "INT64", converted_type: "TIMESTAMP_MILLIS", repetition_type: "OPTIONAL" },
    ],
    [
      { name: "i", data: edges, encoding: "PLAIN" },
      { name: "t", data: edges, encoding: "PLAIN" },
    ] as never,
  );
  const { lines, expected } = await bothPaths(file);
  assert.equal(lines.length, n);
  assert.deepEqual(lines, expected);
  assert.deepEqual(
    lines.map((l) => JSON.parse(l, (_k, v, c?: { source?: string }) => c?.source ?? v).i),
    edges.map(String),
  );
  assert.equal(lines[14], '{"i":1712750700123,"t":"2024-04-10T12:05:00.123Z"}');
});
