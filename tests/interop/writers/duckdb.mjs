// DuckDB's Parquet writer (COPY ... TO ... (FORMAT parquet)): every type it has, nulls in every
// position, every codec, page versions 1 and 2 (version 2 also writes DELTA and
// BYTE_STREAM_SPLIT encodings), dictionary on and off, row groups of one row to more than 65,536.
import { DuckDBInstance } from "@duckdb/node-api";

/** The rows: `n` of them, with nulls, empty and null lists, maps with null values. */
function select(n, big = false) {
  const nul = (k, expr) => `CASE WHEN i % ${k} = 0 THEN NULL ELSE ${expr} END`;
  return `SELECT
    i AS id,
    ${nul(5, "(i % 100)::TINYINT")} AS i8,
    ${nul(6, "(i * 7 % 30000)::SMALLINT")} AS i16,
    ${nul(7, "(i * 7919 - 50000)::INTEGER")} AS i32,
    ${nul(8, "(i * 104729 % 4000000000)::UINTEGER")} AS u32,
    ${nul(9, "(9007199254740993 + i * 1000003)::BIGINT")} AS i64,
    ${nul(10, "(18446744073709551000 - i)::UBIGINT")} AS u64,
    ${nul(11, "(i / 3.0)::FLOAT")} AS f32,
    ${nul(12, "CASE WHEN i % 13 = 1 THEN 'nan'::DOUBLE ELSE i * 1.25e10 END")} AS f64,
    ${nul(3, "i % 2 = 0")} AS flag,
    ${
    nul(
      4,
      `CASE i % 5 WHEN 0 THEN 'plain ' || i WHEN 1 THEN 'quote " backslash \\ tab ' || chr(9)
      WHEN 2 THEN 'ünïcødé ✓ ' || i WHEN 3 THEN chr(1) || 'ctl' ELSE '' END`,
    )
  } AS s,
    ${nul(4, "'cat-' || (i % 3)")} AS category,
    ${nul(5, "('\\x00\\xFF\\xFE' || i::VARCHAR)::BLOB")} AS bin,
    ${nul(6, "(i * 12345 % 1000000 / 100.0)::DECIMAL(9,2)")} AS dec9,
    ${nul(7, "(i * 1234567891 % 100000000000000 / 10000.0)::DECIMAL(18,4)")} AS dec18,
    ${nul(8, "(i * 98765 / 1000.0)::DECIMAL(30,3)")} AS dec30,
    ${nul(9, "DATE '2020-01-01' + (i % 2000)::INTEGER")} AS d,
    ${
    nul(
      10,
      "TIME '00:00:00' + INTERVAL (i % 86400) SECOND + INTERVAL (i % 1000) MICROSECOND",
    )
  } AS t,
    ${nul(11, "TIMESTAMP '2024-05-01 00:00:00' + INTERVAL (i * 1001) MICROSECOND")} AS ts_us,
    ${
    nul(
      12,
      "(TIMESTAMP '2024-05-01 00:00:00' + INTERVAL (i * 7) MILLISECOND)::TIMESTAMP_MS",
    )
  } AS ts_ms,
    ${
    nul(
      13,
      "(TIMESTAMP '2024-05-01 00:00:00' + INTERVAL (i * 3) SECOND)::TIMESTAMP_NS",
    )
  } AS ts_ns,
    ${nul(14, "(TIMESTAMPTZ '2024-05-01 00:00:00+00' + INTERVAL (i) MINUTE)")} AS ts_tz,
    CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN []::INTEGER[] WHEN 2 THEN [i, NULL, i + 1]
      ELSE [i] END AS ints,
    CASE i % 5 WHEN 0 THEN NULL WHEN 1 THEN [[]::VARCHAR[], NULL] WHEN 2 THEN [['a', NULL], ['b' || i]]
      ELSE [['x']] END AS nested,
    CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN [{'k': i, 'v': 'one'}, NULL, {'k': NULL, 'v': NULL}]
      ELSE [{'k': -i, 'v': 'two'}] END AS structs,
    CASE i % 6 WHEN 0 THEN NULL ELSE {'x': ${nul(2, "i")}, 'y': {'z': ${
    nul(3, "'z' || i")
  }}} END AS obj,
    CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN MAP {}::MAP(VARCHAR, INTEGER)
      WHEN 2 THEN MAP {'a': i, 'b': NULL} ELSE MAP {'k' || i: -1} END AS m,
    ${big ? "CASE WHEN i % 3 = 1 THEN repeat('L' || i, 30000) END" : "NULL::VARCHAR"} AS long_text
    FROM range(${n}) t(i)`;
}

/** The files DuckDB writes: [name, features, rows, COPY options]. */
const FILES = [
  [
    "v1-snappy",
    ["page v1", "SNAPPY", "dictionary"],
    3000,
    "COMPRESSION snappy",
  ],
  ["v1-gzip", ["page v1", "GZIP"], 3000, "COMPRESSION gzip"],
  ["v1-zstd", ["page v1", "ZSTD"], 3000, "COMPRESSION zstd"],
  ["v1-brotli", ["page v1", "BROTLI"], 3000, "COMPRESSION brotli"],
  ["v1-lz4raw", ["page v1", "LZ4_RAW"], 3000, "COMPRESSION lz4_raw"],
  [
    "v1-uncompressed",
    ["page v1", "UNCOMPRESSED"],
    3000,
    "COMPRESSION uncompressed",
  ],
  [
    "v2-zstd",
    [
      "page v2",
      "ZSTD",
      "DELTA_BINARY_PACKED",
      "DELTA_LENGTH_BYTE_ARRAY",
      "BYTE_STREAM_SPLIT",
    ],
    3000,
    "COMPRESSION zstd, PARQUET_VERSION v2",
  ],
  [
    "v2-snappy",
    ["page v2", "SNAPPY"],
    3000,
    "COMPRESSION snappy, PARQUET_VERSION v2",
  ],
  [
    "no-dictionary",
    ["dictionary off"],
    3000,
    "COMPRESSION snappy, DICTIONARY_SIZE_LIMIT 1, STRING_DICTIONARY_PAGE_SIZE_LIMIT 1",
  ],
  ["row-groups-of-1", ["row groups of 1 row"], 7, "ROW_GROUP_SIZE 1"],
  [
    "row-group-70000",
    ["row group > 65,536 rows"],
    70_000,
    "ROW_GROUP_SIZE 100000",
  ],
  ["long-strings", ["strings > 64 KiB"], 12, "COMPRESSION zstd", true],
];

/** Writes DuckDB's files into `dir`; returns their descriptions. */
export async function writeDuckdb(dir) {
  const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
  const conn = await instance.connect();
  await conn.run("SET TimeZone = 'UTC'");
  const out = [];
  for (const [name, features, rows, options, big] of FILES) {
    const file = `${dir}/duckdb-${name}.parquet`;
    await conn.run(
      `COPY (${select(rows, big)} ORDER BY id) TO '${file}' (FORMAT parquet, ${options})`,
    );
    out.push({ file, writer: "duckdb", features, rows });
  }
  return out;
}
