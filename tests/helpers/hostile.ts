/**
 * Small Parquet objects that would do large damage to a reader that trusts them: few bytes that
 * expand into gigabytes of events, of memory or of metadata. Each is a valid Parquet file.
 * @module
 */
import { zstdCompressSync } from "node:zlib";
import { parquetMetadata } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import { ByteWriter } from "hyparquet-writer/src/bytewriter.js";
import { writeMetadata } from "hyparquet-writer/src/metadata.js";

const KiB = 1024;

const text = (name: string) => ({
  name,
  type: "BYTE_ARRAY",
  converted_type: "UTF8",
  repetition_type: "REQUIRED",
});

/** `rows` rows whose one column holds the same string of `entryBytes` bytes: one dictionary entry. */
export function sharedDictionaryEntry(rows = 65_536, entryBytes = 64 * KiB): Uint8Array {
  const value = "x".repeat(entryBytes);
  return new Uint8Array(parquetWriteBuffer({
    schema: [{ name: "root", num_children: 1 }, text("s")] as never,
    columnData: [{ name: "s", data: new Array(rows).fill(value) }] as never,
  }));
}

/**
 * One row of `columns` columns, each holding one string of `bytes` copies of `char` (ZSTD: a
 * few KB in all).
 */
export function hugeValues(columns: number, bytes: number, char = "a"): Uint8Array {
  const value = char.repeat(bytes);
  const names = Array.from({ length: columns }, (_, i) => `c${i}`);
  return new Uint8Array(parquetWriteBuffer({
    schema: [{ name: "root", num_children: columns }, ...names.map(text)] as never,
    columnData: names.map((name) => ({ name, data: [value] })) as never,
    codec: "ZSTD" as never,
    compressors: { ZSTD: (input: Uint8Array) => new Uint8Array(zstdCompressSync(input)) } as never,
  }));
}

/** A small file whose footer names its one row group `copies` times (the same bytes each time). */
export function footerCopies(copies = 14_306): Uint8Array {
  const base = new Uint8Array(parquetWriteBuffer({
    schema: [
      { name: "root", num_children: 2 },
      { name: "id", type: "INT32", repetition_type: "REQUIRED" },
      text("msg"),
    ] as never,
    columnData: [
      { name: "id", data: [1, 2, 3] },
      { name: "msg", data: ["a", "b", "c"] },
    ] as never,
  }));
  const view = new DataView(base.buffer, base.byteOffset, base.byteLength);
  const footerLength = view.getUint32(base.length - 8, true);
  const footerStart = base.length - 8 - footerLength;
  const md = parquetMetadata(base.buffer as ArrayBuffer);
  const group = md.row_groups[0]!;
  const copied = {
    ...md,
    num_rows: md.num_rows * BigInt(copies),
    row_groups: Array.from({ length: copies }, () => group),
  };
  const w = new ByteWriter();
  w.appendBytes(base.subarray(0, footerStart));
  writeMetadata(w, copied as never);
  const out = new Uint8Array(w.getBytes());
  const tail = new TextDecoder().decode(out.subarray(out.length - 4));
  if (tail === "PAR1") return out;
  const full = new Uint8Array(out.length + 4);
  full.set(out);
  full.set(new TextEncoder().encode("PAR1"), out.length);
  return full;
}
