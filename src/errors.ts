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
  /** Stable number, inside its family's range. */
  readonly id: number;
  readonly family: ErrorFamily;
  /** What went wrong, in a few words (the heading in `docs/errors.md`). */
  readonly message: string;
  /** Whether retrying the same operation can succeed. */
  readonly retryable: boolean;
  /** Why it happens. */
  readonly cause: string;
  /** What the operator does about it. */
  readonly solution: string;
}

function entry(
  id: number,
  family: ErrorFamily,
  message: string,
  retryable: boolean,
  cause: string,
  solution: string,
): CatalogueEntry {
  return { id, family, message, retryable, cause, solution };
}

const setup = (id: number, message: string, cause: string, solution: string) =>
  entry(id, "SetupError", message, false, cause, solution);

/**
 * The error catalogue: one row per failure an operator can meet, keyed by a symbolic code.
 * Ids are stable; a retired id is never reused. The `CONFIG_*` codes (`SetupError` 1–59) are
 * configuration mistakes, found before anything connects anywhere (ids 13–17 follow Devo's
 * collector documentation); `SetupError` 60–99 are command-line mistakes.
 */
export const CATALOGUE = {
  CONFIG_UNREADABLE: setup(
    1,
    "Configuration file cannot be read",
    "The file given with --config does not exist, is a folder, or the process may not read it.",
    "Check the path given with --config and the file's permissions.",
  ),
  CONFIG_YAML: setup(
    2,
    "Configuration is not valid YAML",
    "The YAML parser stopped at the line and column given: wrong indentation, a tab used for indenting, an unclosed quote or bracket, or a missing colon.",
    "Fix the syntax at that position. Indent with spaces, and quote values that contain a colon followed by a space or that start with `{`, `[`, `*`, `&`, `!` or `%`.",
  ),
  CONFIG_DUPLICATE_KEY: setup(
    3,
    "Setting given twice",
    "The same key appears twice in one mapping; other tools silently keep one of the two values.",
    "Remove one of the two lines named in the message.",
  ),
  CONFIG_NOT_MAPPING: setup(
    4,
    "Configuration is empty or not a mapping",
    "The file is empty, or its top level is a list or a single value instead of the `globals`, `outputs` and `inputs` sections.",
    "Start from config.example.yaml.",
  ),
  CONFIG_UNKNOWN_KEY: setup(
    5,
    "Unknown setting",
    "The configuration contains a key the collector does not know: a typo, a setting placed in the wrong section, or one from another collector.",
    "Correct or move the key as the message suggests, or remove it. docs/configuration.md lists every setting.",
  ),
  CONFIG_MISSING: setup(
    6,
    "Required setting missing",
    "A setting the collector cannot run without is absent or empty (an empty value or a `${VAR}` that is set but empty counts as absent).",
    "Add the setting at the YAML path given; the message gives an example value.",
  ),
  CONFIG_TYPE: setup(
    7,
    "Setting has the wrong type",
    "The value's type differs from the one the setting takes: string, integer, boolean, object or list. A quoted number is a string; `yes` and `no` are strings, not booleans.",
    "Write the value with the type given in the message (for an integer, no quotes; for a boolean, `true` or `false`).",
  ),
  CONFIG_ENV: setup(
    8,
    "Environment variable not set",
    "A `${VAR}` reference names an environment variable that is not set in the collector's environment.",
    "Export the variable before starting the collector (for a service: its unit or container environment), or write the value directly.",
  ),
  CONFIG_NO_INPUT: setup(
    9,
    "No enabled input",
    "The `inputs` section is missing or empty, or every input has `enabled: false`.",
    "Configure and enable at least one input (type security_lake or directory).",
  ),
  CONFIG_NO_OUTPUT: setup(
    10,
    "No output",
    "The `outputs` section is missing or empty.",
    "Configure at least one output (devo_platform, relay or console).",
  ),
  CONFIG_RANGE: setup(
    11,
    "Setting out of range",
    "A number lies outside the range the setting allows (for example an SQS limit such as max_messages 1–10).",
    "Use a value inside the range given in the message.",
  ),
  CONFIG_CHOICE: setup(
    12,
    "Setting is not one of the allowed values",
    "The setting takes one of a fixed list of words and the value is none of them (often a typo or a value from another product).",
    "Use one of the values listed in the message.",
  ),
  CONFIG_RESET_AUTH: setup(
    13,
    "reset_persistence_auth is not a string",
    "reset_persistence_auth must be text: a number, boolean, list or mapping was given.",
    'Quote the value, e.g. `reset_persistence_auth: "2024-05-01"`. Changing it later resets the input\'s saved state once.',
  ),
  CONFIG_HISTORICAL_TYPE: setup(
    14,
    "historical_poll_datetime is not a string",
    "historical_poll_datetime must be an RFC 3339 date-time written as text: a number, list or mapping was given.",
    'Write a date-time such as `historical_poll_datetime: "2024-05-01T00:00:00Z"`.',
  ),
  CONFIG_HISTORICAL_FORMAT: setup(
    15,
    "historical_poll_datetime is not an RFC 3339 date-time",
    "The value is not a full date and time with a time zone, such as 2024-05-01T00:00:00Z, or names a day that does not exist.",
    "Write date, `T`, time and zone: `2024-05-01T00:00:00Z` (UTC) or `2024-05-01T02:00:00+02:00`.",
  ),
  CONFIG_HISTORICAL_TOO_OLD: setup(
    16,
    "historical_poll_datetime is older than one year",
    "Backfill may start at most 365 days back; Security Lake's default retention and the state kept per object make older starts unsafe. A value that aged past the limit after its backfill began (its cursor is in the input's state folder, with the same bucket and filters) is accepted.",
    "Use a date-time within the last 365 days.",
  ),
  CONFIG_HISTORICAL_FUTURE: setup(
    17,
    "historical_poll_datetime is in the future",
    "The date-time lies after the collector's current time, so there is nothing to backfill (or the machine's clock is wrong).",
    "Use a date-time in the past, or check the machine's clock and time zone.",
  ),
  CONFIG_PATTERN: setup(
    18,
    "Setting does not have the required form",
    "A string does not match the form the setting requires (the form is given in the message).",
    "Correct the value to the form given in the message.",
  ),
  CONFIG_REGION: setup(
    19,
    "Not an AWS region",
    "The value is not an AWS region code: a region name such as `US East (N. Virginia)`, an availability zone such as `us-east-1a`, or a typo.",
    "Use the region code of the Security Lake subscriber queue, such as `us-east-1` or `eu-west-1`.",
  ),
  CONFIG_QUEUE_NAME: setup(
    20,
    "Not an SQS queue name",
    "A queue name has 1 to 80 letters, digits, hyphens or underscores (plus `.fifo`); a URL or ARN was probably given.",
    "Use the queue's name, e.g. `AmazonSecurityLake-1234abcd-Main-Queue`, or put a queue URL in queue_url instead.",
  ),
  CONFIG_TAG: setup(
    21,
    "Not a Devo tag",
    "A Devo tag is three or more dot-separated words of letters, digits, `_` or `-`; spaces, slashes or a single word are not tags.",
    "Use a tag such as `cloud.aws.amazon.security_lake.events` (the Devo table the events go to), or `my.app.<x>.<y>` for a custom table.",
  ),
  CONFIG_ADDRESS: setup(
    22,
    "Not a host name or IP address",
    "An address is a host name or IP address alone; a scheme (`https://`), a port (`:443`) or a path was included.",
    "Write only the host, e.g. `collector-eu.devo.io`, and put the port in `port`.",
  ),
  CONFIG_URL: setup(
    23,
    "Not an http(s) URL",
    "The setting takes a URL starting with `http://` or `https://`.",
    "Write the full URL, e.g. `https://sqs.us-east-1.amazonaws.com/123456789012/queue-name`.",
  ),
  CONFIG_ACCOUNT_ID: setup(
    24,
    "Not an AWS account id",
    "An AWS account id is exactly 12 digits. Unquoted ids keep their leading zeros here, but an alias or ARN is not an id.",
    'Write the 12-digit account id, e.g. `"012345678901"`.',
  ),
  CONFIG_ROLE_ARN: setup(
    25,
    "Not an IAM role ARN",
    "role_arn must be the ARN of an IAM role, `arn:aws:iam::<12-digit account>:role/<name>`; a role name, user ARN or policy ARN was given.",
    "Copy the role's ARN from the IAM console, or the subscriber's role ARN from Security Lake.",
  ),
  CONFIG_BUCKET: setup(
    26,
    "Not an S3 bucket name",
    "A bucket name has 3 to 63 lowercase letters, digits, dots or hyphens; an `s3://` URL, ARN or key prefix was given.",
    "Write the bucket name alone, e.g. `aws-security-data-lake-us-east-1-abc123`.",
  ),
  CONFIG_SOURCE_NAME: setup(
    27,
    "Not a Security Lake source name",
    "include_sources, exclude_sources and devo_tag_map name Security Lake sources as they appear in object keys (`aws/<SOURCE>/...` or `ext/<custom source>/...`); the value is malformed or a near miss of a native source name.",
    "Use a native source name (CLOUD_TRAIL_MGMT, LAMBDA_EXECUTION, S3_DATA, VPC_FLOW, ROUTE53, SH_FINDINGS, EKS_AUDIT, WAF) or the custom source's name.",
  ),
  CONFIG_LISTEN: setup(
    28,
    "Not a listen address",
    "globals.metrics.listen takes `host:port`, `host` or `:port` (IPv6 hosts in brackets); a URL or an out-of-range port was given.",
    "Write e.g. `0.0.0.0:9464` or `127.0.0.1:9464`; leave the setting out to turn the endpoint off.",
  ),
  CONFIG_REGEX: setup(
    29,
    "Regular expression does not compile",
    "A string_patterns entry is not a valid JavaScript regular expression (unbalanced brackets, a dangling `\\`, a bad quantifier, or Python-only syntax such as `(?P<name>...)`).",
    "Fix the expression at the position the message gives; test it with `new RegExp(...)` in any JavaScript console.",
  ),
  CONFIG_FILE_MISSING: setup(
    30,
    "File or folder named by a setting does not exist",
    "A path in the configuration (chain, cert, key, a `*_file` secret, a directory input) names nothing. Relative paths are resolved against the configuration file's folder.",
    "Correct the path, or copy the file there.",
  ),
  CONFIG_FILE_UNREADABLE: setup(
    31,
    "File named by a setting cannot be read",
    "The path exists but the collector may not read it, or a file was expected and a folder found (or the reverse).",
    "Give the collector's user read access (for a key: `chmod 600` and the right owner), or point the setting at the right kind of entry.",
  ),
  CONFIG_FILE_EMPTY: setup(
    32,
    "Secret file is empty",
    "A `*_file` setting names a file with nothing in it (only whitespace).",
    "Write the secret into the file, or point the setting at the right file.",
  ),
  CONFIG_NOT_PEM: setup(
    33,
    "File is not the PEM the setting needs",
    "chain and cert need PEM certificates (`-----BEGIN CERTIFICATE-----`), key needs a PEM private key (`-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`); the file is DER, PKCS#12, another kind of PEM, or damaged.",
    "Use the PEM files Devo provides for the domain (chain.crt, <domain>.crt, <domain>.key), or convert with `openssl x509 -inform der` / `openssl pkcs12 -nodes`.",
  ),
  CONFIG_CERT_EXPIRED: setup(
    34,
    "Certificate expired",
    "A certificate in chain or cert is past its notAfter date; the TLS handshake with Devo would fail.",
    "Download fresh certificates for the domain from Devo (Administration → Credentials → X.509).",
  ),
  CONFIG_CERT_NOT_YET_VALID: setup(
    35,
    "Certificate not yet valid",
    "A certificate in chain or cert has a notBefore date in the future, or the machine's clock is behind.",
    "Check the machine's clock, or wait until the certificate becomes valid.",
  ),
  CONFIG_KEY_MISMATCH: setup(
    36,
    "Certificate and key are not a pair",
    "The private key in key does not belong to the certificate in cert (files from two domains, or an old key kept after a renewal).",
    "Use the key that was issued with the certificate: both come from the same Devo domain download.",
  ),
  CONFIG_KEY_ENCRYPTED: setup(
    37,
    "Private key is encrypted",
    "The key file holds a passphrase-protected key (`ENCRYPTED PRIVATE KEY` or `Proc-Type: 4,ENCRYPTED`), which the collector cannot use without prompting.",
    "Write an unencrypted copy readable only by the collector: `openssl pkey -in domain.key -out domain-plain.key` (mode 600).",
  ),
  CONFIG_TAG_MAP_DEFAULT: setup(
    38,
    "devo_tag_map has no default entry",
    "devo_tag_map sends each source to its own tag; without a `default` entry, events of sources not listed would have no tag.",
    "Add `default: cloud.aws.amazon.security_lake.events` (or another tag) to devo_tag_map.",
  ),
  CONFIG_OBFUSCATION_RULE: setup(
    39,
    "Obfuscation rule incomplete or inconsistent",
    "An obfuscation rule has neither paths nor string_patterns, lacks a field its method needs (hash needs hash_key), or sets a field its method ignores (value is for mask, keep_last for partial, hash_key and hash_length for hash).",
    "Give each rule paths and/or string_patterns, a method, and only that method's fields; see docs/configuration.md.",
  ),
  CONFIG_CREDENTIALS_PAIR: setup(
    40,
    "AWS credentials incomplete",
    "aws_access_key_id and aws_secret_access_key must be given together, and aws_session_token only with both.",
    "Set both keys (from the same IAM access key), or neither and use profile or role_arn.",
  ),
  CONFIG_CONFLICT: setup(
    41,
    "Settings exclude each other",
    "Two settings that say the same thing differently are both given (a secret and its `*_file`, queue_name and queue_url, profile and access keys), or two settings contradict each other.",
    "Keep one of the two settings named in the message.",
  ),
  CONFIG_REQUIRES: setup(
    42,
    "Setting needs another setting",
    "A setting only has an effect together with another one that is absent (external_id, role_session_name and role_duration_seconds need role_arn; queue_account_id needs queue_name).",
    "Add the setting named in the message, or remove the one that depends on it.",
  ),
  USAGE: setup(
    90,
    "Command line is not valid",
    "An unknown command or option, or a missing argument.",
    "Run `seclake help` for the commands and options.",
  ),
  CREDENTIALS_UNAVAILABLE: entry(
    100,
    "InitVariablesError",
    "AWS credentials could not be obtained",
    false,
    "No credentials were configured and none were found in the environment, or the named profile does not exist in the shared AWS files.",
    "Set aws_access_key_id and aws_secret_access_key, or profile, or run where a role is attached (instance profile, IRSA).",
  ),
  QUEUE_NOT_FOUND: entry(
    101,
    "InitVariablesError",
    "Queue not found",
    false,
    "GetQueueUrl did not find the queue named by queue_name in the region, for the account given (queue_account_id) or the caller's own.",
    "Check queue_name, region and queue_account_id against the subscriber's details in Security Lake.",
  ),
  SQS_CALL: entry(
    400,
    "ApiError",
    "SQS call failed",
    true,
    "An SQS request failed: throttling, a server error, a timeout or a network problem.",
    "Transient failures are retried; check network access to SQS (proxy, VPC endpoint, security groups) if it persists.",
  ),
  S3_CALL: entry(
    401,
    "ApiError",
    "S3 call failed",
    true,
    "An S3 GetObject, HeadObject or ListObjectsV2 failed with a transient error.",
    "Transient failures are retried; check network access to S3 if it persists.",
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
    "S3 access denied",
    false,
    "The credentials may not read the object or list the bucket (403), or may not use the bucket's KMS key.",
    "Grant s3:GetObject (and s3:ListBucket for checks and backfill) on the lake bucket, and kms:Decrypt for customer-managed keys.",
  ),
  S3_OBJECT_CHANGED: entry(
    408,
    "ApiError",
    "S3 object changed while read",
    false,
    "The object was replaced while it was read in ranges: its ETag no longer matches the one HeadObject returned (412), so its pieces would come from two versions.",
    "Nothing needs doing: the message comes back and the object is read again.",
  ),
  AWS_AUTH: entry(
    404,
    "ApiError",
    "AWS refused the credentials",
    false,
    "The access key is unknown or deactivated, the secret does not match it, or the session token expired.",
    "Check aws_access_key_id and aws_secret_access_key (or the profile); create a new access key if it was rotated.",
  ),
  STS_CALL: entry(
    405,
    "ApiError",
    "STS call failed",
    true,
    "An STS request (GetCallerIdentity) failed with a transient error or a network problem.",
    "Check network access to STS (sts.<region>.amazonaws.com or the configured endpoint).",
  ),
  ASSUME_ROLE_FAILED: entry(
    406,
    "ApiError",
    "Role cannot be assumed",
    false,
    "AssumeRole was refused: the role's trust policy does not name the caller, the external id differs, or the duration exceeds the role's maximum session duration.",
    "Check role_arn, external_id and role_duration_seconds against the role's trust policy and settings.",
  ),
  SQS_FORBIDDEN: entry(
    407,
    "ApiError",
    "SQS access denied",
    false,
    "The credentials are valid but may not use the queue (sqs:GetQueueUrl, GetQueueAttributes, ReceiveMessage, DeleteMessage, ChangeMessageVisibility), or may not use its KMS key.",
    "Grant those actions on the queue to the subscriber's identity, and kms:Decrypt for an encrypted queue.",
  ),
  OUTPUT_CONNECT: entry(
    500,
    "DeliveryError",
    "Output connection failed",
    true,
    "The output's address refused the connection, could not be resolved, or timed out.",
    "Check address and port, and that the receiver is running and reachable (firewall, proxy); delivery is retried.",
  ),
  OUTPUT_TLS: entry(
    501,
    "DeliveryError",
    "TLS handshake with the output failed",
    true,
    "The server's certificate did not verify against chain (wrong chain, or a TLS-intercepting proxy), or the handshake broke off.",
    "Check chain: it must be the CA chain of the Devo endpoint (Devo's chain.crt).",
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
  OUTPUT_CERT_REJECTED: entry(
    504,
    "DeliveryError",
    "Receiver rejected the client certificate",
    true,
    "The receiver closed the connection right after the TLS handshake, or sent a certificate alert: it does not accept cert (another domain's certificate, a revoked or expired one, or one its CA did not sign). A running output retries it like any delivery error, since a receiver that stops at that moment looks the same; `seclake check` reports it at once.",
    "Use the certificate and key of the Devo domain the events are for; download them again from Devo if in doubt.",
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
  OBJECT_TOO_LARGE: entry(
    603,
    "DataError",
    "Object larger than max_object_bytes",
    false,
    "The object's size, from the notification or from HeadObject, exceeds max_object_bytes; it is refused before any of it is read.",
    "If such objects are expected, raise max_object_bytes of the input; otherwise check what writes to the bucket. The message is retried and then quarantined.",
  ),
  PARQUET_FOOTER_INVALID: entry(
    604,
    "DataError",
    "Parquet footer length impossible",
    false,
    "The footer length written at the end of the object is larger than the object itself, larger than an eighth of the object (and than 1 MiB), or larger than the reader accepts (64 MiB): the object is truncated, corrupt or crafted.",
    "Inspect the object with `seclake decode`. The same object fails the same way: without a redrive policy its message is quarantined at its first receive.",
  ),
  PARQUET_LIMIT: entry(
    605,
    "DataError",
    "Parquet object exceeds the reader's limits",
    false,
    "The object declares more than the reader accepts: a page larger than 64 MiB uncompressed, a column chunk larger uncompressed than the cap derived from max_object_bytes, a row group holding more than 200 times its compressed bytes uncompressed (and more than 32 MiB), a dictionary or page with more values than its bytes can hold, or a row group with too many rows. Such objects would exhaust memory or time.",
    "Inspect the object with `seclake decode`; if it is genuine, raise max_object_bytes (the column chunk cap follows it). The same object fails the same way: without a redrive policy its message is quarantined at its first receive.",
  ),
  PARQUET_SCHEMA_LIMIT: entry(
    606,
    "DataError",
    "Parquet schema too deep or too wide",
    false,
    "The object's schema nests deeper than 32 levels or has more than 10,000 columns; OCSF schemas need far less.",
    "Inspect the object with `seclake decode`; the message is retried and then quarantined.",
  ),
  EVENT_TOO_LARGE: entry(
    607,
    "DataError",
    "Event larger than max_event_bytes",
    false,
    "One event serialized to more than max_event_bytes and oversized_events is quarantine (with truncate, the event is sent cut down and marked instead).",
    "Raise max_event_bytes if such events are expected, or set oversized_events: truncate. The message is retried and then quarantined.",
  ),
  NOTIFICATION_TOO_LARGE: entry(
    608,
    "DataError",
    "Notification body too large",
    false,
    "The SQS message body is larger than SQS allows (256 KiB); it cannot be a Security Lake notification.",
    "Check what writes to the queue. The message is retried and then quarantined.",
  ),
  NOTIFICATION_KEY_INVALID: entry(
    609,
    "DataError",
    "Object key refused",
    false,
    "A notification names an object key that is empty, longer than 1024 bytes, or contains a `..` path segment, a control character or a line break; Security Lake never writes such keys.",
    "Check what writes to the queue and the bucket. The message is retried and then quarantined.",
  ),
  NOTIFICATION_BUCKET_NOT_ALLOWED: entry(
    610,
    "DataError",
    "Bucket not allowed",
    false,
    "A notification names a bucket that allowed_buckets does not list (or that is not a valid bucket name).",
    "Add the bucket to allowed_buckets if it is the lake's, or check what writes to the queue. The message is retried and then quarantined.",
  ),
  OUTPUT_LIMIT: entry(
    611,
    "DataError",
    "Object produces more output than its size allows",
    false,
    "An object's events add up to more than 100 times its size in bytes (and more than 256 MiB): Security Lake's objects expand 10 to 40 times from Parquet to JSON lines, so such an object repeats a few bytes (a dictionary entry, a run) into gigabytes. The events sent before the limit stay sent; the quarantine record says how many.",
    "Inspect the object with `seclake decode`. The same object fails the same way: without a redrive policy its message is quarantined at its first receive.",
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
  // Backfill (issue 8): listing the lake bucket, and the `seclake backfill` command line.
  BACKFILL_DATE: setup(
    60,
    "Backfill date not valid or outside the window",
    "--from or --to is not a date (`YYYY-MM-DD`) or an RFC 3339 date-time, lies more than 365 days back or in the future, or --to comes before --from.",
    "Give days within the last 365 days, e.g. `--from 2024-05-01 --to 2024-05-07`; both are UTC days and both are included.",
  ),
  BACKFILL_SHARD: setup(
    61,
    "Not a backfill shard",
    "--shard takes `i/n`: n instances share the backfill and this one takes shard i, counted from 0 (so 0 <= i < n, and n from 1 to 1024).",
    "Run n instances with `--shard 0/n` to `--shard n-1/n` and the same other options.",
  ),
  LAKE_BUCKET_MISSING: entry(
    420,
    "ApiError",
    "Lake bucket does not exist",
    false,
    "Listing the bucket named by bucket for backfill answered NoSuchBucket: a typo, another region's bucket, or a lake that was deleted.",
    "Check bucket against the data lake's settings in Security Lake (`aws-security-data-lake-<region>-<id>`).",
  ),
  LAKE_LIST_FORBIDDEN: entry(
    421,
    "ApiError",
    "Lake bucket cannot be listed",
    false,
    "Backfill lists the lake bucket's partitions with ListObjectsV2, and the credentials lack s3:ListBucket on the bucket (or on the `aws/` and `ext/` prefixes).",
    "Grant s3:ListBucket on `arn:aws:s3:::<bucket>` (optionally limited with the condition `s3:prefix` to `aws/*` and `ext/*`); see docs/backfill.md.",
  ),
  LAKE_LIST_THROTTLED: entry(
    422,
    "ApiError",
    "Listing the lake bucket was throttled",
    true,
    "S3 answered SlowDown (HTTP 503) or another throttling error to ListObjectsV2 through every retry; the backfill stopped at the last partition completed.",
    "Nothing is lost: the backfill continues from its cursor at the next start (or run `seclake backfill` again). Lower backfill_concurrency, or spread shards over time.",
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
  /** Further errors found in the same pass (configuration validation reports every mistake). */
  related?: readonly CollectorError[];
}

/**
 * The only error class the collector throws across module boundaries. Its message starts with
 * family and id, e.g. `SetupError 11: ... must be between 1 and 10: got 25 (line 18)`.
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
  /** Further errors found in the same pass, in file order; empty for most errors. */
  readonly related: readonly CollectorError[];

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
    this.related = options.related ?? [];
  }
}

/** True when `e` is a {@link CollectorError}, optionally with the given code. */
export function isCollectorError(e: unknown, code?: ErrorCode): e is CollectorError {
  return e instanceof CollectorError && (code === undefined || e.code === code);
}

/** The catalogue entries in id order, each with its symbolic code. */
export function catalogueEntries(): (CatalogueEntry & { readonly code: ErrorCode })[] {
  return (Object.entries(CATALOGUE) as [ErrorCode, CatalogueEntry][])
    .map(([code, e]) => ({ ...e, code }))
    .sort((a, b) => a.id - b.id);
}

/** A short message for any thrown value, for logs. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
