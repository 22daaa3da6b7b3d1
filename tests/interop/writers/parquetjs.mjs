// parquetjs 0.11's writer: repeated fields outside any LIST annotation (bare repeated primitives
// and groups), INT96, TIME and TIMESTAMP in milliseconds and microseconds, RLE-encoded booleans
// (its RLE integers are outside the format, which has RLE for booleans only), page versions 1 and 2, GZIP, SNAPPY, BROTLI and uncompressed pages.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const parquet = require("parquetjs");

const T0 = Date.UTC(2024, 4, 1);

function schema(compression) {
  const c = { compression };
  return new parquet.ParquetSchema({
    id: { type: "INT64", ...c },
    i32: { type: "INT32", optional: true, ...c },
    flag: { type: "BOOLEAN", optional: true, ...c },
    flag_rle: { type: "BOOLEAN", encoding: "RLE", typeLength: 1, optional: true, ...c },
    f32: { type: "FLOAT", optional: true, ...c },
    f64: { type: "DOUBLE", optional: true, ...c },
    s: { type: "UTF8", optional: true, ...c },
    raw: { type: "BYTE_ARRAY", optional: true, ...c },
    json: { type: "JSON", optional: true, ...c },
    u8: { type: "UINT_8", optional: true, ...c },
    i64: { type: "INT_64", optional: true, ...c },
    int96: { type: "INT96", optional: true, ...c },
    d: { type: "DATE", optional: true, ...c },
    t_ms: { type: "TIME_MILLIS", optional: true, ...c },
    t_us: { type: "TIME_MICROS", optional: true, ...c },
    ts_ms: { type: "TIMESTAMP_MILLIS", optional: true, ...c },
    ts_us: { type: "TIMESTAMP_MICROS", optional: true, ...c },
    tags: { type: "UTF8", repeated: true, ...c },
    stock: {
      repeated: true,
      fields: {
        quantity: { type: "INT64", repeated: true, ...c },
        warehouse: { type: "UTF8", ...c },
      },
    },
    info: {
      optional: true,
      fields: { x: { type: "INT32", optional: true, ...c }, y: { type: "UTF8", ...c } },
    },
  });
}

function row(i) {
  const maybe = (k, v) => (i % k === 0 ? undefined : v);
  return {
    id: i,
    i32: maybe(7, i * 7919 - 50_000),
    flag: maybe(3, i % 2 === 0),
    flag_rle: maybe(4, i % 3 === 0),
    f32: maybe(11, i / 4),
    f64: maybe(12, i * 1.25e10),
    s: maybe(4, [`plain ${i}`, 'quote " \\ \t', `ünïcødé ✓ ${i}`, "\x01ctl", ""][i % 5]),
    raw: maybe(5, Buffer.from([0, 0xff, 0xfe, i & 0xff])),
    json: maybe(6, { a: i, b: [1, "two"] }),
    u8: maybe(8, i % 256),
    i64: maybe(9, i * 1_000_003),
    // Low 8 bytes: nanoseconds of the day; parquetjs writes the Julian day as 0.
    int96: maybe(10, i * 1_000_000_007),
    d: maybe(9, new Date(T0 + (i % 2000) * 86_400_000)),
    t_ms: maybe(10, (i * 1001) % 86_400_000),
    t_us: maybe(10, (i * 1_000_003) % 86_400_000_000),
    ts_ms: maybe(11, new Date(T0 + i * 7)),
    ts_us: maybe(12, new Date(T0 + i * 1001)),
    tags: [[], ["a"], ["b", `c${i}`]][i % 3],
    stock: [
      [],
      [{ quantity: [i, 2], warehouse: "A" }, { quantity: [], warehouse: "B" }],
      [{ quantity: [3], warehouse: `W${i}` }],
    ][i % 3],
    info: maybe(6, { x: maybe(4, i), y: `y${i % 3}` }),
  };
}

/** The files parquetjs writes: [name, features, rows, compression, writer options]. */
const FILES = [
  ["v1-gzip", ["page v1", "GZIP", "INT96"], 2000, "GZIP", { useDataPageV2: false }],
  ["v1-snappy", ["page v1", "SNAPPY"], 2000, "SNAPPY", { useDataPageV2: false }],
  ["v2-brotli", ["page v2", "BROTLI"], 2000, "BROTLI", { useDataPageV2: true }],
  ["v2-uncompressed", ["page v2", "UNCOMPRESSED"], 2000, "UNCOMPRESSED", {}],
  [
    "row-groups-of-1",
    ["page v1", "row groups of 1 row"],
    7,
    "SNAPPY",
    { useDataPageV2: false, rowGroupSize: 1 },
  ],
];

/** Writes parquetjs's files into `dir`; returns their descriptions. */
export async function writeParquetjs(dir) {
  const out = [];
  for (const [name, features, rows, compression, options] of FILES) {
    const file = `${dir}/parquetjs-${name}.parquet`;
    const writer = await parquet.ParquetWriter.openFile(schema(compression), file, options);
    for (let i = 0; i < rows; i++) await writer.appendRow(row(i));
    await writer.close();
    out.push({ file, writer: "parquetjs", features, rows });
  }
  return out;
}
