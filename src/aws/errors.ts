/**
 * Wraps AWS SDK errors once, at the adapter that caught them, into catalogue errors.
 * @module
 */
import { CollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/**
 * Names of the errors with which AWS refuses the credentials themselves (unknown key, bad
 * signature, expired or malformed token), whichever service answered: `AWS_AUTH`, not retried.
 * The one list SQS, S3, STS and `seclake check` go by.
 */
export const AUTH_ERROR_NAMES: ReadonlySet<string> = new Set([
  "InvalidClientTokenId",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "UnrecognizedClientException",
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidToken",
  "AuthFailure",
]);

/** Converts an SDK error from `operation` into a `CollectorError` with its catalogue id. */
export function wrapAwsError(
  e: unknown,
  service: "SQS" | "S3",
  operation: string,
  context: Record<string, unknown> = {},
): CollectorError {
  if (e instanceof CollectorError) return e;
  const err = (e ?? {}) as SdkError;
  const status = err.$metadata?.httpStatusCode;
  const name = err.name ?? "Error";
  let code: ErrorCode = service === "SQS" ? "SQS_CALL" : "S3_CALL";
  let retryable = true;
  if (AUTH_ERROR_NAMES.has(name)) [code, retryable] = ["AWS_AUTH", false];
  else if (service === "S3" && (status === 404 || name === "NoSuchKey" || name === "NotFound")) {
    [code, retryable] = ["S3_NOT_FOUND", false];
  } else if (service === "S3" && (status === 412 || name === "PreconditionFailed")) {
    [code, retryable] = ["S3_OBJECT_CHANGED", false];
  } else if (service === "S3" && name === "InvalidObjectState") {
    // Glacier or Deep Archive (HTTP 403): no retry reads it until it is restored.
    [code, retryable] = ["S3_OBJECT_ARCHIVED", false];
  } else if (service === "S3" && (status === 403 || name === "AccessDenied")) {
    [code, retryable] = ["S3_FORBIDDEN", false];
  } else if (status === 403) [code, retryable] = ["AWS_AUTH", false];
  else if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
    retryable = /Throttl|RequestTimeout|SlowDown/i.test(name);
  }
  const what = `${service} ${operation} failed: ${name}${status ? ` (HTTP ${status})` : ""}` +
    (err.message && err.message !== name && err.message !== "UnknownError"
      ? `: ${err.message}`
      : "");
  return new CollectorError(code, what, { cause: e, retryable, context: { ...context, status } });
}
