// Polars' Parquet writer (Rust, through nodejs-polars): every codec it writes, small pages,
// row groups of one row to more than 65,536, its nested types and temporal units.
import pl from "nodejs-polars";

const T0 = Date.UTC(2024, 4, 1);

/** `n` rows with nulls in every column, empty and null lists, lists of lists and of structs. */
function frame(n) {
  const col = (k, f) => Array.from({ length: n }, (_, i) => (i % k === 0 ? null : f(i)));
  const ts = (k, f, unit, tz) =>
    pl.Series(`ts_${unit}`, col(k, (i) => new Date(f(i))), pl.Datetime("ms")).cast(
      pl.Datetime(unit, tz),
    );
  // Lists of structs: (id, k, v) rows gathered per id; ids with none get a null list.
  const ids = [];
  const ks = [];
  const vs = [];
  for (let i = 0; i < n; i++) {
    if (i % 3 === 1) ids.push(i, i), ks.push(i, -i), vs.push("one", null);
    if (i % 3 === 2) ids.push(i), ks.push(-i), vs.push("two");
  }
  const structs = pl.DataFrame([
    pl.Series("id", ids, pl.Int64),
    pl.Series("k", ks, pl.Int64),
    pl.Series("v", vs, pl.Utf8),
  ]).groupBy("id").agg(pl.struct([pl.col("k"), pl.col("v")]).alias("structs"));
  return pl.DataFrame([
    pl.Series("id", Array.from({ length: n }, (_, i) => i), pl.Int64),
    pl.Series("i32", col(7, (i) => i * 7919 - 50_000), pl.Int32),
    pl.Series("u8", col(5, (i) => i % 256), pl.UInt8),
    pl.Series("i64", col(9, (i) => BigInt(i) * 1_000_000_007n - 3n), pl.Int64),
    pl.Series("f64", col(12, (i) => (i % 13 === 1 ? NaN : i * 1.25e10)), pl.Float64),
    pl.Series("f32", col(11, (i) => i / 3), pl.Float32),
    pl.Series("flag", col(3, (i) => i % 2 === 0), pl.Bool),
    pl.Series(
      "s",
      col(4, (i) => [`plain ${i}`, 'quote " \\ \t', `ünïcødé ✓ ${i}`, "\x01ctl", ""][i % 5]),
      pl.Utf8,
    ),
    pl.Series("category", col(4, (i) => `cat-${i % 3}`), pl.Utf8).cast(pl.Categorical),
    pl.Series("d", col(9, (i) => new Date(T0 + (i % 2000) * 86_400_000)), pl.Date),
    ts(11, (i) => T0 + i * 7, "ms", "UTC"),
    ts(12, (i) => T0 + i * 1001, "us", undefined),
    ts(13, (i) => T0 + i * 3000, "ns", "UTC"),
    pl.Series(
      "ints",
      Array.from({ length: n }, (_, i) => [null, [i, i + 1], [], [i]][i % 4]),
      pl.List(pl.Int64),
    ),
    pl.Series(
      "nested",
      Array.from({ length: n }, (_, i) => [null, [["a", "b"], [`b${i}`]], [[]], [["x"]]][i % 4]),
      pl.List(pl.List(pl.Utf8)),
    ),
  ]).join(structs, { on: "id", how: "left" }).sort("id").withColumns(
    pl.struct([pl.col("i32").alias("x"), pl.col("s").alias("y")]).alias("obj"),
  );
}

/** The files Polars writes: [name, features, rows, sinkParquet options]. */
const FILES = [
  ["zstd", ["ZSTD", "dictionary"], 3000, { compression: "zstd" }],
  ["snappy", ["SNAPPY"], 3000, { compression: "snappy" }],
  ["gzip", ["GZIP"], 3000, { compression: "gzip" }],
  ["brotli", ["BROTLI"], 3000, { compression: "brotli" }],
  ["lz4", ["LZ4_RAW"], 3000, { compression: "lz4" }],
  ["uncompressed", ["UNCOMPRESSED"], 3000, { compression: "uncompressed" }],
  ["small-pages", ["small pages"], 3000, { compression: "snappy", dataPagesizeLimit: 256 }],
  ["row-groups-of-1", ["row groups of 1 row"], 9, { rowGroupSize: 1 }],
  ["row-group-70000", ["row group > 65,536 rows"], 70_000, { rowGroupSize: 100_000 }],
];

/** Writes Polars' files into `dir`; returns their descriptions. */
export async function writePolars(dir) {
  const out = [];
  const frames = new Map();
  for (const [name, features, rows, options] of FILES) {
    if (!frames.has(rows)) frames.set(rows, frame(rows));
    const file = `${dir}/polars-${name}.parquet`;
    const r = frames.get(rows).lazy().sinkParquet(file, { maintainOrder: true, ...options });
    if (r && typeof r.collect === "function") await r.collect();
    out.push({ file, writer: "polars", features, rows });
  }
  return out;
}
