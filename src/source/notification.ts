/**
 * Parses every SQS body shape a Security Lake subscriber can see into the objects it announces:
 * the EventBridge "Object Created" shape (with or without `detail-type`), native S3 `Records[]`
 * (keys URL-decoded, `+` is a space), SNS-wrapped bodies, and `s3:TestEvent`. Hostile bodies are
 * refused with a catalogue error: larger than SQS allows (608), naming a key with a `..` or `.`
 * segment, a control character or a line break (609), or a bucket outside `allowedBuckets` (or,
 * without it, one not named like Security Lake's buckets) (610).
 * @module
 */
import { LAKE_BUCKET_PREFIX } from "../config/schema.ts";
import { CollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";

/** An S3 object named by a notification. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly size?: number;
  readonly etag?: string;
}

/**
 * Why an announced or listed object or record is not read: in an Iceberg `metadata/` folder, a
 * name no data file has ({@link NON_DATA_SUFFIXES}), not an Object Created event, or (found
 * once its last bytes are read) not Parquet, or archived in a storage class S3 does not serve.
 */
export type SkipReason =
  | "metadata_folder"
  | "non_data_file"
  | "not_object_created"
  | "not_parquet"
  | "archived";

/**
 * Endings of keys that never hold events (Iceberg and Hadoop side files, manifests, markers):
 * skipped without a read. Any other key is read, and its content decides (Parquet or not).
 */
export const NON_DATA_SUFFIXES: readonly string[] = [".json", ".avro", ".crc", "_success", "/"];

/** An object or record a notification named but that is not read. */
export interface Skipped {
  readonly reason: SkipReason;
  readonly bucket?: string;
  readonly key?: string;
}

/** What one SQS body says. */
export type Notification =
  | { readonly kind: "test" }
  | { readonly kind: "objects"; readonly objects: ObjectRef[]; readonly skipped: Skipped[] };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The largest SQS message body: 256 KiB. */
export const MAX_BODY_BYTES = 256 * 1024;

/** The longest S3 object key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

export { LAKE_BUCKET_PREFIX };

/** Options for {@link parseNotification}. */
export interface ParseOptions {
  /**
   * Buckets objects may be in (`allowed_buckets`, which defaults to `[bucket]`). Absent, only
   * buckets named like Security Lake's own ({@link LAKE_BUCKET_PREFIX}) are accepted: a
   * notification can never make the collector read just any bucket its credentials reach.
   */
  allowedBuckets?: readonly string[];
  /** Largest body accepted, in UTF-8 bytes. Default {@link MAX_BODY_BYTES}. */
  maxBodyBytes?: number;
}

function preview(body: string): string {
  return body.length > 120 ? body.slice(0, 120) + "..." : body;
}

function refuse(code: ErrorCode, what: string, body: string, context: object = {}): never {
  throw new CollectorError(code, what, {
    context: { body_preview: preview(body), body_bytes: body.length, ...context },
  });
}

function invalid(why: string, body: string): never {
  refuse("NOTIFICATION_INVALID", `Notification body not understood: ${why}`, body);
}

/** UTF-8 length of `s`, computed only as far as `limit` needs. */
function utf8Over(s: string, limit: number): number | undefined {
  if (s.length * 3 <= limit) return undefined;
  if (s.length > limit) return s.length; // at least that many bytes
  const n = new TextEncoder().encode(s).length;
  return n > limit ? n : undefined;
}

/**
 * Parses an SQS message body. Throws `DataError 600` for a body of no known shape, 608, 609 or
 * 610 for a hostile one (see the module); never any other kind of exception.
 */
export function parseNotification(body: string, options: ParseOptions = {}): Notification {
  try {
    return parse(body, options, 0);
  } catch (e) {
    if (e instanceof CollectorError) throw e;
    // A body shaped in a way the parser did not foresee: still a catalogue error.
    throw new CollectorError(
      "NOTIFICATION_INVALID",
      `Notification body not understood: ${e instanceof Error ? e.message : String(e)}`,
      {
        cause: e,
        context: { body_preview: preview(String(body)), body_bytes: String(body).length },
      },
    );
  }
}

function parse(body: string, options: ParseOptions, depth: number): Notification {
  if (typeof body !== "string") invalid("not text", String(body));
  const max = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const over = utf8Over(body, max);
  if (over !== undefined) {
    refuse(
      "NOTIFICATION_TOO_LARGE",
      `Notification body of ${over} bytes is larger than SQS allows (${max} bytes)`,
      body,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    invalid("not JSON", body);
  }
  if (!isObj(doc)) invalid("not a JSON object", body);
  // SNS without raw delivery: the S3 notification is the JSON string in Message.
  if (
    (doc.Type === "Notification" || typeof doc.TopicArn === "string") &&
    typeof doc.Message === "string"
  ) {
    if (depth >= 2) invalid("SNS envelope nested more than twice", body);
    return parse(doc.Message, options, depth + 1);
  }
  if (doc.Event === "s3:TestEvent") return { kind: "test" };
  let n: Notification | undefined;
  if (isObj(doc.detail)) n = fromEventBridge(doc, body);
  else if (Array.isArray(doc.Records)) n = fromRecords(doc.Records, body);
  else invalid("neither an EventBridge event, S3 Records, SNS envelope nor a test event", body);
  if (n.kind === "objects") {
    for (const o of [...n.objects, ...n.skipped]) checkRef(o.bucket, o.key, body, options);
  }
  return n;
}

// Any name S3 ever allowed (legacy us-east-1 buckets included): no slash, space or control.
const BUCKET = /^[A-Za-z0-9._-]{1,255}$/;
// C0 and C1 control characters, DEL, and the Unicode line and paragraph separators.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function shown(key: string): string {
  return JSON.stringify(key.length > 200 ? key.slice(0, 200) + "..." : key);
}

/** Refuses a bucket outside the allowed ones and keys no Security Lake writer produces. */
function checkRef(
  bucket: string | undefined,
  key: string | undefined,
  body: string,
  options: ParseOptions,
): void {
  if (bucket !== undefined) {
    const allowed = options.allowedBuckets;
    let why: string | undefined;
    if (!BUCKET.test(bucket)) why = "is not a valid bucket name";
    else if (allowed !== undefined && !allowed.includes(bucket)) {
      why = "allowed_buckets does not list (it defaults to the input's bucket)";
    } else if (allowed === undefined && !bucket.startsWith(LAKE_BUCKET_PREFIX)) {
      why =
        `is not named like a Security Lake bucket (${LAKE_BUCKET_PREFIX}*), the only ones read when neither bucket nor allowed_buckets is set`;
    }
    if (why) {
      refuse(
        "NOTIFICATION_BUCKET_NOT_ALLOWED",
        `Notification names bucket ${shown(bucket)}, which ${why}`,
        body,
        { bucket: shown(bucket) },
      );
    }
  }
  if (key === undefined) return;
  let why: string | undefined;
  if (key === "") why = "is empty";
  else if (CONTROL.test(key)) why = "contains a control character or a line break";
  else if (key.split("/").some((s) => s === ".." || s === ".")) why = "has a . or .. segment";
  else if (utf8Over(key, MAX_KEY_BYTES) !== undefined) {
    why = `is longer than ${MAX_KEY_BYTES} bytes`;
  }
  if (why) {
    refuse(
      "NOTIFICATION_KEY_INVALID",
      `Notification names object key ${shown(key)}, which ${why}`,
      body,
      { bucket, key: shown(key) },
    );
  }
}

function fromEventBridge(doc: Obj, body: string): Notification {
  const detail = doc.detail as Obj;
  const dt = doc["detail-type"];
  if (dt !== undefined && dt !== "Object Created") {
    return { kind: "objects", objects: [], skipped: [{ reason: "not_object_created" }] };
  }
  if (doc.source !== undefined && doc.source !== "aws.s3") {
    invalid(`EventBridge source ${JSON.stringify(doc.source)} is not aws.s3`, body);
  }
  const bucket = isObj(detail.bucket) ? detail.bucket.name : undefined;
  const object = isObj(detail.object) ? detail.object : undefined;
  if (typeof bucket !== "string" || !bucket || !object || typeof object.key !== "string") {
    invalid("EventBridge detail without bucket.name and object.key", body);
  }
  // EventBridge keys are not URL-encoded.
  return classify([ref(bucket, object.key, object.size, object.etag)]);
}

function fromRecords(records: unknown[], body: string): Notification {
  const refs: ObjectRef[] = [];
  const skipped: Skipped[] = [];
  for (const r of records) {
    if (!isObj(r) || !isObj(r.s3)) invalid("Records entry without s3", body);
    const s3 = r.s3 as Obj;
    const bucket = isObj(s3.bucket) ? s3.bucket.name : undefined;
    const object = isObj(s3.object) ? s3.object : undefined;
    if (typeof bucket !== "string" || !bucket || !object || typeof object.key !== "string") {
      invalid("Records entry without s3.bucket.name and s3.object.key", body);
    }
    const name = typeof r.eventName === "string" ? r.eventName : "";
    const key = decodeKey(object.key, body);
    if (name && !name.startsWith("ObjectCreated:")) {
      skipped.push({ reason: "not_object_created", bucket, key });
      continue;
    }
    refs.push(ref(bucket, key, object.size, object.eTag ?? object.etag));
  }
  const c = classify(refs);
  return c.kind === "objects" ? { ...c, skipped: [...skipped, ...c.skipped] } : c;
}

function decodeKey(raw: string, body: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    invalid(`object key ${JSON.stringify(raw)} is not valid URL encoding`, body);
  }
}

