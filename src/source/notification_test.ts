import assert from "node:assert/strict";
import { isCollectorError } from "../errors.ts";
import { parseNotification, skipReason } from "./notification.ts";

const SAMPLES = new URL("../../../shared/research/samples/notifications/", import.meta.url);

async function sample(name: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(new URL(name, SAMPLES));
  } catch {
    return undefined;
  }
}

const eventBridge = (key: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    source: "aws.s3",
    ...extra,
    detail: { bucket: { name: "lake" }, object: { key, size: 10, etag: '"abc"' } },
  });

Deno.test("EventBridge shape without detail-type names one object, key verbatim", () => {
  const n = parseNotification(eventBridge("aws/VPC_FLOW/2.0/region=us-east-1/a+b%3D.gz.parquet"), {
    allowedBuckets: ["lake"],
  });
  assert.deepEqual(n, {
    kind: "objects",
    objects: [{
      bucket: "lake",
      key: "aws/VPC_FLOW/2.0/region=us-east-1/a+b%3D.gz.parquet",
      size: 10,
      etag: "abc",
    }],
    skipped: [],
  });
});

Deno.test("EventBridge detail-type other than Object Created is skipped", () => {
  const n = parseNotification(eventBridge("x.parquet", { "detail-type": "Object Deleted" }));
  assert.equal(n.kind, "objects");
  if (n.kind === "objects") {
    assert.equal(n.objects.length, 0);
    assert.equal(n.skipped[0]!.reason, "not_object_created");
  }
});

Deno.test("S3 Records keys are URL-decoded and every record is read", () => {
  const rec = (key: string, eventName = "ObjectCreated:Put") => ({
    eventSource: "aws:s3",
    eventName,
    s3: { bucket: { name: "b" }, object: { key, size: 1, eTag: "e" } },
  });
  const body = JSON.stringify({
    Records: [
      rec("ext/src/region%3Dus-east-1/file+with+space.parquet"),
      rec("a/b%2Bc.parquet"),
      rec("gone.parquet", "ObjectRemoved:Delete"),
    ],
  });
  const n = parseNotification(body, { allowedBuckets: ["b"] });
  assert.equal(n.kind, "objects");
  if (n.kind !== "objects") return;
  assert.deepEqual(n.objects.map((o) => o.key), [
    "ext/src/region=us-east-1/file with space.parquet",
    "a/b+c.parquet",
  ]);
  assert.deepEqual(n.skipped.map((s) => s.reason), ["not_object_created"]);
});

Deno.test("SNS-wrapped bodies are unwrapped", () => {
  const inner = eventBridge("k.parquet");
  const n = parseNotification(
    JSON.stringify({ Type: "Notification", TopicArn: "arn:aws:sns:x", Message: inner }),
    { allowedBuckets: ["lake"] },
  );
  assert.equal(n.kind === "objects" && n.objects[0]!.key, "k.parquet");
});

Deno.test("s3:TestEvent is recognised", () => {
  assert.deepEqual(parseNotification('{"Service":"Amazon S3","Event":"s3:TestEvent"}'), {
    kind: "test",
  });
});

Deno.test("side files and metadata/ folders are skipped by name; any other key is read", () => {
  assert.equal(skipReason("aws/X/2.0/metadata/00001.metadata.json"), "metadata_folder");
  assert.equal(skipReason("aws/X/2.0/metadata/part.parquet"), "metadata_folder");
  assert.equal(skipReason("aws/X/1.0/region=a/x.gz.parquet"), undefined);
  assert.equal(skipReason("ext/W/1.0/region=a/dev-sl-ocsf-processing-1-3a8d80f4.gz"), undefined);
  assert.equal(skipReason("ext/W/1.0/region=a/notes.txt"), undefined);
  for (const side of ["x.avro", "m.JSON", "a.metadata.json", ".part-0.crc", "_SUCCESS", "d/"]) {
    assert.equal(skipReason(`aws/X/1.0/region=a/${side}`), "non_data_file", side);
  }
});

