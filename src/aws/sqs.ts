/**
 * A thin adapter over the SQS client: resolve the queue, long-poll, delete, change visibility.
 * Every SDK error is wrapped into a catalogue error here.
 * @module
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { CollectorError } from "../errors.ts";
import { wrapAwsError } from "./errors.ts";

/** One received SQS message. */
export interface QueueMessage {
  readonly id: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** `ApproximateReceiveCount`: 1 on the first delivery. */
  readonly receiveCount: number;
  /** When the message was sent (epoch ms), when SQS says. */
  readonly sentTimestamp?: number;
}

/** What {@link SqsQueue.attributes} reports. */
export interface QueueAttributes {
  readonly visibilityTimeoutSeconds: number;
  /** The queue's RedrivePolicy JSON, when a dead-letter queue is configured. */
  readonly redrivePolicy?: string;
  readonly visible: number;
  readonly inFlight: number;
}

/** Options for {@link SqsQueue.receive}. */
export interface ReceiveOptions {
  /** Most messages (1–10). */
  max: number;
  /** Long-poll wait (0–20 s). */
  waitSeconds: number;
  /** Visibility timeout for the received messages. */
  visibilitySeconds: number;
  signal?: AbortSignal;
}

/** The subscriber queue. Counts the requests it performs. */
export class SqsQueue {
  #client: SQSClient;
  /** Queue URL. */
  readonly url: string;
  /** SQS requests performed. */
  requests = 0;

  /** Wraps `client` for the queue at `url`. */
  constructor(client: SQSClient, url: string) {
    this.#client = client;
    this.url = url;
  }

  /** Resolves `queueName` (optionally owned by another account) to a queue. */
  static async resolve(
    client: SQSClient,
    queueName: string,
    options: { ownerAccountId?: string; signal?: AbortSignal } = {},
  ): Promise<SqsQueue> {
    try {
      const out = await client.send(
        new GetQueueUrlCommand({
          QueueName: queueName,
          ...(options.ownerAccountId ? { QueueOwnerAWSAccountId: options.ownerAccountId } : {}),
        }),
        { abortSignal: options.signal },
      );
      return new SqsQueue(client, out.QueueUrl!);
    } catch (e) {
      const name = (e as { name?: string }).name ?? "";
      if (/NonExistentQueue|QueueDoesNotExist/.test(name)) {
        const { region, endpoint } = await askedWhere(client);
        const owner = options.ownerAccountId ? ` of account ${options.ownerAccountId}` : "";
        throw new CollectorError(
          "QUEUE_NOT_FOUND",
          `Queue ${queueName}${owner} does not exist in region ${region} (asked at ${endpoint}) or is not visible to these credentials`,
          {
            cause: e,
            context: { queue_name: queueName, region, endpoint },
          },
        );
      }
      throw wrapAwsError(e, "SQS", "GetQueueUrl", { queue_name: queueName });
    }
  }

  /** The queue's visibility timeout, redrive policy and approximate depth. */
  async attributes(): Promise<QueueAttributes> {
    this.requests++;
    try {
      const out = await this.#client.send(
        new GetQueueAttributesCommand({ QueueUrl: this.url, AttributeNames: ["All"] }),
      );
      const a = out.Attributes ?? {};
      return {
        visibilityTimeoutSeconds: Number(a.VisibilityTimeout ?? 30),
        redrivePolicy: a.RedrivePolicy,
        visible: Number(a.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
      };
    } catch (e) {
      throw wrapAwsError(e, "SQS", "GetQueueAttributes", { queue_url: this.url });
    }
  }

  /** Long-polls for up to `max` messages. */
  async receive(options: ReceiveOptions): Promise<QueueMessage[]> {
    this.requests++;
    try {
      const out = await this.#client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.url,
          MaxNumberOfMessages: options.max,
          WaitTimeSeconds: options.waitSeconds,
          VisibilityTimeout: options.visibilitySeconds,
          MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
        }),
        { abortSignal: options.signal },
      );
      return (out.Messages ?? []).map((m) => ({
        id: m.MessageId ?? "",
        receiptHandle: m.ReceiptHandle ?? "",
        body: m.Body ?? "",
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? "1"),
        ...(m.Attributes?.SentTimestamp
          ? { sentTimestamp: Number(m.Attributes.SentTimestamp) }
          : {}),
      }));
    } catch (e) {
      if (options.signal?.aborted) return [];
      throw wrapAwsError(e, "SQS", "ReceiveMessage", { queue_url: this.url });
    }
  }

  /** Deletes a message once everything it named is done. */
  async delete(message: QueueMessage): Promise<void> {
    this.requests++;
    try {
      await this.#client.send(
        new DeleteMessageCommand({ QueueUrl: this.url, ReceiptHandle: message.receiptHandle }),
      );
    } catch (e) {
      throw wrapAwsError(e, "SQS", "DeleteMessage", { message_id: message.id });
    }
  }

  /** Sets the message's visibility timeout (0 releases it to other consumers at once). */
  async changeVisibility(message: QueueMessage, seconds: number): Promise<void> {
    this.requests++;
    try {
      await this.#client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.url,
          ReceiptHandle: message.receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    } catch (e) {
      throw wrapAwsError(e, "SQS", "ChangeMessageVisibility", { message_id: message.id });
    }
  }
}

/** The region and endpoint `client` sends to, for messages. */
async function askedWhere(client: SQSClient): Promise<{ region: string; endpoint: string }> {
  const region = await client.config.region().catch(() => "(unknown)");
  const custom = await client.config.endpoint?.().catch(() => undefined);
  const endpoint = custom
    ? `${custom.protocol}//${custom.hostname}${custom.port ? `:${custom.port}` : ""}${
      custom.path === "/" ? "" : custom.path
    }`
    : `AWS's regional endpoint for ${region}`;
  return { region, endpoint };
}
