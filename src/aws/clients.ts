/**
 * Builds the AWS SDK clients an input uses, from its configuration: region, credentials (static
 * keys, a profile, the default chain, or a role assumed with one of them; SQS and S3 may use
 * different ones, see `credentials.ts`), and the network path of each service (endpoint, proxy
 * and trust, see `network.ts`).
 * Every client sends its requests through a {@link FetchHandler}, with explicit timeouts so
 * that a stalled endpoint fails (and is retried) instead of hanging the collector: SQS calls may
 * take the long-poll wait plus a margin, S3 responses may not stay silent for long.
 * @module
 */
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { readCaBundle } from "../config/files.ts";
import type { InputConfig } from "../config/types.ts";
import { CollectorError } from "../errors.ts";
import { createCredentials } from "./credentials.ts";
import type { CredentialsOptions, ManagedCredentials } from "./credentials.ts";
import { FetchHandler } from "./http_handler.ts";
import { inputNetwork } from "./network.ts";
import type { EnvLookup } from "../env.ts";
import type { AwsService, InputNetwork } from "./network.ts";

/** The SQS and S3 clients of one input. Call `destroy()` when done. */
export interface AwsClients {
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  /** The identities signing SQS and S3 requests (the same object unless configured apart). */
  readonly credentials: { readonly sqs: ManagedCredentials; readonly s3: ManagedCredentials };
  /** The input's endpoints, proxies and trust. */
  readonly network: InputNetwork;
  /** The request handler of each service (what it last reached, for `seclake check`). */
  readonly handlers: Readonly<Record<AwsService, FetchHandler>>;
  destroy(): void;
}

/** Options for {@link createClients}. */
export interface ClientOptions {
  /** Time allowed to open a connection to SQS, S3 or STS. Default 5,000 ms. */
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
  /** The environment (proxies, `AWS_CA_BUNDLE`). Default: the process environment. */
  env?: EnvLookup;
}

/** Reads the CA bundle `network` trusts, if any; a SetupError when it cannot be used. */
export function readTrust(network: InputNetwork): string | undefined {
  const trust = network.trust;
  if (!trust) return undefined;
  const bundle = readCaBundle(trust.path);
  if ("pem" in bundle) return bundle.pem;
  throw new CollectorError(
    "CONFIG_CA_BUNDLE",
    `${trust.from} names ${trust.path}, which ${bundle.why}`,
    { context: { path: trust.path } },
  );
}

/** Creates the clients for `input`. Nothing connects until the first call. */
export function createClients(input: InputConfig, options: ClientOptions = {}): AwsClients {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const waitMs = input.services.events.wait_time_seconds * 1000;
  const network = inputNetwork(input, options.env ?? ((n) => Deno.env.get(n)));
  const caPem = readTrust(network);
  const handler = (service: AwsService, timeouts: { request?: number; idle?: number }) =>
    new FetchHandler({
      service,
      network,
      ...(caPem ? { caPem } : {}),
      connectTimeoutMs,
      ...(timeouts.request !== undefined ? { requestTimeoutMs: timeouts.request } : {}),
      ...(timeouts.idle !== undefined ? { idleTimeoutMs: timeouts.idle } : {}),
    });
  const s3Idle = options.s3IdleTimeoutMs ?? 10_000;
  const handlers = {
    sqs: handler("sqs", { request: waitMs + (options.sqsMarginMs ?? 5_000) }),
    s3: handler("s3", { request: s3Idle, idle: s3Idle }),
    sts: handler("sts", { request: 15_000 }),
  };
  const fips = network.fips;
  // One identity per distinct credentials block: SQS and S3 share it unless configured apart.
  const sqsConfig = input.sqs_credentials ?? input.credentials;
  const s3Config = input.s3_credentials ?? input.credentials;
  const stsEndpoint = network.endpoint("sts");
  const identity = (config: typeof sqsConfig, side: string) =>
    createCredentials(config, {
      ...options.credentials,
      region: input.region,
      ...(stsEndpoint ? { endpoint: stsEndpoint } : {}),
      requestHandler: handlers.sts,
      fips,
      label: `input ${input.name}${side}`,
    });
  const sqsCredentials = identity(sqsConfig, sqsConfig === s3Config ? "" : " (SQS)");
  const s3Credentials = sqsConfig === s3Config ? sqsCredentials : identity(s3Config, " (S3)");
  const sqsEndpoint = network.endpoint("sqs");
  const s3Endpoint = network.endpoint("s3");
  const sqs = new SQSClient({
    region: input.region,
    ...(sqsEndpoint ? { endpoint: sqsEndpoint } : { useFipsEndpoint: fips }),
    maxAttempts: 4,
    credentials: sqsCredentials.provider,
    requestHandler: handlers.sqs,
  });
  const s3 = new S3Client({
    region: input.region,
    ...(s3Endpoint ? { endpoint: s3Endpoint } : { useFipsEndpoint: fips }),
    maxAttempts: 4,
    credentials: s3Credentials.provider,
    forcePathStyle: network.s3PathStyle,
    requestHandler: handlers.s3,
  });
  return {
    sqs,
    s3,
    credentials: { sqs: sqsCredentials, s3: s3Credentials },
    network,
    handlers,
    destroy() {
      sqs.destroy();
      s3.destroy();
      sqsCredentials.destroy();
      if (s3Credentials !== sqsCredentials) s3Credentials.destroy();
      for (const h of Object.values(handlers)) h.destroy();
    },
  };
}