for (
  const [body, why] of [
    ["", "not JSON"],
    ["not json", "not JSON"],
    ["[1,2]", "not a JSON object"],
    ['{"hello":"world"}', "neither"],
    ['{"detail":{"bucket":{}}}', "without bucket"],
    ['{"Records":[{"s3":{}}]}', "without s3.bucket"],
    ["x".repeat(256 * 1024), "not JSON"],
  ] as const
) {
  Deno.test(`malformed body is DataError 600: ${why} (${body.length} bytes)`, () => {
    assert.throws(
      () => parseNotification(body),
      (e) => isCollectorError(e, "NOTIFICATION_INVALID") && e.id === 600 && e.message.includes(why),
    );
  });
}

Deno.test("published notification samples parse to their objects", async (t) => {
  const cases: [string, string[] | "test", string[]][] = [
    [
      "sl-eventbridge-doc-shape.json",
      [
        "aws/SH_FINDINGS/2.0/region=us-west-2/accountId=444455556666/eventDay=20240410/0123456789abcdef0123456789abcdef.gz.parquet",
      ],
      [],
    ],
    [
      "sl-eventbridge-full-envelope.json",
      [
        "aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=20240410/00112233445566778899aabbccddeeff.gz.parquet",
      ],
      [],
    ],
    ["sl-eventbridge-iceberg-metadata-object.json", [], ["metadata_folder"]],
    [
      "s3-native-records.json",
      [
        "ext/my_custom_source/2.0/region=us-east-1/accountId=111122223333/eventDay=20240410/file with space.parquet",
      ],
      [],
    ],
    [
      "s3-native-records-sns-wrapped.json",
      [
        "ext/my_custom_source/2.0/region=us-east-1/accountId=111122223333/eventDay=20240410/file with space.parquet",
      ],
      [],
    ],
    ["s3-test-event.json", "test", []],
  ];
  for (const [file, keys, skipped] of cases) {
    const body = await sample(file);
    if (body === undefined) continue; // samples not present on this machine
    await t.step(file, () => {
      const n = parseNotification(body);
      if (keys === "test") return assert.equal(n.kind, "test");
      assert.equal(n.kind, "objects");
      if (n.kind !== "objects") return;
      assert.deepEqual(n.objects.map((o) => o.key), keys);
      assert.deepEqual(n.skipped.map((s) => s.reason), skipped);
    });
  }
});

Deno.test("buckets: allowed_buckets when given, else only Security Lake's bucket names (DataError 610)", () => {
  const body = (bucket: string) =>
    JSON.stringify({
      source: "aws.s3",
      detail: { bucket: { name: bucket }, object: { key: "k.parquet" } },
    });
  const lake = "aws-security-data-lake-us-east-1-abcdefghijklmnopqrstuvwxyz0123";
  const refused = (b: string, options: { allowedBuckets?: string[] }, why: RegExp) =>
    assert.throws(() => parseNotification(body(b), options), (e: unknown) => {
      assert.ok(isCollectorError(e, "NOTIFICATION_BUCKET_NOT_ALLOWED"), String(e));
      assert.equal(e.id, 610);
      assert.match(e.message, why);
      return true;
    });
  // Neither bucket nor allowed_buckets set: Security Lake's names only.
  refused("attacker-bucket", {}, /not named like a Security Lake bucket/);
  refused("aws-security-data-lakes", {}, /not named like a Security Lake bucket/);
  const n = parseNotification(body(lake));
  assert.equal(n.kind === "objects" && n.objects[0]!.bucket, lake);
  // A list (allowed_buckets, or [bucket] by default): exactly those.
  refused("attacker-bucket", { allowedBuckets: [lake] }, /allowed_buckets does not list/);
  refused(lake.replace("0123", "9999"), { allowedBuckets: [lake] }, /allowed_buckets/);
  const custom = parseNotification(body("my-lake"), { allowedBuckets: ["my-lake"] });
  assert.equal(custom.kind === "objects" && custom.objects.length, 1);
});
