/**
 * The collector's single error type and its catalogue of stable, numbered errors.
 *
 * Every failure an operator can see carries a catalogue id, a family and a message that says
 * what failed and the value involved. `docs/errors.md` is generated from {@link CATALOGUE}.
 * @module
 */

/** The error families and the id range each one owns. */
export const FAMILIES = {
  SetupError: [1, 99],
  InitVariablesError: [100, 199],
  ApiError: [400, 499],
  DeliveryError: [500, 599],
  DataError: [600, 699],
  StateError: [700, 799],
} as const;

/** Name of an error family, such as `SetupError`. */
export type ErrorFamily = keyof typeof FAMILIES;

/** One row of the error catalogue: a stable id, whether a retry can help, the cause and the fix. */
export interface CatalogueEntry {
  readonly id: number;
  readonly family: ErrorFamily;
  readonly title: string;
  readonly retryable: boolean;
  readonly cause: string;
  readonly solution: string;
}

function entry(
  id: number,
  family: ErrorFamily,
  title: string,
  retryable: boolean,
  cause: string,
  solution: string,
): CatalogueEntry {
  return { id, family, title, retryable, cause, solution };
}

/**
 * The error catalogue: one row per failure an operator can meet, keyed by a symbolic code.
 * Ids are stable; a retired id is never reused.
 */
export const CATALOGUE = {
  CONFIG_UNREADABLE: entry(
    1,
    "SetupError",
    "Configuration file cannot be read",
    false,
    "The file given with --config does not exist, is a directory, or the process may not read it.",
    "Check the path and the file's permissions.",
  ),
  CONFIG_YAML: entry(
    2,
    "SetupError",
    "Configuration is not valid YAML",
    false,
    "The YAML parser stopped at the line and column given.",
    "Fix the syntax at that position (indentation, quoting, a missing colon).",
  ),
  CONFIG_MISSING: entry(
    3,
    "SetupError",
    "Required setting missing",
    false,
    "A setting the collector cannot run without is absent or empty.",
    "Add the setting at the YAML path given.",
  ),
  CONFIG_TYPE: entry(
    4,
    "SetupError",
    "Setting has the wrong type",
    false,
    "The value's type differs from the one the setting takes (string, integer, boolean, object, list).",
    "Write the value with the type given in docs/configuration.md.",
  ),
  CONFIG_RANGE: entry(
    5,
    "SetupError",
    "Setting out of range",
    false,
    "A number lies outside the allowed range or a value is not one of the allowed choices.",
    "Use a value inside the range given in the message.",
  ),
  CONFIG_PATTERN: entry(
    6,
    "SetupError",
    "Setting does not match its pattern",
    false,
    "A string does not have the required form (region, queue name, tag, address).",
    "Correct the value to the form given in the message.",
  ),
  CONFIG_UNKNOWN_KEY: entry(
    7,
    "SetupError",
    "Unknown setting",
    false,
    "The configuration contains a key the collector does not know, often a typo.",
    "Remove the key or correct its spelling; the message suggests the closest known key.",
  ),
  CONFIG_ENV: entry(
    8,
    "SetupError",
    "Environment variable not set",
    false,
    "A ${VAR} reference names an environment variable that is not set.",
    "Export the variable before starting the collector, or write the value directly.",
  ),
  CONFIG_NO_INPUT: entry(
    9,
    "SetupError",
    "No enabled input",
    false,
    "The inputs section is empty or every input has enabled: false.",
    "Enable at least one input.",
  ),
  CONFIG_NO_OUTPUT: entry(
    10,
    "SetupError",
    "No output",
    false,
    "The outputs section is missing or empty.",
    "Configure at least one output (devo_platform, relay or console).",
  ),
  CONFIG_FILE: entry(
    11,
    "SetupError",
    "File named by a setting cannot be used",
    false,
    "A certificate, key or chain file is missing, unreadable or not PEM.",
    "Point the setting at a readable PEM file.",
  ),
  USAGE: entry(
    12,
    "SetupError",
    "Command line is not valid",
    false,
    "An unknown command or option, or a missing argument.",
    "Run `seclake help` for the commands and options.",
  ),
  AWS_CREDENTIALS: entry(
    100,
    "InitVariablesError",
    "AWS credentials incomplete",
    false,
    "aws_access_key_id and aws_secret_access_key must be given together.",
    "Set both keys under the input's credentials.",
  ),
  QUEUE_NOT_FOUND: entry(
    101,
    "InitVariablesError",
    "Queue not found",
    false,
    "GetQueueUrl did not find the queue named by queue_name in the region.",
    "Check queue_name, region and the account that owns the queue.",
  ),
  SQS_CALL: entry(
    400,
    "ApiError",
    "SQS call failed",
    true,
    "An SQS request failed: throttling, a server error, a timeout or refused credentials.",
    "Transient failures are retried; check network access and IAM permissions if it persists.",
  ),
  S3_CALL: entry(
    401,
    "ApiError",
    "S3 call failed",
    true,
    "An S3 GetObject or HeadObject failed with a transient error.",
    "Transient failures are retried; check network access if it persists.",
  ),
  S3_NOT_FOUND: entry(
    402,
    "ApiError",
    "S3 object not found",
    false,
    "The object named by a notification does not exist (404).",
    "The object may have expired or been deleted; the message is retried and then quarantined.",
  ),
  S3_FORBIDDEN: entry(
    403,
    "ApiError",
    "S3 object access denied",
    false,
    "The credentials may not read the object (403), or the KMS key may not be used.",
    "Grant s3:GetObject on the lake bucket (and kms:Decrypt for customer-managed keys).",
  ),
  AWS_AUTH: entry(
    404,
    "ApiError",
    "AWS refused the credentials",
    false,
    "The access key is unknown, the signature does not match, or the token expired.",
    "Check aws_access_key_id and aws_secret_access_key.",
  ),
  OUTPUT_CONNECT: entry(
    500,
    "DeliveryError",
    "Output connection failed",
    true,
    "The output's address refused the connection, could not be resolved, or timed out.",
    "Check address and port, and that the receiver is running; delivery is retried.",
  ),
  OUTPUT_TLS: entry(
    501,
    "DeliveryError",
    "TLS handshake with the output failed",
    true,
    "The server certificate did not verify against chain, or the server rejected the client certificate.",
    "Check chain, cert and key: they must be the Devo domain's files.",
  ),
  OUTPUT_WRITE: entry(
    502,
    "DeliveryError",
    "Output connection lost while sending",
    true,
    "The connection was reset or closed before the receiver confirmed the events.",
    "Unconfirmed events are sent again on a new connection.",
  ),
  OUTPUT_UNCONFIRMED: entry(
    503,
    "DeliveryError",
    "Output did not confirm delivery",
    true,
    "The receiver did not close its side after ours was closed, within the confirmation timeout.",
    "Check the receiver; the events are sent again.",
  ),
  NOTIFICATION_INVALID: entry(
    600,
    "DataError",
    "Notification body not understood",
    false,
    "An SQS message body is not JSON or not one of the S3 notification shapes.",
    "Check what writes to the queue: it must carry Security Lake (S3 Object Created) notifications.",
  ),
  PARQUET_INVALID: entry(
    601,
    "DataError",
    "Object is not a readable Parquet file",
    false,
    "The object's footer or pages could not be decoded: not Parquet, truncated or corrupt.",
    "Inspect the object with `seclake decode`; the message is retried and then quarantined.",
  ),
  PARQUET_UNSUPPORTED: entry(
    602,
    "DataError",
    "Parquet feature not supported",
    false,
    "The file uses a compression codec or encoding the reader does not support.",
    "Report the file's writer and codec.",
  ),
  STATE_IO: entry(
    700,
    "StateError",
    "State directory cannot be used",
    false,
    "The persistence directory cannot be created, read or written.",
    "Check globals.persistence.directory_name and its permissions.",
  ),
  STATE_CORRUPT: entry(
    701,
    "StateError",
    "State file corrupt",
    false,
    "A state file could not be parsed; it was set aside and processing goes on without it.",
    "No action needed; the file set aside can be inspected.",
  ),
} as const satisfies Record<string, CatalogueEntry>;

