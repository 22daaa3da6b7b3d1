/**
 * The one door to hyparquet's internals: the page, value and thrift readers the fast path
 * builds on, which hyparquet does not export from its package entry. Every deep import of
 * `hyparquet/src/*.js` is here, so an upgrade of hyparquet is checked in one place
 * (`hyparquet_test.ts` pins what is used). Its public API is imported from `hyparquet` directly.
 * @module
 */
export type { ColumnDecoder, DataPage, Encoding, PageHeader } from "hyparquet/src/types.js";
export { convert, convertWithDictionary, DEFAULT_PARSERS } from "hyparquet/src/convert.js";
export { decompressPage, readDataPage, readDataPageV2 } from "hyparquet/src/datapage.js";
export { readPlain } from "hyparquet/src/plain.js";
export { readVarInt } from "hyparquet/src/thrift.js";
/** hyparquet's own RLE/bit-packed reader: the reference the fast path's reader is tested against. */
export { readRleBitPackedHybrid } from "hyparquet/src/encoding.js";
