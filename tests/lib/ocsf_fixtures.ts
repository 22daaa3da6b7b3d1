/**
 * Deterministic generator of OCSF-like Amazon Security Lake Parquet files.
 *
 * Used by tests, the demo (`deno task demo`) and benchmarks. Every value comes from a seeded PRNG
 * (mulberry32, re-seeded per row), so the same options always give the same events and the same
 * bytes; nothing reads the clock or `Math.random`.
 *
 * Two physical layouts are written (see {@link ParquetLayout}):
 *
 * - `"standard"` — what pyarrow, Spark and most custom-source writers produce: 3-level LIST
 *   (`<name> (LIST) { repeated group list { optional element } }`) and MAP
 *   (`<name> (MAP) { repeated group key_value { required key; optional value } }`), with logical
 *   types (STRING, LIST, MAP, TIMESTAMP(MILLIS, UTC)) as well as converted types. Written through
 *   hyparquet-writer's own `ParquetWriter.write` (its Dremel encoder).
 * - `"avro"` — what Security Lake's parquet-mr/Avro writer produces for native `aws/` sources:
 *   legacy 2-level LIST (`<name> (LIST) { repeated <type> array }`), MAP as
 *   `<name> (MAP) { repeated group map (MAP_KEY_VALUE) { required key; required value } }`,
 *   converted types only, and the root named after the OCSF class (`api_activity`). hyparquet-writer
 *   cannot encode 2-level lists, so this layout is shredded here and handed to its `writeColumn`.
 *   Like Security Lake's own files, hyparquet reads a 2-level list of structs back as
 *   `{ array: [...] }` (a list of strings comes back as an array): the collector must unwrap it.
 *
 * CLI:
 *
 * ```sh
 * deno run -A scripts/ocsf_fixtures.ts --out DIR [--rows N] [--class 6003] [--codec ZSTD] \
 *   [--row-group N] [--seed N] [--layout standard|avro]
 * deno run -A scripts/ocsf_fixtures.ts --demo-lake DIR [--seed N]
 * ```
 *
 * @module
 */

import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { writeColumn } from "hyparquet-writer/src/column.js";
import type { CompressionCodec } from "hyparquet";
import type { SchemaElement } from "hyparquet-writer";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { parseArgs } from "node:util";

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** OCSF class UIDs the generator knows: API Activity, Network Activity, DNS Activity, Detection Finding. */
export type OcsfClassUid = 6003 | 4001 | 4003 | 2004;

/** Codecs the generator can write. GZIP and ZSTD use `node:zlib`; SNAPPY is hyparquet-writer's own. */
export type FixtureCodec = "GZIP" | "ZSTD" | "SNAPPY" | "UNCOMPRESSED";

/**
 * Physical Parquet layout for LIST and MAP columns: `"standard"` (3-level `list`/`element`, MAP
 * `key_value`, logical types; pyarrow/Spark style) or `"avro"` (legacy 2-level `array`, MAP
 * `map (MAP_KEY_VALUE)`, converted types only, root named after the class; Security Lake native).
 */
export type ParquetLayout = "standard" | "avro";

/**
 * A value inside a generated event, in the form the Parquet writer takes: INT64 columns are
 * `bigint`, TIMESTAMP columns are `Date`, MAP columns are plain `Record<string, string>`,
 * absent values are `null`.
 */
export type OcsfValue =
  | string
  | number
  | bigint
  | boolean
  | Date
  | null
  | OcsfValue[]
  | { [key: string]: OcsfValue };

/** One generated OCSF event (writer form; see {@link OcsfValue} and {@link toExpected}). */
export type OcsfEvent = { [key: string]: OcsfValue };

/** Options of {@link generateEvents}. */
export interface GenerateEventsOptions {
  /** OCSF class to generate. */
  classUid: OcsfClassUid;
  /** Number of events, a non-negative integer. */
  rows: number;
  /** PRNG seed, an integer in 0..2^32-1. */
  seed: number;
  /** Index of the first event; row `i` is identical whatever batch it is generated in. Default 0. */
  startRow?: number;
  /** Pin `cloud.region` (and `region`) of every event, as a Security Lake partition would. */
  region?: string;
  /** Pin `cloud.account.uid` (and `accountid`) of every event. */
  accountId?: string;
}

/** Options of {@link writeOcsfParquet}. */
export interface WriteOcsfParquetOptions extends Omit<GenerateEventsOptions, "startRow"> {
  /** Rows per row group. Default 20,000. */
  rowGroupSize?: number;
  /** Compression codec of every column chunk. Default `"GZIP"` (what Security Lake writes). */
  codec?: FixtureCodec;
  /** Physical layout of LIST/MAP columns. Default `"standard"`. */
  layout?: ParquetLayout;
}

/** Result of {@link writeOcsfParquet}. */
export interface WriteOcsfParquetResult {
  /** The path written. */
  path: string;
  /** Number of rows written. */
  rows: number;
  /** File size in bytes. */
  bytes: number;
  /**
   * The events exactly as the collector must emit them ({@link toExpected}); only when
   * `rows <= EXPECTED_ROWS_LIMIT`, otherwise `undefined` (to keep memory flat).
   */
  expected: Record<string, unknown>[] | undefined;
}

/** One Parquet object of the demo lake. */
export interface DemoLakeFile {
  /** Absolute or `dir`-relative path on disk (`dir` joined with `key`). */
  path: string;
  /** The S3-style key relative to the lake root (`aws/CLOUD_TRAIL_MGMT/2.0/...`). */
  key: string;
  /** Rows in the file. */
  rows: number;
  /** Codec of the file. */
  codec: FixtureCodec;
  /** OCSF class of every row. */
  classUid: OcsfClassUid;
  /** Row groups in the file. */
  rowGroups: number;
  /** Physical layout of the file. */
  layout: ParquetLayout;
}

/** Result of {@link writeDemoLake}. */
export interface DemoLakeResult {
  /** The Parquet objects written (the non-Parquet files are listed in `skipped`). */
  files: DemoLakeFile[];
  /** Keys of the non-Parquet objects written, which a collector must skip. */
  skipped: string[];
  /** Sum of `rows` over `files`. */
  totalRows: number;
}

/** `writeOcsfParquet` returns `expected` only up to this many rows. */
export const EXPECTED_ROWS_LIMIT = 50_000;

/** The INT64 value above 2^53 that row {@link BIG_INT64_ROW} carries in `metadata.sequence`. */
export const BIG_INT64 = 9007199254740993n;

/** Row index (when `rows > 7`) whose `metadata.sequence` is {@link BIG_INT64}. */
export const BIG_INT64_ROW = 7;

/** Class UIDs the generator supports, in a stable order. */
export const OCSF_CLASS_UIDS: readonly OcsfClassUid[] = [6003, 4001, 4003, 2004];

/** OCSF class names in snake case, as Security Lake names the Parquet root (`api_activity`). */
export const OCSF_CLASS_ROOT_NAMES: Readonly<Record<OcsfClassUid, string>> = {
  6003: "api_activity",
  4001: "network_activity",
  4003: "dns_activity",
  2004: "detection_finding",
};

