/**
 * Parses every SQS body shape a Security Lake subscriber can see into the objects it announces:
 * the EventBridge "Object Created" shape (with or without `detail-type`), native S3 `Records[]`
 * (keys URL-decoded, `+` is a space), SNS-wrapped bodies, and `s3:TestEvent`.
 * @module
 */
import { CollectorError } from "../errors.ts";

/** An S3 object named by a notification. */
export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
  readonly size?: number;
  readonly etag?: string;
}

/** Why an announced object or record is not read. */
export type SkipReason =
  | "not_parquet"
  | "metadata_folder"
  | "not_object_created";

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

function invalid(why: string, body: string): never {
  const preview = body.length > 120 ? body.slice(0, 120) + "..." : body;
  throw new CollectorError("NOTIFICATION_INVALID", `Notification body not understood: ${why}`, {
    context: { body_preview: preview, body_bytes: body.length },
  });
}

/** Parses an SQS message body. Throws `DataError 600` for a body of no known shape. */
export function parseNotification(body: string): Notification {
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
    return parseNotification(doc.Message);
  }
  if (doc.Event === "s3:TestEvent") return { kind: "test" };
  if (isObj(doc.detail)) return fromEventBridge(doc, body);
  if (Array.isArray(doc.Records)) return fromRecords(doc.Records, body);
  invalid("neither an EventBridge event, S3 Records, SNS envelope nor a test event", body);
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
    ...(typeof size === "number" ? { size } : {}),
    ...(typeof etag === "string" && etag ? { etag: etag.replace(/"/g, "") } : {}),
  };
}

/** Why `key` is not read, or undefined when it is a Parquet data object. */
export function skipReason(key: string): SkipReason | undefined {
  if (key.startsWith("metadata/") || key.includes("/metadata/")) return "metadata_folder";
  if (!key.toLowerCase().endsWith(".parquet")) return "not_parquet";
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
