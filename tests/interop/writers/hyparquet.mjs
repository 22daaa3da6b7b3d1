// hyparquet-writer: page version 2, DELTA_BINARY_PACKED, BYTE_STREAM_SPLIT,
// FLOAT16, UUID, JSON, small pages, row groups of one row. (The legacy two-level list whose
// repeated group is named `array` comes from the public samples.)
import { writeFileSync } from "node:fs";
import { parquetWriteBuffer } from "hyparquet-writer";

const T0 = Date.UTC(2024, 4, 1);

function columns(n, encodings) {
  const col = (k, f) => Array.from({ length: n }, (_, i) => (i % k === 0 ? null : f(i)));
  return [
    {
      name: "id",
      data: Array.from({ length: n }, (_, i) => BigInt(i)),
      type: "INT64",
      nullable: false,
      encoding: encodings ? "DELTA_BINARY_PACKED" : undefined,
    },
    {
      name: "i32",
      data: col(7, (i) => i * 7919 - 50_000),
      type: "INT32",
      encoding: encodings ? "DELTA_BINARY_PACKED" : undefined,
    },
    {
      name: "f64",
      data: col(12, (i) => i * 1.25e10 + 0.5),
      type: "DOUBLE",
      encoding: encodings ? "BYTE_STREAM_SPLIT" : undefined,
    },
    {
      name: "f32",
      data: col(11, (i) => i / 4),
      type: "FLOAT",
      encoding: encodings ? "BYTE_STREAM_SPLIT" : undefined,
    },
    { name: "half", data: col(5, (i) => (i % 64) / 8), type: "FLOAT16" },
    { name: "flag", data: col(3, (i) => i % 2 === 0), type: "BOOLEAN" },
    {
      name: "s",
      data: col(4, (i) => [`plain ${i}`, 'quote " \\ \t', `ünïcødé ✓ ${i}`, "\x01ctl", ""][i % 5]),
      type: "STRING",
    },
    { name: "json", data: col(6, (i) => ({ a: i, b: [1, "two"] })), type: "JSON" },
    { name: "ts", data: col(9, (i) => new Date(T0 + i * 7)), type: "TIMESTAMP" },
    {
      name: "uuid",
      data: col(8, (i) => `12345678-0000-4000-8000-${String(i).padStart(12, "0")}`),
      type: "UUID",
    },
  ];
}

/** The files hyparquet-writer writes: [name, features, rows, encodings?, options]. */
const FILES = [
  ["snappy", ["page v2", "SNAPPY", "dictionary"], 2000, false, { codec: "SNAPPY" }],
  ["uncompressed", ["page v2", "UNCOMPRESSED"], 2000, false, { codec: "UNCOMPRESSED" }],
  [
    "delta",
    ["page v2", "DELTA_BINARY_PACKED", "BYTE_STREAM_SPLIT"],
    2000,
    true,
    { codec: "SNAPPY" },
  ],
  ["small-pages", ["page v2", "small pages"], 2000, false, { pageSize: 200 }],
  ["row-groups-of-1", ["page v2", "row groups of 1 row"], 7, false, { rowGroupSize: 1 }],
];

/** Writes hyparquet-writer's files into `dir`; returns their descriptions. */
export function writeHyparquet(dir) {
  const out = [];
  for (const [name, features, rows, encodings, options] of FILES) {
    const file = `${dir}/hyparquet-writer-${name}.parquet`;
    const columnData = columns(rows, encodings).map((c) =>
      c.encoding === undefined ? { ...c, encoding: undefined } : c
    );
    writeFileSync(file, new Uint8Array(parquetWriteBuffer({ columnData, ...options })));
    out.push({ file, writer: "hyparquet-writer", features, rows });
  }
  return out;
}