// ---------------------------------------------------------------------------------------------
// Field specifications (one tree per class drives the Parquet schema, the writer and `expected`)
// ---------------------------------------------------------------------------------------------

type LeafKind = "string" | "int32" | "int64" | "timestamp" | "boolean";

interface FieldSpec {
  readonly name: string;
  readonly kind: LeafKind | "struct" | "list" | "map";
  readonly required: boolean;
  /** Children of a struct, or of a list element that is a struct. */
  readonly fields?: readonly FieldSpec[];
  /** Element of a list (its `name` is unused). */
  readonly element?: FieldSpec;
}

const leaf = (kind: LeafKind) => (name: string, required = false): FieldSpec => ({
  name,
  kind,
  required,
});
const str = leaf("string");
const i32 = leaf("int32");
const i64 = leaf("int64");
const ts = leaf("timestamp");
const bool = leaf("boolean");
const struct = (name: string, fields: FieldSpec[], required = false): FieldSpec => ({
  name,
  kind: "struct",
  required,
  fields,
});
const listOf = (name: string, element: FieldSpec): FieldSpec => ({
  name,
  kind: "list",
  required: false,
  element,
});
const mapOf = (name: string): FieldSpec => ({ name, kind: "map", required: false });

const productSpec = struct("product", [
  str("version"),
  str("name", true),
  str("vendor_name", true),
  struct("feature", [str("name", true)]),
]);
const tailSpecs = [str("accountid"), str("region"), str("asl_version")];
/** The class header as numbers only (the shape the 6003 and 4001 fixtures keep lean with). */
const classIdSpecs = [
  i32("class_uid", true),
  i32("category_uid", true),
  i32("severity_id", true),
  i32("activity_id", true),
  i64("type_uid", true),
];
/** The full class header with its names, as Security Lake's own writers add it. */
const classHeaderSpecs = [
  str("class_name", true),
  i32("class_uid", true),
  str("category_name", true),
  i32("category_uid", true),
  i32("severity_id", true),
  str("severity", true),
  str("activity_name", true),
  i32("activity_id", true),
  i64("type_uid", true),
  str("type_name", true),
];
const cloudSpec = struct("cloud", [
  str("region"),
  str("provider", true),
  struct("account", [str("uid")]),
]);
const observablesSpec = listOf(
  "observables",
  struct("element", [str("name"), str("value"), str("type"), i32("type_id")]),
);

const API_ACTIVITY: readonly FieldSpec[] = [
  struct("metadata", [
    struct("product", [
      str("name", true),
      str("vendor_name", true),
      struct("feature", [str("name", true)]),
    ]),
    str("uid"),
    listOf("profiles", str("element")),
    str("version", true),
    ts("processed_time_dt"),
    i64("sequence"),
  ]),
  i64("time", true),
  ts("time_dt"),
  cloudSpec,
  struct("api", [
    struct("response", [str("error"), str("message")]),
    str("operation"),
    struct("service", [str("name")]),
    struct("request", [str("uid")]),
  ]),
  listOf(
    "resources",
    struct("element", [
      str("uid"),
      struct("owner", [struct("account", [str("uid")])]),
      str("type"),
    ]),
  ),
  struct("actor", [
    struct("user", [
      str("type"),
      str("name"),
      str("uid"),
      struct("account", [str("uid")]),
      str("credential_uid"),
    ]),
    struct("session", [ts("created_time_dt"), bool("is_mfa"), str("issuer")]),
  ]),
  struct("http_request", [str("user_agent")]),
  struct("src_endpoint", [str("uid"), str("ip"), str("domain")]),
  ...classIdSpecs,
  str("status"),
  i32("status_id"),
  mapOf("unmapped"),
  ...tailSpecs,
  observablesSpec,
];

const NETWORK_ACTIVITY: readonly FieldSpec[] = [
  struct("metadata", [
    str("uid"),
    str("version", true),
    struct("product", [str("name", true)]),
  ]),
  i64("time", true),
  ts("time_dt"),
  ...classIdSpecs,
  struct("src_endpoint", [
    str("ip"),
    i32("port"),
    str("vpc_uid"),
    str("instance_uid"),
    str("interface_uid"),
  ]),
  struct("dst_endpoint", [str("ip"), i32("port")]),
  struct("connection_info", [
    i32("protocol_num"),
    str("direction"),
    i32("tcp_flags"),
    str("boundary"),
  ]),
  struct("traffic", [i64("bytes"), i64("packets")]),
  str("action"),
  str("disposition"),
  ts("start_time_dt"),
  ts("end_time_dt"),
  struct("cloud", [struct("account", [str("uid")]), str("region")]),
];

const DNS_ACTIVITY: readonly FieldSpec[] = [
  struct("metadata", [
    productSpec,
    str("uid"),
    listOf("profiles", str("element")),
    str("version", true),
  ]),
  i64("time", true),
  ts("time_dt"),
  cloudSpec,
  struct("src_endpoint", [
    str("vpc_uid"),
    str("ip"),
    i32("port"),
    str("instance_uid"),
  ]),
  struct("query", [str("hostname"), str("type"), str("class"), i32("packet_uid")]),
  listOf("answers", struct("element", [str("type"), str("rdata"), str("class")])),
  struct("connection_info", [str("protocol_name"), str("direction"), i32("direction_id")]),
  ...classHeaderSpecs,
  str("rcode"),
  i32("rcode_id"),
  mapOf("unmapped"),
  ...tailSpecs,
];

const DETECTION_FINDING: readonly FieldSpec[] = [
  struct("metadata", [
    productSpec,
    str("uid"),
    listOf("profiles", str("element")),
    str("version", true),
  ]),
  i64("time", true),
  ts("time_dt"),
  cloudSpec,
  struct("finding_info", [
    str("uid", true),
    str("title"),
    str("desc"),
    listOf("types", str("element")),
    ts("created_time_dt"),
    ts("first_seen_time_dt"),
    ts("last_seen_time_dt"),
    str("src_url"),
  ]),
  listOf(
    "resources",
    struct("element", [
      str("uid"),
      str("type"),
      str("region"),
      listOf("labels", str("element")),
    ]),
  ),
  ...classHeaderSpecs,
  i32("confidence_score"),
  str("status"),
  i32("status_id"),
  mapOf("unmapped"),
  ...tailSpecs,
  observablesSpec,
];

const SPECS: Readonly<Record<OcsfClassUid, readonly FieldSpec[]>> = {
  6003: API_ACTIVITY,
  4001: NETWORK_ACTIVITY,
  4003: DNS_ACTIVITY,
  2004: DETECTION_FINDING,
};

// ---------------------------------------------------------------------------------------------
// Parquet schema
// ---------------------------------------------------------------------------------------------

/**
 * The Parquet schema (flattened, depth-first, root first) that {@link writeOcsfParquet} writes for
 * `classUid` in `layout`. See {@link ParquetLayout} for the LIST/MAP shapes.
 */