function ref(bucket: string, key: string, size: unknown, etag: unknown): ObjectRef {
  return {
    bucket,
    key,
    ...(typeof size === "number" && Number.isSafeInteger(size) && size >= 0 ? { size } : {}),
    ...(typeof etag === "string" && etag ? { etag: etag.replace(/"/g, "") } : {}),
  };
}

/**
 * Why `key` is not read, or undefined when it may hold data: whatever its name (custom sources'
 * objects are often named `...gz`), an object is read unless it is in a `metadata/` folder or
 * ends like a side file ({@link NON_DATA_SUFFIXES}); its last bytes then say whether it is
 * Parquet.
 */
export function skipReason(key: string): SkipReason | undefined {
  if (key.startsWith("metadata/") || key.includes("/metadata/")) return "metadata_folder";
  const lower = key.toLowerCase();
  if (NON_DATA_SUFFIXES.some((s) => lower.endsWith(s))) return "non_data_file";
  return undefined;
}

function classify(refs: ObjectRef[]): Notification {
  const objects: ObjectRef[] = [];
  const skipped: Skipped[] = [];
  for (const r of refs) {
    const reason = skipReason(r.key);
    if (reason) skipped.push({ reason, bucket: r.bucket, key: r.key });
    else objects.push(r);
  }
  return { kind: "objects", objects, skipped };
}
