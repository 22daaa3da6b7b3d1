/**
 * Builds the AWS SDK clients an input uses, from its configuration: region, static credentials,
 * and an optional single endpoint for SQS and S3 (which implies path-style S3 addressing).
 * @module
 */
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { InputConfig } from "../config/types.ts";

/** The SQS and S3 clients of one input. Call `destroy()` when done. */
export interface AwsClients {
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  destroy(): void;
}

/** Creates the clients for `input`. Nothing connects until the first call. */
export function createClients(input: InputConfig): AwsClients {
  const c = input.credentials;
  const credentials = c.aws_access_key_id && c.aws_secret_access_key
    ? {
      accessKeyId: c.aws_access_key_id,
      secretAccessKey: c.aws_secret_access_key,
      ...(c.aws_session_token ? { sessionToken: c.aws_session_token } : {}),
    }
    : undefined;
  const common = {
    region: input.region,
    ...(credentials ? { credentials } : {}),
    ...(input.endpoint_url ? { endpoint: input.endpoint_url } : {}),
    maxAttempts: 4,
  };
  const sqs = new SQSClient(common);
  const s3 = new S3Client({ ...common, forcePathStyle: input.endpoint_url !== undefined });
  return {
    sqs,
    s3,
    destroy() {
      sqs.destroy();
      s3.destroy();
    },
  };
}
