// Apache Arrow's Rust writer (arrow-rs, as parquet-wasm), tables built with apache-arrow: every
// codec (LZ4_RAW and Hadoop's LZ4 framing included), page versions 1 and 2, dictionary on and
// off, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT,
// pages of a few values, row groups of one row to more than 65,536.
import { writeFileSync } from "node:fs";
import * as A from "apache-arrow";
import * as W from "parquet-wasm";

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 4, 1);

/** `n` rows: nulls in every column, empty and null lists, maps with null values. */
function table(n) {
  const col = (k, f) => Array.from({ length: n }, (_, i) => (i % k === 0 ? null : f(i)));
  const entry = new A.Field(
    "entries",
    new A.Struct([
      new A.Field("key", new A.Utf8(), false),
      new A.Field("value", new A.Int32(), true),
    ]),
    false,
  );
  const kv = new A.Struct([
    new A.Field("k", new A.Int64(), true),
    new A.Field("v", new A.Utf8(), true),
  ]);
  const columns = {
    id: A.vectorFromArray(
      Array.from({ length: n }, (_, i) => BigInt(i)),
      new A.Int64(),
    ),
    i32: A.vectorFromArray(col(7, (i) => i * 7919 - 50_000), new A.Int32()),
    i64: A.vectorFromArray(
      col(9, (i) => 9_007_199_254_740_993n + BigInt(i)),
      new A.Int64(),
    ),
    u16: A.vectorFromArray(col(8, (i) => i % 65_536), new A.Uint16()),
    f32: A.vectorFromArray(col(11, (i) => i / 3), new A.Float32()),
    f64: A.vectorFromArray(
      col(
        12,
        (i) => (i % 13 === 1 ? NaN : i % 13 === 2 ? -Infinity : i * 1.25e10),
      ),
      new A.Float64(),
    ),
    flag: A.vectorFromArray(col(3, (i) => i % 2 === 0), new A.Bool()),
    s: A.vectorFromArray(
      col(
        4,
        (i) =>
          [
            `plain ${i}`,
            'quote " backslash \\ tab \t',
            `ünïcødé ✓ ${i}`,
            "\x01ctl",
            "",
          ][i % 5],
      ),
      new A.Utf8(),
    ),
    category: A.vectorFromArray(col(4, (i) => `cat-${i % 3}`), new A.Utf8()),
    large: A.vectorFromArray(
      col(5, (i) => `large ${i % 17}`),
      new A.LargeUtf8(),
    ),
    bin: A.vectorFromArray(
      col(5, (i) => new Uint8Array([0, 0xff, 0xfe, i & 0xff])),
      new A.Binary(),
    ),
    text_bin: A.vectorFromArray(
      col(6, (i) => new TextEncoder().encode(`utf-8 bytes ${i}`)),
      new A.Binary(),
    ),
    d: A.vectorFromArray(
      col(9, (i) => (18_000 + (i % 2000)) * DAY),
      new A.DateDay(),
    ),
    t_ms: A.vectorFromArray(
      col(10, (i) => (i * 1001) % DAY),
      new A.TimeMillisecond(),
    ),
    t_us: A.vectorFromArray(
      col(10, (i) => BigInt((i * 1_000_003) % (DAY * 1000))),
      new A.TimeMicrosecond(),
    ),
    ts_ms: A.vectorFromArray(
      col(11, (i) => T0 + i * 7),
      new A.TimestampMillisecond("UTC"),
    ),
    ts_us: A.vectorFromArray(
      col(12, (i) => T0 + i * 1001),
      new A.TimestampMicrosecond(),
    ),
    ts_ns: A.vectorFromArray(
      col(13, (i) => T0 + i * 3000),
      new A.TimestampNanosecond("UTC"),
    ),
    ints: A.vectorFromArray(
      Array.from(
        { length: n },
        (_, i) => [null, [], [i, null, i + 1], [i]][i % 4],
      ),
      new A.List(new A.Field("item", new A.Int32(), true)),
    ),
    nested: A.vectorFromArray(
      Array.from(
        { length: n },
        (_, i) => [null, [[], null], [["a", null], [`b${i}`]], [["x"]]][i % 4],
      ),
      new A.List(
        new A.Field(
          "item",
          new A.List(new A.Field("item", new A.Utf8(), true)),
          true,
        ),
      ),
    ),
    structs: A.vectorFromArray(
      Array.from(
        { length: n },
        (_, i) =>
          [null, [{ k: BigInt(i), v: "one" }, null, { k: null, v: null }], [{
            k: BigInt(-i),
            v: "two",
          }]][i % 3],
      ),
      new A.List(new A.Field("item", kv, true)),
    ),
    obj: A.vectorFromArray(
      Array.from(
        { length: n },
        (
          _,
          i,
        ) => (i % 6 === 0 ? null : { x: i % 2 ? i : null, y: { z: i % 3 ? `z${i}` : null } }),
      ),
      new A.Struct([
        new A.Field("x", new A.Int32(), true),
        new A.Field(
          "y",
          new A.Struct([new A.Field("z", new A.Utf8(), true)]),
          true,
        ),
      ]),
    ),
    m: A.vectorFromArray(
      Array.from(
        { length: n },
        (_, i) =>
          [
            null,
            new Map(),
            new Map([["a", i], ["b", null]]),
            new Map([[`k${i}`, -1]]),
          ][i % 4],
      ),
      new A.Map_(entry),
    ),
  };
  return new A.Table(columns);
}

