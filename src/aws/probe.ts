/**
 * Probes of an input's AWS side, for `seclake check`: who the credentials are (STS
 * GetCallerIdentity, per distinct identity), the queue (resolved, then GetQueueAttributes), and
 * read access to the lake bucket (ListObjectsV2, then HeadObject of one object). Each returns
 * what it found as text or throws a catalogue error; nothing is received, read or deleted.
 * @module
 */
import { HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { within } from "../async.ts";
import type { InputConfig } from "../config/types.ts";
import { CollectorError, errorMessage } from "../errors.ts";
import type { AwsClients } from "./clients.ts";
import { AUTH_ERROR_NAMES, wrapAwsError } from "./errors.ts";
import { SqsQueue } from "./sqs.ts";
import { configuredQueueUrl } from "./queue_arn.ts";

/** Time limit and cancellation of one probe's AWS calls. */
export interface ProbeOptions {
  /** Time allowed for each AWS call, in milliseconds. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** What one identity's probe found. */
export interface IdentityProbe {
  /** `""` when SQS and S3 share the identity, else ` (SQS)` or ` (S3)`. */
  readonly side: string;
  /** `accepted: ARN (account N)`, when it worked. */
  readonly detail?: string;
  readonly error?: CollectorError;
}

function awsName(e: unknown): string {
  return (e as { name?: string } | undefined)?.name ?? "Error";
}

/** Asks STS who each distinct identity of the input is. */
export async function probeIdentities(
  input: InputConfig,
  clients: AwsClients,
  o: ProbeOptions,
): Promise<IdentityProbe[]> {
  const [sqsCreds, s3Creds] = await Promise.allSettled([
    clients.sqs.config.credentials(),
    clients.s3.config.credentials(),
  ]);
  const distinct = sqsCreds.status === "fulfilled" && s3Creds.status === "fulfilled" &&
    sqsCreds.value.accessKeyId !== s3Creds.value.accessKeyId;
  const sides: [string, typeof sqsCreds][] = distinct
    ? [[" (SQS)", sqsCreds], [" (S3)", s3Creds]]
    : [["", sqsCreds]];
  const out: IdentityProbe[] = [];
  for (const [side, creds] of sides) {
    if (creds.status === "rejected") {
      out.push({ side, error: credentialsError(input, creds.reason) });
      continue;
    }
    const stsEndpoint = clients.network.endpoint("sts");
    const sts = new STSClient({
      region: input.region ?? "us-east-1",
      credentials: creds.value,
      maxAttempts: 2,
      ...(stsEndpoint ? { endpoint: stsEndpoint } : { useFipsEndpoint: clients.network.fips }),
      requestHandler: clients.handlers.sts,
    });
    try {
      const who = await within(
        o.timeoutMs,
        o.signal,
        (abortSignal) => sts.send(new GetCallerIdentityCommand({}), { abortSignal }),
      );
      out.push({
        side,
        detail: `accepted: ${who.Arn ?? "unknown identity"} (account ${who.Account ?? "?"})`,
      });
    } catch (e) {
      out.push({ side, error: stsError(e) });
    } finally {
      sts.destroy();
    }
  }
  return out;
}

function credentialsError(input: InputConfig, e: unknown): CollectorError {
  if (e instanceof CollectorError) return e;
  const name = awsName(e);
  if (
    input.credentials.role_arn &&
    /AccessDenied|AssumeRole|InvalidParameter/i.test(`${name} ${errorMessage(e)}`)
  ) {
    return new CollectorError(
      "ASSUME_ROLE_FAILED",
      `Cannot assume ${input.credentials.role_arn}: ${name}: ${errorMessage(e)}`,
      { cause: e },
    );
  }
  if (AUTH_ERROR_NAMES.has(name)) return stsError(e);
  return new CollectorError(
    "CREDENTIALS_UNAVAILABLE",
    `No AWS credentials could be obtained: ${name}: ${errorMessage(e)}`,
    { cause: e },
  );
}

function stsError(e: unknown): CollectorError {
  if (e instanceof CollectorError) return e;
  const name = awsName(e);
  const status = (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  const message = errorMessage(e);
  const what = `STS GetCallerIdentity failed: ${name}${status ? ` (HTTP ${status})` : ""}${
    message && message !== name ? `: ${message}` : ""
  }`;
  if (AUTH_ERROR_NAMES.has(name) || status === 403) {
    return new CollectorError("AWS_AUTH", what, { cause: e });
  }
  return new CollectorError("STS_CALL", what, { cause: e });
}

/** Resolves the queue and reads its attributes: its timeout, redrive policy and depth. */
export async function probeQueue(
  input: InputConfig,
  clients: AwsClients,
  o: ProbeOptions,
): Promise<string> {
  const label = input.queue_url ?? input.queue_arn ?? input.queue_name!;
  try {
    const url = configuredQueueUrl(input, clients.network);
    const queue = url
      ? new SqsQueue(clients.sqs, url)
      : await within(o.timeoutMs, o.signal, (s) =>
        SqsQueue.resolve(clients.sqs, input.queue_name!, {
          ownerAccountId: input.queue_account_id,
          signal: s,
        }));
    let attrs: Record<string, string>;
    try {
      const out = await within(o.timeoutMs, o.signal, (abortSignal) =>
        clients.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queue.url,
            AttributeNames: [
              "VisibilityTimeout",
              "RedrivePolicy",
              "ApproximateNumberOfMessages",
              "ApproximateNumberOfMessagesNotVisible",
            ],
          }),
          { abortSignal },
        ));
      attrs = out.Attributes ?? {};
    } catch (e) {
      if (/NonExistentQueue|QueueDoesNotExist/.test(awsName(e))) {
        throw new CollectorError("QUEUE_NOT_FOUND", `Queue ${queue.url} does not exist`, {
          cause: e,
        });
      }
      throw sqsError(e, "GetQueueAttributes");
    }
    const redrive = parseRedrive(attrs.RedrivePolicy);
    return `${label}: visibility timeout ${
      attrs.VisibilityTimeout ?? "?"
    } s (the collector asks for ${input.services.events.visibility_timeout_seconds} s), redrive policy ${redrive}, about ${
      attrs.ApproximateNumberOfMessages ?? "?"
    } messages waiting and ${attrs.ApproximateNumberOfMessagesNotVisible ?? "?"} in flight`;
  } catch (e) {
    throw e instanceof CollectorError ? e : sqsError(e, "GetQueueUrl");
  }
}