export function ocsfSchema(
  classUid: OcsfClassUid,
  layout: ParquetLayout = "standard",
): SchemaElement[] {
  const fields = specFor(classUid);
  const rootName = layout === "avro" ? OCSF_CLASS_ROOT_NAMES[classUid] : "schema";
  const out: SchemaElement[] = [{ name: rootName, num_children: fields.length }];
  for (const field of fields) pushField(out, field, layout);
  return out;
}

function pushField(out: SchemaElement[], f: FieldSpec, layout: ParquetLayout, as?: {
  name: string;
  repetition: "REQUIRED" | "OPTIONAL" | "REPEATED";
}): void {
  const name = as?.name ?? f.name;
  const repetition_type = as?.repetition ?? (f.required ? "REQUIRED" : "OPTIONAL");
  const std = layout === "standard";
  switch (f.kind) {
    case "string":
      out.push({
        name,
        repetition_type,
        type: "BYTE_ARRAY",
        converted_type: "UTF8",
        ...(std ? { logical_type: { type: "STRING" } } : {}),
      });
      return;
    case "int32":
      out.push({ name, repetition_type, type: "INT32" });
      return;
    case "int64":
      out.push({ name, repetition_type, type: "INT64" });
      return;
    case "boolean":
      out.push({ name, repetition_type, type: "BOOLEAN" });
      return;
    case "timestamp":
      out.push({
        name,
        repetition_type,
        type: "INT64",
        converted_type: "TIMESTAMP_MILLIS",
        ...(std
          ? { logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" } }
          : {}),
      });
      return;
    case "struct": {
      const fields = f.fields ?? [];
      out.push({ name, repetition_type, num_children: fields.length });
      for (const child of fields) pushField(out, child, layout);
      return;
    }
    case "list": {
      const element = f.element;
      if (!element) throw new Error(`List field ${f.name} has no element`);
      out.push({
        name,
        repetition_type,
        num_children: 1,
        converted_type: "LIST",
        ...(std ? { logical_type: { type: "LIST" } } : {}),
      });
      if (std) {
        out.push({ name: "list", repetition_type: "REPEATED", num_children: 1 });
        pushField(out, element, layout, { name: "element", repetition: "OPTIONAL" });
      } else {
        pushField(out, element, layout, { name: "array", repetition: "REPEATED" });
      }
      return;
    }
    case "map":
      out.push({
        name,
        repetition_type,
        num_children: 1,
        converted_type: "MAP",
        ...(std ? { logical_type: { type: "MAP" } } : {}),
      });
      if (std) {
        out.push({ name: "key_value", repetition_type: "REPEATED", num_children: 2 });
      } else {
        out.push({
          name: "map",
          repetition_type: "REPEATED",
          num_children: 2,
          converted_type: "MAP_KEY_VALUE",
        });
      }
      pushField(out, str("key", true), layout);
      pushField(out, str("value", !std), layout);
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Expected output (the value policy applied to the writer-form event)
// ---------------------------------------------------------------------------------------------

/**
 * Converts a generated event to what the collector must emit for it, following the value policy
 * in ARCHITECTURE.md: INT64 becomes a `number`, or stays a `bigint` when outside ±(2^53-1);
 * TIMESTAMP (`*_dt`) becomes an RFC 3339 UTC string with milliseconds
 * (`2024-04-10T12:05:00.123Z`); `time` (plain INT64 epoch ms) becomes a number; MAP becomes an
 * object (entries in file order); every LIST becomes an array (an empty list stays `[]`).
 *
 * Null rule: a null field is left out entirely, at every depth; a null struct is left out; a
 * present struct whose children are all null becomes `{}` (it is not collapsed to absent). Keys
 * come in Parquet schema order; nothing is flattened.
 */
export function toExpected(event: OcsfEvent, classUid: OcsfClassUid): Record<string, unknown> {
  return expectStruct(event, specFor(classUid));
}

function expectStruct(value: unknown, fields: readonly FieldSpec[]): Record<string, unknown> {
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = obj[f.name];
    if (v === null || v === undefined) continue;
    out[f.name] = expectValue(v, f);
  }
  return out;
}

function expectValue(v: unknown, f: FieldSpec): unknown {
  switch (f.kind) {
    case "string":
    case "int32":
    case "boolean":
      return v;
    case "int64": {
      const big = v as bigint;
      const safe = big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= BigInt(Number.MIN_SAFE_INTEGER);
      return safe ? Number(big) : big;
    }
    case "timestamp":
      return (v as Date).toISOString();
    case "struct":
      return expectStruct(v, f.fields ?? []);
    case "list": {
      const element = f.element as FieldSpec;
      return (v as unknown[]).map((item) => expectValue(item, element));
    }
    case "map":
      return { ...(v as Record<string, string>) };
  }
}

// ---------------------------------------------------------------------------------------------
// PRNG and value helpers
// ---------------------------------------------------------------------------------------------

/** Mixes seed, class and row into one 32-bit state (murmur3 finaliser over a running hash). */
function rowSeed(seed: number, classUid: number, row: number): number {
  let h = 0x9e3779b9 ^ seed;
  for (const part of [classUid, row >>> 0, Math.floor(row / 2 ** 32)]) {
    h = Math.imul(h ^ part, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** mulberry32 with a few helpers. */
export class Rng {
  #state: number;

  constructor(state: number) {
    this.#state = state >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  hex(length: number): string {
    let s = "";
    for (let i = 0; i < length; i++) s += "0123456789abcdef"[this.int(0, 15)];
    return s;
  }

  upper(length: number): string {
    let s = "";
    for (let i = 0; i < length; i++) s += "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[this.int(0, 31)];
    return s;
  }

  uuid(): string {
    const v = this.hex(32).split("");
    v[12] = "4";
    v[16] = "89ab"[this.int(0, 3)];
    const h = v.join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${
      h.slice(20)
    }`;
  }

  privateIp(): string {
    return `10.${this.int(0, 255)}.${this.int(0, 255)}.${this.int(1, 254)}`;
  }

  publicIp(): string {
    if (this.chance(0.1)) return `2001:db8:${this.hex(4)}::${this.hex(4)}`;
    return `${this.pick(["198.51.100", "203.0.113", "192.0.2"])}.${this.int(1, 254)}`;
  }
}

/** 2024-04-10T00:00:00Z: events of row `i` happen about `i * 400` ms later. */
const BASE_TIME_MS = Date.UTC(2024, 3, 10);
const ACCOUNTS = ["111122223333", "444455556666", "777788889999", "123456789012"];
const REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"];
const USER_AGENTS = [
  "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64.amzn.2023",
  "Boto3/1.34.74 Python/3.12.2 Linux/5.10.213 Botocore/1.34.74",
  "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 api/ec2#1.155.0",
  "console.amazonaws.com",
  "AWS Internal",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/123.0.0.0",
];
/** operation, service, activity_id (1 Create, 2 Read, 3 Update, 4 Delete, 99 Other), resource type */
const API_CALLS: readonly [string, string, number, string][] = [
  ["CreateBucket", "s3.amazonaws.com", 1, "AWS::S3::Bucket"],
  ["GetBucketAcl", "s3.amazonaws.com", 2, "AWS::S3::Bucket"],
  ["PutBucketPolicy", "s3.amazonaws.com", 3, "AWS::S3::Bucket"],
  ["DeleteBucket", "s3.amazonaws.com", 4, "AWS::S3::Bucket"],
  ["RunInstances", "ec2.amazonaws.com", 1, "AWS::EC2::Instance"],
  ["DescribeInstances", "ec2.amazonaws.com", 2, "AWS::EC2::Instance"],
  ["ModifyInstanceAttribute", "ec2.amazonaws.com", 3, "AWS::EC2::Instance"],
  ["TerminateInstances", "ec2.amazonaws.com", 4, "AWS::EC2::Instance"],
  ["ListUsers", "iam.amazonaws.com", 2, "AWS::IAM::User"],
  ["AttachRolePolicy", "iam.amazonaws.com", 3, "AWS::IAM::Role"],
  ["Decrypt", "kms.amazonaws.com", 99, "AWS::KMS::Key"],
  ["UpdateTrail", "cloudtrail.amazonaws.com", 3, "AWS::CloudTrail::Trail"],
  ["GetCallerIdentity", "sts.amazonaws.com", 99, "AWS::IAM::Role"],
];
const ERRORS: readonly [string, string][] = [
  ["AccessDenied", "User is not authorized to perform this operation on the resource"],
  ["Client.UnauthorizedOperation", "You are not authorized to perform this operation."],
  ["NoSuchBucket", "The specified bucket does not exist"],
  ["ThrottlingException", "Rate exceeded"],
];
const UNMAPPED_KEYS: readonly string[] = [
  "additionalEventData.SignatureVersion",
  "additionalEventData.CipherSuite",
  "additionalEventData.bytesTransferredIn",
  "eventCategory",
  "managementEvent",
  "readOnly",
  "recipientAccountId",
  "requestParameters.Host",
  "requestParameters.bucketName",
  "requestParameters.instancesSet.items[].instanceId",
  "tlsDetails.tlsVersion",
  "tlsDetails.clientProvidedHostHeader",
];
const SEVERITIES = ["Unknown", "Informational", "Low", "Medium", "High", "Critical"];

function unmapped(
  rng: Rng,
  count: number,
  account: string,
  region: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  let i = rng.int(0, UNMAPPED_KEYS.length - 1);
  while (Object.keys(out).length < count) {
    const key = UNMAPPED_KEYS[i++ % UNMAPPED_KEYS.length];
    out[key] = unmappedValue(rng, key, account, region);
  }
  return out;
}

function unmappedValue(rng: Rng, key: string, account: string, region: string): string {
  switch (key) {
    case "additionalEventData.SignatureVersion":
      return "SigV4";
    case "additionalEventData.CipherSuite":
      return "TLS_AES_128_GCM_SHA256";
    case "additionalEventData.bytesTransferredIn":
      return String(rng.int(0, 99999));
    case "eventCategory":
      return "Management";
    case "managementEvent":
    case "readOnly":
      return String(rng.chance(0.5));
    case "recipientAccountId":
      return account;
    case "requestParameters.Host":
    case "tlsDetails.clientProvidedHostHeader":
      return `${rng.pick(["s3", "ec2", "iam", "kms", "sts"])}.${region}.amazonaws.com`;
    case "requestParameters.bucketName":
      return `bucket-${rng.hex(10)}`;
    case "requestParameters.instancesSet.items[].instanceId":
      return `i-${rng.hex(17)}`;
    case "tlsDetails.tlsVersion":
      return rng.pick(["TLSv1.2", "TLSv1.3"]);
    default:
      return rng.hex(8);
  }
}

function classIds(classUid: OcsfClassUid, activityId: number, severityId: number): OcsfEvent {
  return {
    class_uid: classUid,
    category_uid: Math.floor(classUid / 1000),
    severity_id: severityId,
    activity_id: activityId,
    type_uid: BigInt(classUid * 100 + activityId),
  };
}

function header(
  classUid: OcsfClassUid,
  className: string,
  categoryUid: number,
  categoryName: string,
  activityId: number,
  activityName: string,
  severityId: number,
): OcsfEvent {
  return {
    class_name: className,
    class_uid: classUid,
    category_name: categoryName,
    category_uid: categoryUid,
    severity_id: severityId,
    severity: SEVERITIES[severityId] ?? "Other",
    activity_name: activityName,
    activity_id: activityId,
    type_uid: BigInt(classUid * 100 + activityId),
    type_name: `${className}: ${activityName}`,
  };
}

/** `accountid`/`region`/`asl_version`: null in ~30% of rows, as in many real v2 objects. */
function tail(rng: Rng, account: string, region: string): OcsfEvent {
  const filled = rng.chance(0.7);
  return {
    accountid: filled ? account : null,
    region: filled ? region : null,
    asl_version: filled ? "2.0" : null,
  };
}

interface RowContext {
  rng: Rng;
  seed: number;
  row: number;
  uid: string;
  timeMs: number;
  account: string;
  region: string;
}

// ---------------------------------------------------------------------------------------------
// Per-class event builders
// ---------------------------------------------------------------------------------------------

function apiActivity(c: RowContext): OcsfEvent {
  const { rng, account, region, timeMs } = c;
  const [operation, service, activityId, resourceType] = rng.pick(API_CALLS);
  const failed = rng.chance(0.2);
  const userType = rng.pick(["IAMUser", "AssumedRole", "AssumedRole", "Root", "AWSService"]);
  const userName = userType === "AWSService"
    ? null
    : `${rng.pick(["alice", "bob", "carol", "deploy", "ci-runner", "ops"])}-${rng.hex(4)}`;
  const roleArn = `arn:aws:iam::${account}:role/${rng.pick(["Admin", "ReadOnly", "Deploy"])}Role`;
  const ip = rng.publicIp();
  const response: OcsfValue = failed
    ? { error: rng.pick(ERRORS)[0], message: rng.pick(ERRORS)[1] }
    // success: half the rows have no response struct, a quarter an all-null one (-> `{}`)
    : rng.chance(0.5)
    ? null
    : rng.chance(0.5)
    ? { error: null, message: null }
    : { error: null, message: "Request succeeded" };
  const resourceCount = rng.int(0, 3);
  const resources: OcsfValue = resourceCount === 0
    ? (rng.chance(0.5) ? null : [])
    : Array.from({ length: resourceCount }, () => ({
      uid: resourceType === "AWS::S3::Bucket"
        ? `arn:aws:s3:::bucket-${rng.hex(10)}`
        : `arn:aws:${service.split(".")[0]}:${region}:${account}:${rng.hex(8)}`,
      owner: rng.chance(0.8) ? { account: { uid: account } } : null,
      type: resourceType,
    }));
  const observables: OcsfValue[] = [];
  if (userName && rng.chance(0.4)) {
    observables.push({ name: "actor.user.name", value: userName, type: "User Name", type_id: 4 });
  }
  observables.push({ name: "src_endpoint.ip", value: ip, type: "IP Address", type_id: 2 });
  if (rng.chance(0.1)) {
    observables.push({ name: "cloud.account.uid", value: account, type: "Account", type_id: 35 });
  }
  const event: OcsfEvent = {
    metadata: {
      product: { name: "CloudTrail", vendor_name: "AWS", feature: { name: "Management" } },
      uid: c.uid,
      profiles: rng.chance(0.8) ? ["cloud", "datetime"] : ["cloud", "datetime", "security_control"],
      version: "1.1.0",
      processed_time_dt: new Date(timeMs + rng.int(60_000, 600_000)),
      sequence: c.row === BIG_INT64_ROW ? BIG_INT64 : BigInt(c.row) * 1_000_003n + 17n,
    },
    time: BigInt(timeMs),
    time_dt: new Date(timeMs),
    cloud: { region, provider: "AWS", account: { uid: account } },
    api: {
      response,
      operation,
      service: { name: service },
      request: { uid: rng.uuid() },
    },
    resources,
    actor: {
      user: {
        type: userType,
        name: userName,
        uid: userType === "AWSService"
          ? `${service}`
          : userType === "AssumedRole"
          ? `${roleArn}/${userName}`
          : `arn:aws:iam::${account}:user/${userName}`,
        account: { uid: account },
        credential_uid: userType === "AWSService" ? null : `ASIA${rng.upper(16)}`,
      },
      session: userType === "AssumedRole"
        ? {
          created_time_dt: new Date(timeMs - rng.int(60_000, 3_600_000)),
          is_mfa: rng.chance(0.3),
          issuer: roleArn,
        }
        : null,
    },
    http_request: { user_agent: rng.pick(USER_AGENTS) },
    src_endpoint: {
      uid: rng.chance(0.2) ? `vpce-${rng.hex(17)}` : null,
      ip,
      domain: rng.chance(0.35) ? service : null,
    },
    ...classIds(6003, activityId, 1),
    status: rng.chance(0.05) ? null : failed ? "Failure" : "Success",
    status_id: failed ? 2 : 1,
    unmapped: unmapped(rng, rng.int(2, 6), account, region),
    ...tail(rng, account, region),
    observables,
  };
  return event;
}

function networkActivity(c: RowContext): OcsfEvent {
  const { rng, account, region, timeMs } = c;
  const outbound = rng.chance(0.5);
  const protocol = rng.pick([6, 6, 6, 17, 1]);
  const accepted = rng.chance(0.85);
  const packets = rng.int(1, 5000);
  return {
    metadata: { uid: c.uid, version: "1.1.0", product: { name: "Amazon VPC" } },
    time: BigInt(timeMs),
    time_dt: new Date(timeMs),
    ...classIds(4001, 6, 1),
    src_endpoint: {
      ip: outbound ? rng.privateIp() : rng.publicIp(),
      port: rng.int(1024, 65535),
      vpc_uid: `vpc-${rng.hex(8)}`,
      instance_uid: rng.chance(0.7) ? `i-${rng.hex(17)}` : null,
      interface_uid: `eni-${rng.hex(17)}`,
    },
    dst_endpoint: {
      ip: outbound ? rng.publicIp() : rng.privateIp(),
      port: rng.pick([443, 80, 22, 53, 3306, 5432, 8080]),
    },
    connection_info: {
      protocol_num: protocol,
      direction: outbound ? "Outbound" : "Inbound",
      tcp_flags: protocol === 6 ? rng.pick([2, 3, 18, 19, 27]) : null,
      boundary: rng.chance(0.3) ? "-" : null,
    },
    // bytes reach past 2^32 (still below 2^53) now and then, as long-lived flows do
    traffic: {
      bytes: BigInt(packets * rng.int(40, 1500) * (rng.chance(0.01) ? 1_000 : 1)),
      packets: BigInt(packets),
    },
    action: accepted ? "Allowed" : "Denied",
    disposition: accepted ? "Allowed" : "Blocked",
    start_time_dt: new Date(timeMs - rng.int(1000, 60_000)),
    end_time_dt: new Date(timeMs),
    cloud: { account: { uid: account }, region },
  };
}

function dnsActivity(c: RowContext): OcsfEvent {
  const { rng, account, region, timeMs } = c;
  const hostname = `${rng.pick(["api", "www", "cdn", "auth", "s3"])}.${
    rng.pick(["example.com", "example.org", "amazonaws.com", "example.net"])
  }.`;
  const qtype = rng.pick(["A", "A", "AAAA", "CNAME", "TXT"]);
  const nx = rng.chance(0.1);
  const answerCount = nx ? 0 : rng.int(1, 3);
  return {
    metadata: {
      product: {
        version: "1.100000",
        name: "Route 53",
        vendor_name: "AWS",
        feature: { name: "Resolver Query Logs" },
      },
      uid: c.uid,
      profiles: ["cloud", "security_control", "datetime"],
      version: "1.1.0",
    },
    time: BigInt(timeMs),
    time_dt: new Date(timeMs),
    cloud: { region, provider: "AWS", account: { uid: account } },
    src_endpoint: {
      vpc_uid: `vpc-${rng.hex(17)}`,
      ip: rng.privateIp(),
      port: rng.int(1024, 65535),
      instance_uid: rng.chance(0.8) ? `i-${rng.hex(17)}` : null,
    },
    query: {
      hostname,
      type: qtype,
      class: "IN",
      packet_uid: rng.chance(0.5) ? rng.int(0, 65535) : null,
    },
    answers: nx ? null : Array.from({ length: answerCount }, () => ({
      type: qtype,
      rdata: qtype === "AAAA" ? `2001:db8::${rng.hex(4)}` : rng.publicIp(),
      class: "IN",
    })),
    connection_info: {
      protocol_name: rng.pick(["UDP", "UDP", "TCP"]),
      direction: "Outbound",
      direction_id: 2,
    },
    ...header(4003, "DNS Activity", 4, "Network Activity", 2, "Response", 1),
    rcode: nx ? "NXDomain" : "NoError",
    rcode_id: nx ? 3 : 0,
    unmapped: { "firewall_rule_action": rng.pick(["ALERT", "BLOCK"]), "version": "1.100000" },
    ...tail(rng, account, region),
  };
}

function detectionFinding(c: RowContext): OcsfEvent {
  const { rng, account, region, timeMs } = c;
  const severityId = rng.int(1, 5);
  const title = rng.pick([
    "Unusual API call from a Tor exit node",
    "Credentials used from an unexpected country",
    "S3 bucket policy allows public read",
    "Instance is communicating with a known C2 server",
  ]);
  const resourceCount = rng.int(0, 2);
  const ip = rng.publicIp();
  return {
    metadata: {
      product: {
        version: "3.2.1",
        name: "my-detector",
        vendor_name: "Example Corp",
        feature: { name: "Threat Detection" },
      },
      uid: c.uid,
      profiles: ["cloud"],
      version: "1.1.0",
    },
    time: BigInt(timeMs),
    time_dt: new Date(timeMs),
    cloud: { region, provider: "AWS", account: { uid: account } },
    finding_info: {
      uid: `finding-${rng.hex(24)}`,
      title,
      desc: rng.chance(0.6) ? `${title}. Investigate the principal and rotate credentials.` : null,
      types: rng.chance(0.8)
        ? ["TTPs/Initial Access", rng.pick(["Effects/Data Exposure", "Unusual Behaviors/User"])]
        : null,
      created_time_dt: new Date(timeMs - rng.int(0, 86_400_000)),
      first_seen_time_dt: new Date(timeMs - rng.int(86_400_000, 172_800_000)),
      last_seen_time_dt: rng.chance(0.5) ? new Date(timeMs) : null,
      src_url: rng.chance(0.3) ? `https://detector.example.com/findings/${rng.hex(12)}` : null,
    },
    resources: resourceCount === 0 ? null : Array.from({ length: resourceCount }, () => ({
      uid: `arn:aws:ec2:${region}:${account}:instance/i-${rng.hex(17)}`,
      type: "AWS::EC2::Instance",
      region,
      labels: rng.chance(0.5) ? ["env:prod", `team:${rng.pick(["core", "data", "web"])}`] : null,
    })),
    ...header(2004, "Detection Finding", 2, "Findings", 1, "Create", severityId),
    confidence_score: rng.chance(0.7) ? rng.int(0, 100) : null,
    status: rng.pick(["New", "In Progress", "Suppressed"]),
    status_id: rng.int(1, 3),
    unmapped: unmapped(rng, rng.int(2, 4), account, region),
    ...tail(rng, account, region),
    observables: [{ name: "src_endpoint.ip", value: ip, type: "IP Address", type_id: 2 }],
  };
}

const BUILDERS: Readonly<Record<OcsfClassUid, (c: RowContext) => OcsfEvent>> = {
  6003: apiActivity,
  4001: networkActivity,
  4003: dnsActivity,
  2004: detectionFinding,
};

// ---------------------------------------------------------------------------------------------
// generateEvents
// ---------------------------------------------------------------------------------------------

/**
 * Generates `rows` OCSF-like events of `classUid`, deterministically from `seed`. Row `i`
 * (counting from `startRow`) depends only on `(seed, classUid, i)`, so any batch of rows matches
 * the same rows of a larger batch. `metadata.uid` is `"<seed>-<classUid>-<row>"`. Events are in
 * writer form (INT64 as `bigint`, TIMESTAMP as `Date`, nulls as `null`); {@link toExpected} gives
 * the collector's output for one. In class 6003, row {@link BIG_INT64_ROW} carries
 * `metadata.sequence = 9007199254740993n` (above 2^53).
 *
 * @throws {RangeError} when an option is out of range.
 */
export function generateEvents(opts: GenerateEventsOptions): OcsfEvent[] {
  const { classUid, rows, seed, startRow = 0 } = opts;
  specFor(classUid);
  checkInteger("rows", rows, 0, Number.MAX_SAFE_INTEGER);
  checkInteger("seed", seed, 0, 0xffffffff);
  checkInteger("startRow", startRow, 0, Number.MAX_SAFE_INTEGER);
  const build = BUILDERS[classUid];
  const out: OcsfEvent[] = new Array(rows);
  for (let k = 0; k < rows; k++) {
    const row = startRow + k;
    const rng = new Rng(rowSeed(seed, classUid, row));
    const timeMs = BASE_TIME_MS + row * 400 + rng.int(0, 399);
    out[k] = build({
      rng,
      seed,
      row,
      uid: `${seed}-${classUid}-${row}`,
      timeMs,
      account: opts.accountId ?? rng.pick(ACCOUNTS),
      region: opts.region ?? rng.pick(REGIONS),
    });
  }
  return out;
}

function specFor(classUid: OcsfClassUid): readonly FieldSpec[] {
  const spec = SPECS[classUid];
  if (!spec) {
    throw new RangeError(
      `Option classUid must be one of ${OCSF_CLASS_UIDS.join(", ")}, got ${classUid}`,
    );
  }
  return spec;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Option ${name} must be an integer in ${min}..${max}, got ${value}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

type Compressor = (input: Uint8Array) => Uint8Array;

const COMPRESSORS: Partial<Record<CompressionCodec, Compressor>> = {
  GZIP: (input) => gzipSync(input),
  ZSTD: (input) => zstdCompressSync(input),
};

const CODECS: readonly FixtureCodec[] = ["GZIP", "ZSTD", "SNAPPY", "UNCOMPRESSED"];

/**
 * A hyparquet-writer `Writer` that appends to a file: the writer calls `flush()` after every row
 * group (and awaits it before encoding the next), so at most one row group's bytes are buffered.
 */
class FileSink extends ByteWriter {
  #file: Deno.FsFile;

  constructor(file: Deno.FsFile) {
    super(1 << 20);
    this.#file = file;
  }

  async flush(): Promise<void> {
    let bytes = this.getBytes();
    while (bytes.length) {
      const n = await this.#file.write(bytes);
      bytes = bytes.subarray(n);
    }
    this.index = 0;
  }

  override async finish(): Promise<void> {
    await this.flush();
    this.#file.close();
  }
}

/**
 * Writes `rows` generated events of `classUid` to a Parquet file at `path` (overwritten), row
 * group by row group: each group of `rowGroupSize` rows is generated, encoded, flushed to disk
 * and dropped before the next, so memory stays about one row group whatever `rows` is (the
 * writer keeps only the footer metadata across groups). `expected` (see {@link toExpected}) is
 * returned only when `rows <= EXPECTED_ROWS_LIMIT`. The output is byte-for-byte deterministic.
 *
 * @throws {RangeError} when an option is out of range.
 */
export async function writeOcsfParquet(
  path: string,
  opts: WriteOcsfParquetOptions,
): Promise<WriteOcsfParquetResult> {
  const { classUid, rows, seed, rowGroupSize = 20_000, codec = "GZIP", layout = "standard" } = opts;
  const fields = specFor(classUid);
  checkInteger("rows", rows, 0, Number.MAX_SAFE_INTEGER);
  checkInteger("seed", seed, 0, 0xffffffff);
  checkInteger("rowGroupSize", rowGroupSize, 1, 10_000_000);
  if (!CODECS.includes(codec)) {
    throw new RangeError(`Option codec must be one of ${CODECS.join(", ")}, got ${codec}`);
  }
  if (layout !== "standard" && layout !== "avro") {
    throw new RangeError(`Option layout must be "standard" or "avro", got ${layout}`);
  }
  const schema = ocsfSchema(classUid, layout);
  const leaves = layout === "avro" ? leafPaths(schema) : [];
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const sink = new FileSink(file);
  const expected: Record<string, unknown>[] | undefined = rows <= EXPECTED_ROWS_LIMIT
    ? []
    : undefined;
  try {
    const pq = new ParquetWriter({
      writer: sink,
      schema,
      codec,
      compressors: COMPRESSORS,
      createdBy: "seclake scripts/ocsf_fixtures.ts",
      kvMetadata: [{
        key: "seclake.fixture",
        value: JSON.stringify({ classUid, rows, seed, layout, rowGroupSize }),
      }],
    });
    for (let start = 0; start < rows; start += rowGroupSize) {
      const events = generateEvents({
        classUid,
        rows: Math.min(rowGroupSize, rows - start),
        seed,
        startRow: start,
        region: opts.region,
        accountId: opts.accountId,
      });
      if (layout === "standard") {
        const columnData = fields.map((f) => ({
          name: f.name,
          data: events.map((e) => e[f.name] ?? null),
        }));
        await pq.write({ columnData, rowGroupSize: events.length });
      } else {
        await writeRowGroupShredded(pq, leaves, events);
      }
      if (expected) { for (const e of events) expected.push(toExpected(e, classUid)); }
    }
    await pq.finish();
  } catch (error) {
    try {
      file.close();
    } catch {
      // already closed by finish()
    }
    throw error;
  }
  const { size } = await Deno.stat(path);
  return { path, rows, bytes: size, expected };
}

// --- the "avro" layout: our own Dremel shredding, fed to hyparquet-writer's writeColumn -------

type ColumnArgs = Parameters<typeof writeColumn>[0];

/** A node of the physical schema with the function that extracts its value from its parent's. */
interface PhysNode {
  element: SchemaElement;
  /** For a REPEATED node: the array of per-repetition values; otherwise the node's value. */
  get: (parent: unknown) => unknown;
  children: PhysNode[];
}

/** Root-to-leaf paths (root excluded) of the physical schema, with value accessors. */
function leafPaths(schema: SchemaElement[]): PhysNode[][] {
  let i = 1;
  const byField = (name: string) => (parent: unknown) =>
    (parent as Record<string, unknown> | null)?.[name];
  const identity = (parent: unknown) => parent;
  function build(get: (parent: unknown) => unknown): PhysNode {
    const element = schema[i++];
    const node: PhysNode = { element, get, children: [] };
    const n = element.num_children ?? 0;
    if (element.converted_type === "LIST") {
      const child = schema[i];
      if (child.num_children === 1 && child.name === "list") {
        // 3-level: `list` repeats over the array's items, `element` is the item itself
        const list: PhysNode = { element: schema[i++], get: identity, children: [] };
        list.children.push(build(identity));
        node.children.push(list);
      } else {
        // legacy 2-level: the repeated child is the element itself
        node.children.push(build(identity));
      }
    } else if (element.converted_type === "MAP") {
      // repeated `map`/`key_value` group: its items are the object's [key, value] entries
      const entries: PhysNode = {
        element: schema[i++],
        get: (obj) => Object.entries(obj as Record<string, string>),
        children: [],
      };
      entries.children.push(build((e) => (e as [string, string])[0]));
      entries.children.push(build((e) => (e as [string, string])[1]));
      node.children.push(entries);
    } else {
      for (let k = 0; k < n; k++) node.children.push(build(byField(schema[i].name)));
    }
    return node;
  }
  const roots: PhysNode[] = [];
  const top = schema[0].num_children ?? 0;
  for (let k = 0; k < top; k++) roots.push(build(byField(schema[i].name)));
  const paths: PhysNode[][] = [];
  const walk = (path: PhysNode[]) => {
    const last = path[path.length - 1];
    if (!last.children.length) paths.push(path);
    for (const child of last.children) walk([...path, child]);
  };
  for (const r of roots) walk([r]);
  return paths;
}

/** Dremel shredding of one leaf column (definition and repetition levels, values with nulls). */
function shred(path: PhysNode[], rows: readonly unknown[]): ColumnArgs["pageData"] {
  const definitionLevels: number[] = [];
  const repetitionLevels: number[] = [];
  const values: unknown[] = [];
  const repLevelAt: number[] = [];
  let maxDefinitionLevel = 0;
  let reps = 0;
  for (const { element } of path) {
    if (element.repetition_type !== "REQUIRED") maxDefinitionLevel++;
    if (element.repetition_type === "REPEATED") reps++;
    repLevelAt.push(reps);
  }
  const emit = (value: unknown, def: number, rep: number) => {
    values.push(value);
    definitionLevels.push(def);
    repetitionLevels.push(rep);
  };
  const present = (d: number, value: unknown, def: number, rep: number) => {
    if (d === path.length - 1) emit(value, def, rep);
    else visit(d + 1, value, def, rep);
  };
  const visit = (d: number, parent: unknown, def: number, rep: number) => {
    const { element, get } = path[d];
    const value = get(parent);
    if (element.repetition_type === "REPEATED") {
      const items = value as unknown[] | null | undefined;
      if (!items?.length) return emit(undefined, def, rep);
      for (let k = 0; k < items.length; k++) {
        present(d, items[k], def + 1, k === 0 ? rep : repLevelAt[d]);
      }
    } else if (value === null || value === undefined) {
      if (element.repetition_type === "REQUIRED") {
        throw new Error(`Required field ${element.name} is null`);
      }
      emit(undefined, def, rep);
    } else {
      present(d, value, element.repetition_type === "OPTIONAL" ? def + 1 : def, rep);
    }
  };
  for (const row of rows) visit(0, row, 0, 0);
  return {
    values: values as ColumnArgs["pageData"]["values"],
    definitionLevels,
    repetitionLevels,
    maxDefinitionLevel,
  };
}

/** Writes one row group of `events` through `pq`, shredding each leaf ourselves. */
async function writeRowGroupShredded(
  pq: ParquetWriter,
  leaves: PhysNode[][],
  events: OcsfEvent[],
): Promise<void> {
  const start = pq.writer.offset;
  const columns: ReturnType<typeof writeColumn>["chunk"][] = [];
  for (const path of leaves) {
    const schemaPath = [pq.schema[0], ...path.map((n) => n.element)];
    const leafElement = schemaPath[schemaPath.length - 1];
    const result = writeColumn({
      writer: pq.writer,
      column: {
        columnName: path.map((n) => n.element.name).join("."),
        // writeDataPageV2 rejects a REPEATED leaf (a 2-level primitive list) although it encodes
        // it correctly from schemaPath; hand it a non-repeated copy of the element.
        element: leafElement.repetition_type === "REPEATED"
          ? { ...leafElement, repetition_type: "OPTIONAL" }
          : leafElement,
        schemaPath,
        codec: pq.codec,
        compressors: pq.compressors,
        stats: pq.statistics,
        statisticsTruncateLength: pq.statisticsTruncateLength,
        pageSize: 1 << 20,
        columnIndex: false,
        offsetIndex: true,
      } as ColumnArgs["column"],
      pageData: shred(path, events),
    });
    columns.push(result.chunk);
    pq.pendingIndexes.push(result);
  }
  let totalByteSize = 0n;
  for (const c of columns) totalByteSize += c.meta_data?.total_uncompressed_size ?? 0n;
  pq.num_rows += BigInt(events.length);
  pq.row_groups.push({
    columns,
    total_byte_size: totalByteSize,
    num_rows: BigInt(events.length),
    total_compressed_size: BigInt(pq.writer.offset - start),
  });
  await pq.writer.flush?.();
}

// ---------------------------------------------------------------------------------------------
// Demo lake
// ---------------------------------------------------------------------------------------------

/**
 * Writes a small Security Lake-shaped tree under `dir` (created if missing) with real key layout:
 * native sources as `aws/<SOURCE>/2.0/region=<r>/accountId=<a>/eventDay=20240410/<32 hex>.gz.parquet`
 * (GZIP, "avro" layout, root named after the class) and a custom source as
 * `ext/my_source/1.0/region=<r>/accountId=<a>/eventDay=20240410/<uuid>.parquet` (ZSTD, "standard"
 * layout). About 5,000 events in 5 files and 4 classes; the CloudTrail file has 3 row groups.
 * Also writes Iceberg-style `metadata/` JSON objects that a collector must skip. Deterministic
 * for a given `seed` (default 1).
 */
export async function writeDemoLake(
  dir: string,
  opts: { seed?: number } = {},
): Promise<DemoLakeResult> {
  const seed = opts.seed ?? 1;
  checkInteger("seed", seed, 0, 0xffffffff - 16);
  const rng = new Rng(rowSeed(seed, 0, 0xdead));
  const day = "20240410";
  const plan: {
    prefix: string;
    classUid: OcsfClassUid;
    rows: number;
    rowGroupSize: number;
    codec: FixtureCodec;
    layout: ParquetLayout;
    region: string;
    accountId: string;
    name: string;
  }[] = [
    {
      prefix: "aws/CLOUD_TRAIL_MGMT/2.0",
      classUid: 6003,
      rows: 2_500,
      rowGroupSize: 1_000,
      codec: "GZIP",
      layout: "avro",
      region: "us-east-1",
      accountId: "111122223333",
      name: `${rng.hex(32)}.gz.parquet`,
    },
    {
      prefix: "aws/CLOUD_TRAIL_MGMT/2.0",
      classUid: 6003,
      rows: 300,
      rowGroupSize: 20_000,
      codec: "GZIP",
      layout: "avro",
      region: "eu-west-1",
      accountId: "444455556666",
      name: `${rng.hex(32)}.gz.parquet`,
    },
    {
      prefix: "aws/VPC_FLOW/2.0",
      classUid: 4001,
      rows: 1_500,
      rowGroupSize: 20_000,
      codec: "GZIP",
      layout: "avro",
      region: "us-east-1",
      accountId: "111122223333",
      name: `${rng.hex(32)}.gz.parquet`,
    },
    {
      prefix: "aws/ROUTE53/2.0",
      classUid: 4003,
      rows: 400,
      rowGroupSize: 20_000,
      codec: "GZIP",
      layout: "avro",
      region: "us-west-2",
      accountId: "111122223333",
      name: `${rng.hex(32)}.gz.parquet`,
    },
    {
      prefix: "ext/my_source/1.0",
      classUid: 2004,
      rows: 300,
      rowGroupSize: 20_000,
      codec: "ZSTD",
      layout: "standard",
      region: "us-east-1",
      accountId: "111122223333",
      name: `${rng.uuid()}.parquet`,
    },
  ];
  const files: DemoLakeFile[] = [];
  let totalRows = 0;
  for (const [n, p] of plan.entries()) {
    const key = `${p.prefix}/region=${p.region}/accountId=${p.accountId}/eventDay=${day}/${p.name}`;
    const path = joinPath(dir, key);
    await Deno.mkdir(parentOf(path), { recursive: true });
    await writeOcsfParquet(path, {
      classUid: p.classUid,
      rows: p.rows,
      seed: seed + n,
      rowGroupSize: p.rowGroupSize,
      codec: p.codec,
      layout: p.layout,
      region: p.region,
      accountId: p.accountId,
    });
    files.push({
      path,
      key,
      rows: p.rows,
      codec: p.codec,
      classUid: p.classUid,
      rowGroups: Math.ceil(p.rows / p.rowGroupSize),
      layout: p.layout,
    });
    totalRows += p.rows;
  }
  const skipped: string[] = [];
  for (const prefix of ["aws/CLOUD_TRAIL_MGMT/2.0", "aws/VPC_FLOW/2.0"]) {
    const key = `${prefix}/metadata/00001-${rng.uuid()}.metadata.json`;
    const path = joinPath(dir, key);
    await Deno.mkdir(parentOf(path), { recursive: true });
    const metadata = {
      "format-version": 2,
      "table-uuid": rng.uuid(),
      location: `s3://aws-security-data-lake-us-east-1-demo/${prefix}`,
      "current-snapshot-id": rng.int(1, 2 ** 31),
    };
    await Deno.writeTextFile(path, JSON.stringify(metadata, null, 2) + "\n");
    skipped.push(key);
  }
  return { files, skipped, totalRows };
}

function joinPath(dir: string, key: string): string {
  return `${dir.replace(/\/+$/, "")}/${key}`;
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

const USAGE = `Usage:
  deno run -A scripts/ocsf_fixtures.ts --out DIR|FILE.parquet [--rows N] [--class 6003|4001|4003|2004]
      [--codec GZIP|ZSTD|SNAPPY|UNCOMPRESSED] [--row-group N] [--seed N] [--layout standard|avro]
  deno run -A scripts/ocsf_fixtures.ts --demo-lake DIR [--seed N]`;

/**
 * Runs the CLI with `args` (see the module doc); prints a JSON summary on stdout and returns the
 * process exit code.
 */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        out: { type: "string" },
        rows: { type: "string", default: "1000" },
        class: { type: "string", default: "6003" },
        codec: { type: "string", default: "GZIP" },
        "row-group": { type: "string", default: "20000" },
        seed: { type: "string", default: "1" },
        layout: { type: "string", default: "standard" },
        "demo-lake": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const seed = Number(values.seed);
  try {
    if (values["demo-lake"]) {
      const started = performance.now();
      const result = await writeDemoLake(values["demo-lake"], { seed });
      const seconds = (performance.now() - started) / 1000;
      console.log(JSON.stringify({ ...result, seconds: round(seconds) }, null, 2));
      return 0;
    }
    if (!values.out) {
      console.error(`Option --out or --demo-lake is required\n${USAGE}`);
      return 2;
    }
    const classUid = Number(values.class) as OcsfClassUid;
    const rows = Number(values.rows);
    const codec = values.codec.toUpperCase() as FixtureCodec;
    const layout = values.layout as ParquetLayout;
    let path = values.out;
    if (!path.endsWith(".parquet")) {
      await Deno.mkdir(path, { recursive: true });
      path = joinPath(
        path,
        `ocsf_${classUid}_${rows}_seed${seed}_${layout}.${codec.toLowerCase()}.parquet`,
      );
    }
    const started = performance.now();
    const result = await writeOcsfParquet(path, {
      classUid,
      rows,
      seed,
      codec,
      layout,
      rowGroupSize: Number(values["row-group"]),
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(JSON.stringify({
      path: result.path,
      rows: result.rows,
      bytes: result.bytes,
      classUid,
      codec,
      layout,
      seconds: round(seconds),
      rowsPerSecond: Math.round(rows / seconds),
    }));
    return 0;
  } catch (error) {
    console.error(error instanceof RangeError ? error.message : error);
    return 1;
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
