/**
 * The queue URL of an SQS queue ARN (`queue_arn`): the region and account come from the ARN, the
 * host from the input's network settings, as the SDK would choose it. A configured SQS endpoint
 * (`sqs_endpoint_url`, else `endpoint_url`) is used as it is; otherwise AWS's regional endpoint
 * of the ARN's partition, its FIPS one with `use_fips_endpoint`. The URL's origin is then the
 * one the SQS client resolves itself, so its requests go where every other SQS request goes.
 * @module
 */
import type { InputNetwork } from "./network.ts";

/** The parts of an SQS queue ARN. */
export interface QueueArn {
  /** `aws`, `aws-cn`, `aws-us-gov`, ... */
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly name: string;
}

const ARN = /^arn:(aws[a-z-]*):sqs:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,80}(?:\.fifo)?)$/;

/** The parts of `arn`, or undefined when it is not an SQS queue ARN. */
export function parseQueueArn(arn: string): QueueArn | undefined {
  const m = ARN.exec(arn);
  return m ? { partition: m[1]!, region: m[2]!, account: m[3]!, name: m[4]! } : undefined;
}

/** DNS suffix of AWS's endpoints per partition. */
const DNS_SUFFIX: Readonly<Record<string, string>> = {
  "aws": "amazonaws.com",
  "aws-cn": "amazonaws.com.cn",
  "aws-us-gov": "amazonaws.com",
  "aws-iso": "c2s.ic.gov",
  "aws-iso-b": "sc2s.sgov.gov",
  "aws-iso-e": "cloud.adc-e.uk",
  "aws-iso-f": "csp.hci.ic.gov",
  "aws-eusc": "amazonaws.eu",
};

/** AWS's SQS endpoint for `arn` (as the SDK's endpoint rules give it), without a path. */
export function sqsEndpointOf(arn: QueueArn, fips: boolean): string {
  const suffix = DNS_SUFFIX[arn.partition] ?? "amazonaws.com";
  // GovCloud's regional endpoints are FIPS endpoints already.
  if (fips && arn.partition !== "aws-us-gov") return `https://sqs-fips.${arn.region}.${suffix}`;
  return `https://sqs.${arn.region}.${suffix}`;
}

/**
 * The queue URL of `arn` reached through `network` (see the module). Throws a `RangeError` for
 * a value that is not an SQS queue ARN (the configuration refuses those before).
 */
export function queueUrlOfArn(
  arn: string,
  network: Pick<InputNetwork, "endpoint" | "fips">,
): string {
  const parts = parseQueueArn(arn);
  if (!parts) throw new RangeError(`Not an SQS queue ARN: ${JSON.stringify(arn)}`);
  const base = network.endpoint("sqs") ?? sqsEndpointOf(parts, network.fips);
  return `${base.replace(/\/+$/, "")}/${parts.account}/${parts.name}`;
}

/**
 * The queue URL an input's settings give directly: `queue_url`, or the URL of `queue_arn`;
 * undefined when the queue is named by `queue_name` (and is resolved with GetQueueUrl).
 */
export function configuredQueueUrl(
  input: { readonly queue_url?: string; readonly queue_arn?: string },
  network: Pick<InputNetwork, "endpoint" | "fips">,
): string | undefined {
  if (input.queue_url !== undefined) return input.queue_url;
  return input.queue_arn !== undefined ? queueUrlOfArn(input.queue_arn, network) : undefined;
}