/** Symbolic code of a catalogue entry, such as `CONFIG_RANGE`. */
export type ErrorCode = keyof typeof CATALOGUE;

/** Options for {@link CollectorError}. */
export interface CollectorErrorOptions {
  /** Structured values for logs (bucket, key, path...). Never secrets. */
  context?: Record<string, unknown>;
  /** The foreign error this one wraps. */
  cause?: unknown;
  /** Overrides the catalogue's retryable flag for this occurrence. */
  retryable?: boolean;
}

/**
 * The only error class the collector throws across module boundaries. Its message starts with
 * family and id, e.g. `SetupError 5: ... must be between 1 and 10: got 25 (line 18)`.
 */
export class CollectorError extends Error {
  /** Stable catalogue id. */
  readonly id: number;
  /** Catalogue family. */
  readonly family: ErrorFamily;
  /** Symbolic catalogue code. */
  readonly code: ErrorCode;
  /** Whether retrying the same operation can succeed. */
  readonly retryable: boolean;
  /** Structured context for logs. */
  readonly context: Record<string, unknown>;
  /** The message without the family/id prefix. */
  readonly detail: string;

  /** Creates the error for catalogue entry `code` with a message saying what failed. */
  constructor(code: ErrorCode, detail: string, options: CollectorErrorOptions = {}) {
    const e = CATALOGUE[code];
    super(`${e.family} ${e.id}: ${detail}`, { cause: options.cause });
    this.name = e.family;
    this.id = e.id;
    this.family = e.family;
    this.code = code;
    this.detail = detail;
    this.retryable = options.retryable ?? e.retryable;
    this.context = options.context ?? {};
  }
}

/** True when `e` is a {@link CollectorError}, optionally with the given code. */
export function isCollectorError(e: unknown, code?: ErrorCode): e is CollectorError {
  return e instanceof CollectorError && (code === undefined || e.code === code);
}

/** A short message for any thrown value, for logs. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
