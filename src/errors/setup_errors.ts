/**
 * The catalogue's configuration and command-line errors (`SetupError`).
 * @module
 */
import { setup } from "./entry.ts";
import type { CatalogueEntry } from "./entry.ts";

/**
 * The error catalogue: one row per failure an operator can meet, keyed by a symbolic code.
 * Ids are stable; a retired id is never reused. The `CONFIG_*` codes (`SetupError` 1–59) are
 * configuration mistakes, found before anything connects anywhere (ids 13–17 follow Devo's
 * collector documentation); `SetupError` 60–99 are command-line mistakes.
 */
export const SETUP_ERRORS = {
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
  CONFIG_ENV_EMPTY: setup(
    49,
    "Environment variable empty",
    "An access key is written as a `${VAR}` reference, and the variable is set in the collector's environment but empty.",
    "Give the variable its value where the collector's environment is defined (shell, service unit, container), or remove the key and its pair to use a profile or a role.",
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
  CONFIG_REGEX_NOT_LINEAR: setup(
    43,
    "Regular expression cannot run in linear time",
    "A string_patterns entry uses what only a backtracking engine runs: a backreference (`\\1`, `\\k<name>`), a lookahead or lookbehind (`(?=`, `(?!`, `(?<=`, `(?<!`), or counted repetitions that expand to more than 16 copies (`{17}`, `{1,100}`, `(?:x{16}){2}`). Patterns run on values from outside; the collector runs them only in V8's linear-time engine, so that no value can make one take more than linear time.",
    "Rewrite the pattern without those constructs: `[0-9a-f]{32}` as `[0-9a-f]{16}[0-9a-f]{16}`, a lookaround as a plain match of the surrounding text, or `x{1,100}` as `x+`.",
  ),
  CONFIG_REGEX_ENGINE: setup(
    44,
    "Linear-time regular expressions not enabled",
    "The configuration has string_patterns, and the process was started without the V8 flag --enable-experimental-regexp-engine, so patterns could only run in the backtracking engine; they are refused instead.",
    "Run the seclake binary or the container image (the flag is compiled in), `deno task run`, or add `--v8-flags=--enable-experimental-regexp-engine` to the `deno run` or `deno test` command line.",
  ),
  CONFIG_HASH_KEY_SHORT: setup(
    45,
    "hash_key too short",
    "An obfuscation rule with method hash has a hash_key of fewer than 16 bytes. The pseudonyms are HMACs of the values under that key: a short or guessable key lets anyone who has the events hash likely values (names, addresses) until the pseudonyms match.",
    "Use a long random key, kept secret like a password: e.g. `openssl rand -hex 32`, given through an environment variable or hash_key_file. Changing the key changes every pseudonym.",
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
    "The client certificate (the first in cert) is past its notAfter date, or every certificate in chain is; the TLS handshake with Devo would fail. Expired extra certificates in chain, next to a valid one, are only warned about at start-up.",
    "Download fresh certificates for the domain from Devo (Administration → Credentials → X.509).",
  ),
  CONFIG_CERT_NOT_YET_VALID: setup(
    35,
    "Certificate not yet valid",
    "The client certificate (the first in cert), or every certificate in chain, has a notBefore date in the future, or the machine's clock is behind.",
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
    "Two settings that say the same thing differently are both given (a secret and its `*_file`, two of queue_name, queue_url and queue_arn, profile and access keys), or two settings contradict each other.",
    "Keep one of the two settings named in the message.",
  ),
  CONFIG_REQUIRES: setup(
    42,
    "Setting needs another setting",
    "A setting only has an effect together with another one that is absent (external_id, role_session_name and role_duration_seconds need role_arn; queue_account_id needs queue_name).",
    "Add the setting named in the message, or remove the one that depends on it.",
  ),
  CONFIG_QUEUE_ARN: setup(
    46,
    "Not an SQS queue ARN",
    "queue_arn takes the queue's ARN, `arn:<partition>:sqs:<region>:<12-digit account>:<queue name>`, as the Security Lake console shows it for a subscriber; a URL or a bare name was probably given.",
    "Copy the subscription endpoint ARN from the subscriber's details in Security Lake, or put a URL in queue_url or a name in queue_name instead.",
  ),
  CONFIG_PARTITION_VALUE: setup(
    47,
    "Not a partition value",
    "The accounts and regions filters take the values of the lake's accountId= and region= partitions: 1 to 128 letters, digits or `_ . : @ + -`. An empty value, a slash, `=` or a space never appear in a partition.",
    'Write the value as it appears in the object keys, e.g. `"123456789012"`, `external_acme` or `us-east-1`.',
  ),
  CONFIG_CA_BUNDLE: setup(
    50,
    "CA bundle cannot be used",
    "The file named by ca_bundle, or by the AWS_CA_BUNDLE environment variable, cannot be read or holds no PEM certificate (`-----BEGIN CERTIFICATE-----`).",
    "Point ca_bundle (or AWS_CA_BUNDLE) at a readable PEM file with the CA certificates that sign your AWS endpoints, or unset AWS_CA_BUNDLE to use the default trust store alone.",
  ),
  STATE_DIR_UNWRITABLE: setup(
    51,
    "State folder cannot be written",
    "The folder of globals.persistence.directory_name (or an input's folder inside it) cannot be created or written by the collector's user: a read-only mount, a wrong owner or mode, or a file where the folder should be.",
    "Create the folder and give the collector's user write access to it (mode 0700, owned by that user), or point directory_name elsewhere.",
  ),
  USAGE: setup(
    90,
    "Command line is not valid",
    "An unknown command or option, or a missing argument.",
    "Run `seclake COMMAND --help` for the options of that command, or `seclake help` for every command.",
  ),
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
} as const satisfies Record<string, CatalogueEntry>;
