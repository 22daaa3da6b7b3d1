/**
 * Builds the AWS SDK clients an input uses, from its configuration: region, credentials (static
 * keys, a profile, the default chain, or a role assumed with one of them; SQS and S3 may use
 * different ones, see `credentials.ts`), and an optional single endpoint for SQS, S3 and STS
 * (which implies path-style S3 addressing).
 * Both keep the SDK's default HTTP handler, with explicit timeouts so that a stalled endpoint
 * fails (and is retried) instead of hanging the collector: SQS calls may take the long-poll wait
 * plus a margin, S3 responses may not stay silent for long.
 * @module
 */
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { InputConfig } from "../config/types.ts";
import { createCredentials } from "./credentials.ts";
import type { CredentialsOptions, ManagedCredentials } from "./credentials.ts";

/** The SQS and S3 clients of one input. Call `destroy()` when done. */
export interface AwsClients {
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  /** The identities signing SQS and S3 requests (the same object unless configured apart). */
  readonly credentials: { readonly sqs: ManagedCredentials; readonly s3: ManagedCredentials };
  destroy(): void;
}

/** Options for {@link createClients}. */
export interface ClientOptions {
  /** Time allowed to open a TCP connection to SQS or S3. Default 5,000 ms. */
  connectTimeoutMs?: number;
  /**
   * Longest SQS call, beyond the long-poll wait (`wait_time_seconds`) that ReceiveMessage may
   * legitimately spend waiting. Default 5,000 ms.
   */
  sqsMarginMs?: number;
  /** Longest an S3 response may stay silent (no byte received). Default 10,000 ms. */
  s3IdleTimeoutMs?: number;
  /** Renewal margin, clock and shared files of the credentials (see `credentials.ts`). */
  credentials?: Pick<CredentialsOptions, "refreshMarginMs" | "now" | "sharedFiles">;
}

/** Creates the clients for `input`. Nothing connects until the first call. */
export function createClients(input: InputConfig, options: ClientOptions = {}): AwsClients {
  const connectionTimeout = options.connectTimeoutMs ?? 5_000;
  const waitMs = input.services.events.wait_time_seconds * 1000;
  // One identity per distinct credentials block: SQS and S3 share it unless configured apart.
  const sqsConfig = input.sqs_credentials ?? input.credentials;
  const s3Config = input.s3_credentials ?? input.credentials;
  const identity = (config: typeof sqsConfig, side: string) =>
    createCredentials(config, {
      ...options.credentials,
      region: input.region,
      ...(input.endpoint_url ? { endpoint: input.endpoint_url } : {}),
      label: `input ${input.name}${side}`,
    });
  const sqsCredentials = identity(sqsConfig, sqsConfig === s3Config ? "" : " (SQS)");
  const s3Credentials = sqsConfig === s3Config ? sqsCredentials : identity(s3Config, " (S3)");
  const common = {
    region: input.region,
    ...(input.endpoint_url ? { endpoint: input.endpoint_url } : {}),
    maxAttempts: 4,
  };
  const sqs = new SQSClient({
    ...common,
    credentials: sqsCredentials.provider,
    requestHandler: {
      connectionTimeout,
      requestTimeout: waitMs + (options.sqsMarginMs ?? 5_000),
      throwOnRequestTimeout: true,
    },
  });
  const s3 = new S3Client({
    ...common,
    credentials: s3Credentials.provider,
    forcePathStyle: input.endpoint_url !== undefined,
    requestHandler: { connectionTimeout, socketTimeout: options.s3IdleTimeoutMs ?? 10_000 },
  });
  return {
    sqs,
    s3,
    credentials: { sqs: sqsCredentials, s3: s3Credentials },
    destroy() {
      sqs.destroy();
      s3.destroy();
      sqsCredentials.destroy();
      if (s3Credentials !== sqsCredentials) s3Credentials.destroy();
    },
  };
}
