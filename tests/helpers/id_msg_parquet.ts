/**
 * The smallest Parquet file the pipeline tests need: a required INT32 `id` and an optional UTF8
 * `msg` per row, written by hyparquet-writer in one row group.
 * @module
 */
import { parquetWriteBuffer } from "hyparquet-writer";

/** A Parquet file of `rows`, each with its `id` and `msg`. */
export function idMsgParquet(rows: { id: number; msg: string }[]): Uint8Array {
  return new Uint8Array(parquetWriteBuffer({
    schema: [
      { name: "root", num_children: 2 },
      { name: "id", type: "INT32", repetition_type: "REQUIRED" },
      { name: "msg", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
    ] as never,
    columnData: [
      { name: "id", data: rows.map((r) => r.id) },
      { name: "msg", data: rows.map((r) => r.msg) },
    ] as never,
  }));
}
