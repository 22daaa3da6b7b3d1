/**
 * A Security Lake stand-in on moto for end-to-end tests: a lake bucket and a subscriber queue,
 * created, filled and inspected with the real AWS SDK clients.
 * @module
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { Agent } from "node:https";
import { motoCa } from "./moto.ts";

/** Static credentials moto accepts. */
export const TEST_CREDENTIALS = { accessKeyId: "AKIATESTTESTTEST", secretAccessKey: "testing" };

/** A lake bucket and queue on moto. Call `destroy()` when done. */
export interface TestLake {
  readonly bucket: string;
  readonly queueName: string;
  readonly queueUrl: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  /** Uploads `bytes` under `key`; returns the ETag without quotes. */
  put(key: string, bytes: Uint8Array): Promise<string>;
  /** Sends one SQS message with `body`. */
  send(body: string): Promise<void>;
  /** Messages visible plus in flight. */
  depth(): Promise<{ visible: number; inFlight: number }>;
  destroy(): void;
}

/** Creates `bucket` and `queueName` on the moto server at `endpoint`. */
export async function createTestLake(
  endpoint: string,
  options: { bucket?: string; queueName?: string; visibilityTimeout?: number } = {},
): Promise<TestLake> {
  const bucket = options.bucket ?? "aws-security-data-lake-us-east-1-testlake0000000000000000";
  const queueName = options.queueName ?? "AmazonSecurityLake-0000-Main-Queue";
  // The test's own clients trust moto's CA through node:https (the test runs with every
  // permission), independently of the collector's HTTP handler.
  const ca = motoCa(endpoint);
  const common = {
    region: "us-east-1",
    endpoint,
    credentials: TEST_CREDENTIALS,
    ...(ca ? { requestHandler: { httpsAgent: new Agent({ ca: ca.pem, keepAlive: true }) } } : {}),
  };
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  const sqs = new SQSClient(common);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const q = await sqs.send(
    new CreateQueueCommand({
      QueueName: queueName,
      Attributes: { VisibilityTimeout: String(options.visibilityTimeout ?? 30) },
    }),
  );
  const queueUrl = q.QueueUrl!;
  return {
    bucket,
    queueName,
    queueUrl,
    s3,
    sqs,
    async put(key, bytes) {
      const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
      return (out.ETag ?? "").replace(/"/g, "");
    },
    async send(body) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    },
    async depth() {
      const out = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      return {
        visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
      };
    },
    destroy() {
      s3.destroy();
      sqs.destroy();
    },
  };
}

/** The Security Lake (EventBridge) notification for `bucket/key`. */
export function eventBridgeBody(
  bucket: string,
  key: string,
  options: { detailType?: boolean; size?: number; etag?: string } = {},
): string {
  return JSON.stringify({
    ...(options.detailType
      ? { version: "0", id: crypto.randomUUID(), "detail-type": "Object Created" }
      : {}),
    source: "aws.s3",
    time: "2024-04-10T12:05:00Z",
    account: "111122223333",
    region: "us-east-1",
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      bucket: { name: bucket },
      object: {
        key,
        ...(options.size ? { size: options.size } : {}),
        ...(options.etag ? { etag: options.etag } : {}),
      },
      "request-id": "TESTREQUEST",
      requester: "securitylake.amazonaws.com",
    },
  });
}

/** A native S3 notification (`Records[]`) naming `keys` in `bucket`, keys URL-encoded as S3 does. */
export function s3RecordsBody(bucket: string, keys: string[]): string {
  return JSON.stringify({
    Records: keys.map((key) => ({
      eventVersion: "2.1",
      eventSource: "aws:s3",
      awsRegion: "us-east-1",
      eventName: "ObjectCreated:Put",
      s3: {
        bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
        object: { key: encodeURIComponent(key).replace(/%2F/g, "/").replace(/%20/g, "+"), size: 1 },
      },
    })),
  });
}

/** `body` wrapped as SNS delivers it without raw message delivery. */
export function snsWrap(body: string): string {
  return JSON.stringify({
    Type: "Notification",
    MessageId: crypto.randomUUID(),
    TopicArn: "arn:aws:sns:us-east-1:111122223333:lake-topic",
    Message: body,
  });
}