const C = W.Compression;
const E = W.Encoding;

/** The files arrow-rs writes: [name, features, rows, properties]. */
const FILES = [
  [
    "v1-snappy",
    ["page v1", "SNAPPY", "dictionary"],
    3000,
    (b) => b.setCompression(C.SNAPPY),
  ],
  ["v1-gzip", ["page v1", "GZIP"], 3000, (b) => b.setCompression(C.GZIP)],
  ["v1-brotli", ["page v1", "BROTLI"], 3000, (b) => b.setCompression(C.BROTLI)],
  ["v1-zstd", ["page v1", "ZSTD"], 3000, (b) => b.setCompression(C.ZSTD)],
  [
    "v1-lz4raw",
    ["page v1", "LZ4_RAW"],
    3000,
    (b) => b.setCompression(C.LZ4_RAW),
  ],
  // DuckDB does not read Hadoop's LZ4 framing: the rows it reads from the same table written
  // with LZ4_RAW are this file's oracle.
  [
    "v1-lz4",
    ["page v1", "LZ4 (Hadoop)"],
    3000,
    (b) => b.setCompression(C.LZ4),
    "v1-lz4raw",
  ],
  ["v1-uncompressed", ["page v1", "UNCOMPRESSED"], 3000, (b) => b],
  [
    "v2-zstd",
    ["page v2", "ZSTD"],
    3000,
    (b) => b.setWriterVersion(W.WriterVersion.V2).setCompression(C.ZSTD),
  ],
  [
    "v2-uncompressed",
    ["page v2", "UNCOMPRESSED"],
    3000,
    (b) => b.setWriterVersion(W.WriterVersion.V2),
  ],
  [
    "no-dictionary",
    ["dictionary off"],
    3000,
    (b) => b.setDictionaryEnabled(false),
  ],
  [
    "delta-v1",
    [
      "DELTA_BINARY_PACKED",
      "DELTA_LENGTH_BYTE_ARRAY",
      "DELTA_BYTE_ARRAY",
      "BYTE_STREAM_SPLIT",
    ],
    3000,
    (b) => deltas(b),
  ],
  [
    "delta-v2",
    ["page v2", "DELTA_BINARY_PACKED", "DELTA_BYTE_ARRAY", "BYTE_STREAM_SPLIT"],
    3000,
    (b) => deltas(b.setWriterVersion(W.WriterVersion.V2)),
  ],
  [
    "small-pages",
    ["small pages"],
    3000,
    (b) =>
      b.setDataPageSizeLimit(128).setWriteBatchSize(8)
        .setDictionaryPageSizeLimit(256),
  ],
  [
    "small-pages-v2",
    ["page v2", "small pages"],
    3000,
    (b) =>
      b.setWriterVersion(W.WriterVersion.V2).setDataPageSizeLimit(128)
        .setWriteBatchSize(8)
        .setCompression(C.SNAPPY),
  ],
  [
    "row-groups-of-1",
    ["row groups of 1 row"],
    9,
    (b) => b.setMaxRowGroupSize(1),
  ],
  [
    "row-group-70000",
    ["row group > 65,536 rows"],
    70_000,
    (b) => b.setMaxRowGroupSize(100_000).setCompression(C.ZSTD),
  ],
];

function deltas(b) {
  b = b.setDictionaryEnabled(false);
  for (
    const c of [
      "id",
      "i32",
      "i64",
      "ts_ms",
      "ts_us",
      "ts_ns",
      "t_us",
      "d",
      "ints.list.item",
    ]
  ) {
    b = b.setColumnEncoding(c, E.DELTA_BINARY_PACKED);
  }
  b = b.setColumnEncoding("s", E.DELTA_LENGTH_BYTE_ARRAY).setColumnEncoding(
    "bin",
    E.DELTA_BYTE_ARRAY,
  )
    .setColumnEncoding("category", E.DELTA_BYTE_ARRAY).setColumnEncoding(
      "large",
      E.DELTA_BYTE_ARRAY,
    );
  for (const c of ["f32", "f64"]) {
    b = b.setColumnEncoding(c, E.BYTE_STREAM_SPLIT);
  }
  return b;
}

/** Writes arrow-rs's files into `dir`; returns their descriptions. */
export function writeArrow(dir) {
  const out = [];
  const tables = new Map();
  for (const [name, features, rows, props, sameAs] of FILES) {
    if (!tables.has(rows)) {
      tables.set(rows, A.tableToIPC(table(rows), "stream"));
    }
    const wasm = W.Table.fromIPCStream(tables.get(rows));
    const file = `${dir}/arrow-rs-${name}.parquet`;
    writeFileSync(
      file,
      W.writeParquet(wasm, props(new W.WriterPropertiesBuilder()).build()),
    );
    const oracleFile = sameAs && `${dir}/arrow-rs-${sameAs}.parquet`;
    out.push({
      file,
      writer: "arrow-rs (parquet-wasm)",
      features,
      rows,
      oracleFile,
    });
  }
  return out;
}