function sqsError(e: unknown, operation: string): CollectorError {
  if (e instanceof CollectorError) return e;
  const name = awsName(e);
  if (/AccessDenied/.test(name)) {
    return new CollectorError("SQS_FORBIDDEN", `SQS ${operation} denied: ${errorMessage(e)}`, {
      cause: e,
    });
  }
  return wrapAwsError(e, "SQS", operation);
}

function parseRedrive(policy: string | undefined): string {
  if (!policy) return "none (failing messages are retried until the collector quarantines them)";
  try {
    const p = JSON.parse(policy) as { deadLetterTargetArn?: string; maxReceiveCount?: number };
    return `to ${p.deadLetterTargetArn?.split(":").at(-1) ?? "?"} after ${
      p.maxReceiveCount ?? "?"
    } receives`;
  } catch {
    return "present";
  }
}

/** Lists the lake bucket and reads one object's head. */
export async function probeBucket(
  input: InputConfig & { bucket: string },
  clients: AwsClients,
  o: ProbeOptions,
): Promise<string> {
  const bucket = input.bucket;
  try {
    const list = await within(
      o.timeoutMs,
      o.signal,
      (abortSignal) =>
        clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }), { abortSignal }),
    );
    const key = list.Contents?.[0]?.Key;
    if (key === undefined) return `s3://${bucket} can be listed; it holds no object yet`;
    const head = await within(
      o.timeoutMs,
      o.signal,
      (abortSignal) =>
        clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }),
    );
    return `s3://${bucket}/${key} can be read (${head.ContentLength ?? "?"} bytes)`;
  } catch (e) {
    if (awsName(e) === "NoSuchBucket") {
      throw new CollectorError(
        "LAKE_BUCKET_MISSING",
        `Bucket ${bucket} does not exist in ${input.region}`,
        { cause: e },
      );
    }
    throw wrapAwsError(e, "S3", "ListObjectsV2/HeadObject", { bucket });
  }
}
