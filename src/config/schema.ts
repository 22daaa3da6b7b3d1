/**
 * The configuration schema: every setting declared once, with its type, default, unit, allowed
 * range or pattern, whether it is secret, and its description. Loading, validation, defaults,
 * the generated `docs/configuration.md` and `config.example.yaml` all read this table.
 * @module
 */
import { bool, choice, int, list, obj, str } from "./spec.ts";
import type { ObjectSpec, Pattern, ScalarSpec } from "./spec.ts";

export { acceptsFile, isMasked } from "./spec.ts";
export type {
  ListSpec,
  MapSpec,
  ObjectListSpec,
  ObjectOf,
  ObjectSpec,
  Pattern,
  ScalarSpec,
  Spec,
} from "./spec.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** The Devo table Security Lake events go to unless configured otherwise. */
export const DEFAULT_TAG = "cloud.aws.amazon.security_lake.events";

/** The native Security Lake source names (the `<SOURCE>` of `aws/<SOURCE>/...` keys). */
export const NATIVE_SOURCES = [
  "CLOUD_TRAIL_MGMT",
  "LAMBDA_EXECUTION",
  "S3_DATA",
  "VPC_FLOW",
  "ROUTE53",
  "SH_FINDINGS",
  "EKS_AUDIT",
  "WAF",
] as const;

/**
 * The prefix of the bucket names Security Lake creates (`aws-security-data-lake-<region>-...`):
 * without `bucket` and `allowed_buckets`, notifications may name only such buckets.
 */
export const LAKE_BUCKET_PREFIX = "aws-security-data-lake-";

/** Replacement written by the `mask` obfuscation method unless `value` says otherwise. */
export const DEFAULT_MASK = "****SANITIZED****";

const TAG: Pattern = {
  re: /^[A-Za-z0-9_]+(\.[A-Za-z0-9_-]+){2,}$/,
  form:
    "a Devo tag of three or more dot-separated words, e.g. cloud.aws.amazon.security_lake.events",
  code: "CONFIG_TAG",
};
const REGION: Pattern = {
  re: /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/,
  form: "an AWS region code such as us-east-1",
  code: "CONFIG_REGION",
};
const QUEUE_NAME: Pattern = {
  re: /^[A-Za-z0-9_-]{1,80}(\.fifo)?$/,
  form: "an SQS queue name (1 to 80 letters, digits, hyphens or underscores), not a URL or ARN",
  code: "CONFIG_QUEUE_NAME",
};
const ADDRESS: Pattern = {
  re:
    /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$|^\[?[0-9A-Fa-f:.]+\]?$/,
  form: "a host name or IP address without scheme, port or path, e.g. collector-eu.devo.io",
  code: "CONFIG_ADDRESS",
};
const URL_FORM: Pattern = {
  re: /^https?:\/\/[^\s/?#]+(\/[^\s]*)?$/,
  form: "an http:// or https:// URL",
  code: "CONFIG_URL",
};
const PROXY_URL: Pattern = {
  re: /^http:\/\/([^\s/?#@]+@)?[^\s/?#@]+\/?$/,
  form: "an http:// proxy URL such as http://proxy.example.com:3128 (user:password@ allowed)",
  code: "CONFIG_URL",
};
const ACCOUNT_ID: Pattern = {
  re: /^\d{12}$/,
  form: "a 12-digit AWS account id",
  code: "CONFIG_ACCOUNT_ID",
};
const QUEUE_ARN: Pattern = {
  re: /^arn:aws[a-z-]*:sqs:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$/,
  form:
    "an SQS queue ARN such as arn:aws:sqs:us-east-1:123456789012:AmazonSecurityLake-00000000-0000-Main-Queue",
  code: "CONFIG_QUEUE_ARN",
};
/**
 * A partition value of the lake's keys (`accountId=`, `region=`): AWS account ids and regions,
 * and for custom sources whatever their writer puts there (`external`, Azure subscription ids,
 * GCP project ids). Not empty, no slash, `=`, space or control character.
 */
const PARTITION_VALUE = /^[A-Za-z0-9_.:@+-]{1,128}$/;
const ACCOUNT_VALUE: Pattern = {
  re: PARTITION_VALUE,
  form:
    "an accountId= value as the keys hold it (1 to 128 letters, digits or _ . : @ + -), such as 123456789012 or external_acme",
  code: "CONFIG_PARTITION_VALUE",
};
const REGION_VALUE: Pattern = {
  re: PARTITION_VALUE,
  form:
    "a region= value as the keys hold it (1 to 128 letters, digits or _ . : @ + -), such as us-east-1",
  code: "CONFIG_PARTITION_VALUE",
};
const ROLE_ARN: Pattern = {
  re: /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]{1,512}$/,
  form: "an IAM role ARN such as arn:aws:iam::123456789012:role/seclake",
  code: "CONFIG_ROLE_ARN",
};
const BUCKET: Pattern = {
  re: /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  form: "an S3 bucket name (3 to 63 lowercase letters, digits, dots or hyphens), not a URL",
  code: "CONFIG_BUCKET",
};
const SOURCE: Pattern = {
  re: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
  form: "a Security Lake source name such as CLOUD_TRAIL_MGMT",
  code: "CONFIG_SOURCE_NAME",
};
const LISTEN: Pattern = {
  re:
    /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)?(:([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5]))?$/,
  form: "host:port, host or :port (port 1–65535), e.g. 0.0.0.0:9464",
  code: "CONFIG_LISTEN",
};
const FIELD_PATH: Pattern = {
  re:
    /^(\*|[A-Za-z_@$][\w@$-]*|"(?:[^"\\]|\\.)*")(\[\])?(\.(\*|[A-Za-z_@$][\w@$-]*|"(?:[^"\\]|\\.)*")(\[\])?)*$/,
  form:
    'a dotted OCSF field path such as actor.user.email_addr or observables[].value (* matches any key or list element, [] every element of a list; a name holding dots goes in double quotes: unmapped."x.forwarded.for")',
};
const NAME: Pattern = {
  re: /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/,
  form: "a name of up to 64 letters, digits, underscores, dots or hyphens",
};
const ACCESS_KEY_ID: Pattern = {
  re: /^[A-Za-z0-9]{4,128}$/,
  form: "an access key id such as AKIAIOSFODNN7EXAMPLE (letters and digits only)",
};

const credentials = (description: string, sameAs?: string) =>
  obj(description, {
    aws_access_key_id: str("AWS access key id of the subscriber's IAM identity.", {
      pattern: ACCESS_KEY_ID,
      file: true,
      example: '"${AWS_ACCESS_KEY_ID}"',
    }),
    aws_secret_access_key: str("AWS secret access key belonging to aws_access_key_id.", {
      secret: true,
      example: '"${AWS_SECRET_ACCESS_KEY}"',
    }),
    aws_session_token: str("Session token, for temporary credentials.", {
      secret: true,
      example: '"${AWS_SESSION_TOKEN}"',
      exampleOnly: true,
    }),
    role_arn: str(
      "IAM role assumed with the credentials above (or, without them, with the credentials of the environment), e.g. the subscriber role Security Lake created.",
      {
        pattern: ROLE_ARN,
        example: "arn:aws:iam::123456789012:role/AmazonSecurityLake-Subscriber",
        exampleOnly: true,
      },
    ),
    external_id: str("External id the role's trust policy requires (needs role_arn).", {
      masked: true,
      file: true,
      pattern: { re: /^[\w+=,.@:\/-]{2,1224}$/, form: "2 to 1224 letters, digits or +=,.@:/-" },
      example: '"${SECLAKE_EXTERNAL_ID}"',
      exampleOnly: true,
    }),
    role_session_name: str("Session name of the assumed role, shown in CloudTrail.", {
      default: "seclake",
      pattern: { re: /^[\w+=,.@-]{2,64}$/, form: "2 to 64 letters, digits or +=,.@-" },
      exampleOnly: true,
    }),
    role_duration_seconds: int(
      "Lifetime of the assumed role's credentials; they are renewed before they expire.",
      { default: 3600, unit: "seconds", min: 900, max: 43200, exampleOnly: true },
    ),
    profile: str(
      "Named profile of the shared AWS files (~/.aws/config, ~/.aws/credentials), instead of access keys.",
      { example: "security-lake", exampleOnly: true },
    ),
  }, {
    ...(sameAs ? { optional: true, sameAs } : {}),
    relations: [
      {
        kind: "conflicts",
        field: "profile",
        with: ["aws_access_key_id", "aws_secret_access_key"],
        fix: "use the profile or the access keys, not both",
      },
      {
        kind: "needs",
        fields: ["external_id", "role_session_name", "role_duration_seconds"],
        needs: "role_arn",
      },
    ],
  });

const output = obj("One output. Its key names it in logs and metrics.", {
  type: choice(
    "devo_platform: Devo over mutual TLS; relay: plain TCP syslog to a relay; console: one line per event on standard output.",
    ["devo_platform", "relay", "console"],
    { required: true, example: "devo_platform" },
  ),
  config: obj("Settings of this output.", {
    address: str("Host name or IP address of the receiver (devo_platform, relay).", {
      pattern: ADDRESS,
      example: "collector-eu.devo.io",
    }),
    port: int("TCP port of the receiver (devo_platform, relay).", {
      min: 1,
      max: 65535,
      example: "443",
    }),
    chain: str(
      "PEM file with the CA chain that signs the receiver's certificate (Devo's chain.crt).",
      { example: "certs/chain.crt" },
    ),
    cert: str("PEM file with the client certificate (the Devo domain's certificate).", {
      example: "certs/domain.crt",
    }),
    key: str(
      "PEM file with the client certificate's private key, unencrypted; its contents are never shown.",
      { example: "certs/domain.key" },
    ),
    hostname: str("Host name written in each syslog header; absent means this machine's name.", {
      example: "seclake-1.example.com",
      exampleOnly: true,
    }),
    connect_timeout_seconds: int("Time allowed to open a connection and finish the handshake.", {
      default: 15,
      unit: "seconds",
      min: 1,
      max: 300,
    }),
    confirm_timeout_seconds: int(
      "Time allowed for the receiver to confirm a batch by closing its side after ours.",
      { default: 30, unit: "seconds", min: 1, max: 600 },
    ),
    max_batch_bytes: int(
      "Bytes written per connection (one batch) before delivery is confirmed: the commit size.",
      { default: 8 * MiB, unit: "bytes", min: 1 * KiB, max: 1 * GiB },
    ),
    batches_in_flight: int(
      "Batches sent before the oldest is confirmed: 2 writes the next batch while the one before is confirmed, so the output does not wait for each confirmation; 1 waits, and a crash or a receiver outage then repeats at most one batch instead of two.",
      { default: 2, min: 1, max: 2 },
    ),
    commit_interval_seconds: int(
      "Longest time a batch waits for more events before it is committed (sent and confirmed).",
      { default: 2, unit: "seconds", min: 1, max: 300 },
    ),
    retries: int("Attempts to deliver one batch before the objects in it are failed.", {
      default: 5,
      min: 1,
      max: 100,
    }),
    senders: int("Connections used in parallel (devo_platform, relay).", {
      default: 1,
      min: 1,
      max: 16,
    }),
  }),
}, {
  relations: [
    {
      kind: "requiredFor",
      fields: ["config.address", "config.port", "config.chain", "config.cert", "config.key"],
      when: { key: "type", is: ["devo_platform"] },
      label: "output type",
    },
    {
      kind: "requiredFor",
      fields: ["config.address", "config.port"],
      when: { key: "type", is: ["relay"] },
      label: "output type",
    },
  ],
});

const obfuscationRule = obj("One obfuscation rule.", {
  paths: list(
    "Fields the rule applies to; absent means every string field (string_patterns then required).",
    str("A field path.", { pattern: FIELD_PATH }),
    { example: "[actor.user.email_addr, src_endpoint.ip]", exampleOnly: true },
  ),
  string_patterns: list(
    "Regular expressions (JavaScript syntax, run in linear time: no backreferences or lookarounds); only the matching parts of string values, and of keys, are replaced.",
    str("A regular expression.", { regex: true }),
    { example: "['\\b\\d{3}-\\d{2}-\\d{4}\\b']", exampleOnly: true },
  ),
  method: choice(
    "mask: replace with value; hash: keyed HMAC-SHA-256, hex, hash_length characters; partial: keep the last keep_last characters; drop: remove the field.",
    ["mask", "hash", "partial", "drop"],
    { required: true, example: "hash" },
  ),
  value: str("Replacement written by mask.", { default: DEFAULT_MASK }),
  hash_key: str(
    "Secret key of the hash (required for hash), at least 16 bytes: it is what keeps pseudonyms from being reversed by hashing guesses, so make it long and random (openssl rand -hex 32).",
    { secret: true, example: '"${SECLAKE_HASH_KEY}"' },
  ),
  hash_length: int("Hex characters of the hash kept, for hash.", {
    default: 16,
    min: 8,
    max: 64,
  }),
  keep_last: int("Characters kept in clear at the end, for partial.", {
    default: 4,
    min: 0,
    max: 64,
  }),
}, {
  relations: [
    {
      kind: "requiredFor",
      fields: ["hash_key"],
      when: { key: "method", is: ["hash"] },
      label: "method",
      code: "CONFIG_OBFUSCATION_RULE",
    },
    {
      kind: "onlyFor",
      key: "method",
      fields: { value: "mask", hash_key: "hash", hash_length: "hash", keep_last: "partial" },
      noun: "rule",
      code: "CONFIG_OBFUSCATION_RULE",
    },
  ],
});

const FORMS = ["equals", "in", "matches", "exists"];
const conditionFields = {
  path: str("The field the condition tests, in the obfuscation paths' syntax.", {
    pattern: FIELD_PATH,
    required: true,
    example: "actor.invoked_by",
  }),
  equals: str(
    "The field holds this value (numbers and booleans compared as their JSON text, e.g. 3001).",
    { example: "securitylake.amazonaws.com" },
  ),
  in: list(
    "The field holds one of these values.",
    str("A value.", { example: "securitylake.amazonaws.com" }),
    { example: "[3001, 3002]", exampleOnly: true },
  ),
  matches: str(
    "The field holds a string containing a match of this regular expression (linear-time engine: no backreferences or lookarounds).",
    { regex: true, example: "^AmazonSecurityLake" },
  ),
  exists: {
    kind: "boolean",
    description: "true: the field holds a value (not null); false: it holds none.",
    example: "true",
  } as ScalarSpec,
};
/** Exactly one of the forms: at least one, and none with another. */
const conditionRelations = [
  { kind: "oneOf" as const, fields: FORMS },
  ...FORMS.slice(0, -1).map((field, i) => ({
    kind: "conflicts" as const,
    field,
    with: FORMS.slice(i + 1),
    fix: "a condition has one test: write another condition for the other",
  })),
];
const condition = obj(
  "One condition on an event's field: path and exactly one of equals, in, matches or exists.",
  conditionFields,
  { relations: conditionRelations },
);
const tagRoute = obj("A condition and the Devo tag of the events that match it.", {
  ...conditionFields,
  tag: str("Devo tag (table) of the events that match.", {
    pattern: TAG,
    required: true,
    example: "my.app.security_lake.iam",
  }),
}, { relations: conditionRelations });

const events = obj("The `events` service: Security Lake OCSF records.", {
  tag: str("Devo tag (table) every event is sent with, unless devo_tag_map names another.", {
    default: DEFAULT_TAG,
    pattern: TAG,
  }),
  devo_tag_map: {
    kind: "map",
    description:
      "Tag per Security Lake source name (as in include_sources); must hold a `default` entry used for every other source.",
    key: { ...SOURCE, form: "a Security Lake source name such as CLOUD_TRAIL_MGMT, or default" },
    exampleKey: "default",
    example: `{ default: ${DEFAULT_TAG}, VPC_FLOW: my.app.security_lake.vpc_flow }`,
    exampleOnly: true,
    value: str("Devo tag for this source.", { pattern: TAG, example: DEFAULT_TAG }),
  },
  wait_time_seconds: int("SQS long-poll wait.", { default: 20, unit: "seconds", min: 1, max: 20 }),
  max_messages: int("Most SQS messages asked for in one receive.", {
    default: 10,
    min: 1,
    max: 10,
  }),
  visibility_timeout_seconds: int(
    "How long a received message stays hidden from other consumers; extended at half of it while the message is worked on.",
    { default: 300, unit: "seconds", min: 10, max: 43200 },
  ),
  max_concurrent_objects: int("Objects read at the same time.", { default: 4, min: 1, max: 64 }),
  include_sources: list(
    "Only objects of these sources are read (native names such as CLOUD_TRAIL_MGMT, or custom source names); absent means all.",
    str("A source name.", { pattern: SOURCE }),
    { example: "[CLOUD_TRAIL_MGMT, VPC_FLOW]", exampleOnly: true },
  ),
  exclude_sources: list(
    "Objects of these sources are skipped (and their messages deleted).",
    str("A source name.", { pattern: SOURCE }),
    { example: "[LAMBDA_EXECUTION]", exampleOnly: true },
  ),
  add_pulling_id: bool("Add `@devo_pulling_id` (the pull's start, epoch ms) to every event.", true),
  obfuscation: {
    kind: "objects",
    description:
      "Rules applied to every event before it is sent, in order. Each rule names fields (paths), string patterns, or both.",
    item: obfuscationRule,
    example: [
      "- paths: [actor.user.email_addr, src_endpoint.ip]",
      "  method: hash",
      '  hash_key: "${SECLAKE_HASH_KEY}"',
      "- string_patterns: ['\\b\\d{3}-\\d{2}-\\d{4}\\b']",
      "  method: partial",
      "  keep_last: 4",
    ].join("\n"),
    exampleOnly: true,
  },
  drop_events: {
    kind: "objects",
    description:
      "Events that match any of these conditions are not sent (counted as filtered out). Conditions see the event as read, before obfuscation.",
    item: condition,
    example: [
      "- path: actor.invoked_by",
      "  equals: securitylake.amazonaws.com",
      "- path: actor.session.issuer",
      "  matches: ':role/AmazonSecurityLake'",
    ].join("\n"),
    exampleOnly: true,
  },
  tag_routes: {
    kind: "objects",
    description:
      "The first route whose condition an event matches gives its tag; otherwise devo_tag_map (by source), then tag.",
    item: tagRoute,
    example: [
      "- path: class_uid",
      "  in: [3001, 3002]",
      "  tag: my.app.security_lake.iam",
      "- path: category_uid",
      "  equals: 4",
      "  tag: my.app.security_lake.network",
    ].join("\n"),
    exampleOnly: true,
  },
  source_fields: bool(
    'Add `"@source"` to every event: bucket, key, source, source_version, account, region and event_day as the object\'s key gives them (those it lacks left out).',
    false,
  ),
});

const input = obj("One input. Its key names it in logs, metrics and state.", {
  id: str("Identifier of this input in logs.", { default: "1" }),
  enabled: bool("Whether this input runs.", true),
  type: choice(
    "security_lake: the Security Lake subscriber queue and its S3 bucket; directory: a local folder of Parquet files (demo, trials).",
    ["security_lake", "directory"],
    { default: "security_lake" },
  ),
  credentials: credentials(
    "AWS credentials of the subscriber: access keys, a profile, or a role (with or without keys).",
  ),
  sqs_credentials: credentials(
    "Credentials for SQS only, when the queue is reached with another identity than the bucket; same keys as credentials.",
    "credentials",
  ),
  s3_credentials: credentials(
    "Credentials for S3 only, when the bucket is reached with another identity than the queue; same keys as credentials.",
    "credentials",
  ),
  region: str("AWS region of the subscriber queue (and of the lake bucket).", {
    pattern: REGION,
    example: "us-east-1",
  }),
  queue_name: str("Name of the Security Lake subscriber queue.", {
    pattern: QUEUE_NAME,
    example: "AmazonSecurityLake-00000000-0000-Main-Queue",
  }),
  queue_account_id: str(
    "Account that owns the queue, when it is not the caller's (needs queue_name).",
    { pattern: ACCOUNT_ID, example: '"123456789012"', exampleOnly: true },
  ),
  queue_arn: str(
    "ARN of the queue, as the Security Lake console shows it for a subscriber (its subscription endpoint), instead of queue_name or queue_url; its region must be region.",
    {
      pattern: QUEUE_ARN,
      example: "arn:aws:sqs:us-east-1:123456789012:AmazonSecurityLake-00000000-0000-Main-Queue",
      exampleOnly: true,
    },
  ),
  queue_url: str("URL of the queue, instead of queue_name (and queue_account_id) or queue_arn.", {
    pattern: URL_FORM,
    example:
      "https://sqs.us-east-1.amazonaws.com/123456789012/AmazonSecurityLake-00000000-0000-Main-Queue",
    exampleOnly: true,
  }),
  endpoint_url: str(
    "One endpoint for SQS, S3 and STS, such as a local stand-in (moto); each service's own *_endpoint_url wins over it. Absent: AWS's regional endpoints.",
    { pattern: URL_FORM, example: "https://127.0.0.1:5000", exampleOnly: true },
  ),
  sqs_endpoint_url: str(
    "Endpoint for SQS only, such as a VPC interface endpoint; default endpoint_url.",
    {
      pattern: URL_FORM,
      example: "https://vpce-0123456789abcdef0-abcdefgh.sqs.us-east-1.vpce.amazonaws.com",
      exampleOnly: true,
    },
  ),
  s3_endpoint_url: str(
    "Endpoint for S3 only, such as a VPC interface endpoint; default endpoint_url.",
    {
      pattern: URL_FORM,
      example: "https://bucket.vpce-0123456789abcdef0-abcdefgh.s3.us-east-1.vpce.amazonaws.com",
      exampleOnly: true,
    },
  ),
  sts_endpoint_url: str(
    "Endpoint for STS only (role assumption, identity checks), such as a VPC interface endpoint; default endpoint_url.",
    {
      pattern: URL_FORM,
      example: "https://vpce-0123456789abcdef0-abcdefgh.sts.us-east-1.vpce.amazonaws.com",
      exampleOnly: true,
    },
  ),
  use_fips_endpoint: bool(
    "Use AWS's FIPS 140 endpoints for the services whose endpoint is not configured.",
    false,
  ),
  s3_force_path_style: {
    kind: "boolean",
    description:
      "Address S3 as host/bucket/key instead of bucket.host/key. Absent: path-style when an S3 endpoint is configured, virtual-hosted otherwise.",
    example: "true",
    exampleOnly: true,
  },
  ca_bundle: str(
    "PEM file of CA certificates trusted for the AWS endpoints beside the default trust store (a private CA, a TLS-inspecting proxy); wins over the AWS_CA_BUNDLE environment variable.",
    { example: "/etc/seclake/corporate-ca.pem", exampleOnly: true },
  ),
  proxy_url: str(
    "HTTP proxy for every AWS request of this input (HTTPS goes through it with CONNECT): http://[user:password@]host:port. Wins over HTTPS_PROXY and HTTP_PROXY; NO_PROXY still applies.",
    {
      pattern: PROXY_URL,
      secret: true,
      example: "http://proxy.example.com:3128",
      exampleOnly: true,
    },
  ),
  reset_persistence_auth: str(
    "Any text; changing it resets this input's saved state at the next start (once).",
    { typeCode: "CONFIG_RESET_AUTH", example: '"2024-05-01"', exampleOnly: true },
  ),
  historical_poll_datetime: {
    kind: "datetime",
    description:
      "RFC 3339 date-time to backfill from (listing the bucket): not in the future, and at most one year back when the backfill starts (it may age past that later).",
    maxAgeDays: 365,
    typeCode: "CONFIG_HISTORICAL_TYPE",
    example: '"2024-05-01T00:00:00Z"',
    exampleOnly: true,
  },
  bucket: str(
    "The lake bucket; needed for backfill, and checked by `seclake check`. Unless allowed_buckets says otherwise, notifications may name only this bucket.",
    {
      pattern: BUCKET,
      example: "aws-security-data-lake-us-east-1-abcdefghijklmnopqrstuvwxyz0123",
      exampleOnly: true,
    },
  ),
  accounts: list(
    "Only objects of these accounts are read (the accountId= partition, in any letter case); absent means all. Custom sources may write any value there (external, an Azure subscription or GCP project id).",
    str("An account value.", { pattern: ACCOUNT_VALUE }),
    { example: '["123456789012", external_acme]', exampleOnly: true },
  ),
  regions: list(
    "Only objects of these regions are read (the region= partition, in any letter case); absent means all. Custom sources may write any value there.",
    str("A region value.", { pattern: REGION_VALUE }),
    { example: "[us-east-1, eu-west-1]", exampleOnly: true },
  ),
  allowed_buckets: list(
    "Buckets notifications may name; a notification naming another is refused (DataError 610) and nothing of it is read. Absent: the input's bucket when bucket is set; when neither is set, only Security Lake's bucket names (aws-security-data-lake-*) are accepted, and run and check warn.",
    str("A bucket name.", { pattern: BUCKET }),
    {
      example: "[aws-security-data-lake-us-east-1-abcdefghijklmnopqrstuvwxyz0123]",
      exampleOnly: true,
    },
  ),
  backfill_concurrency: int("Objects read at the same time while backfilling.", {
    default: 1,
    min: 1,
    max: 64,
  }),
  startup_auth_wait_seconds: int(
    "At start-up, how long AWS refusals that IAM propagation explains (credentials refused, role not assumable, access denied) are tried again before `run` exits 69; 0 exits at once.",
    { default: 300, unit: "seconds", min: 0, max: 3600 },
  ),
  max_receive_count: int("Receives of one message before it is quarantined.", {
    default: 5,
    min: 1,
    max: 1000,
  }),
  quarantine: bool(
    "Set aside messages that keep failing (after max_receive_count) instead of retrying them forever.",
    true,
  ),
  max_object_bytes: int("Largest object read; larger ones are quarantined.", {
    default: 1 * GiB,
    unit: "bytes",
    min: 1 * KiB,
    max: 64 * GiB,
  }),
  max_event_bytes: int("Largest event line sent; see oversized_events.", {
    default: 1 * MiB,
    unit: "bytes",
    min: 1 * KiB,
    max: 64 * MiB,
  }),
  oversized_events: choice(
    "What happens to an event larger than max_event_bytes: truncate it (marked), or quarantine its object.",
    ["truncate", "quarantine"],
    { default: "truncate" },
  ),
  directory: str("For type directory: the folder whose Parquet files are read.", {
    example: "./lake",
    exampleOnly: true,
  }),
  services: obj("Services of this input.", { events }),
}, {
  relations: [
    {
      kind: "requiredFor",
      fields: ["directory"],
      when: { key: "type", is: ["directory"] },
      label: "input type",
    },
    { kind: "requiredFor", fields: ["region"], when: { key: "type", not: ["directory"] } },
    {
      kind: "oneOf",
      fields: ["queue_name", "queue_url", "queue_arn"],
      when: { key: "type", not: ["directory"] },
    },
    {
      kind: "conflicts",
      field: "queue_arn",
      with: ["queue_name", "queue_url"],
      when: { key: "type", not: ["directory"] },
    },
    {
      kind: "conflicts",
      field: "queue_url",
      with: ["queue_name"],
      when: { key: "type", not: ["directory"] },
    },
    {
      kind: "conflicts",
      field: "queue_account_id",
      with: ["queue_url", "queue_arn"],
      when: { key: "type", not: ["directory"] },
      why: ", which already names the account",
    },
  ],
});

/** The whole configuration file. */
const schema = obj("The configuration file.", {
  globals: obj("Settings of the whole collector.", {
    id: str("Identifier of this collector instance.", { default: "seclake" }),
    name: str("Name of this collector, written in logs.", { default: "seclake" }),
    persistence: obj("Where state is kept.", {
      type: choice("Kind of state store.", ["filesystem"], { default: "filesystem" }),
      directory_name: str("Directory of the state files.", { default: "state" }),
    }),
    log_level: choice("Lowest level logged.", ["debug", "info", "warning", "error"], {
      default: "info",
    }),
    log_format: choice("text: Devo-style lines; json: one JSON object per line.", [
      "text",
      "json",
    ], { default: "text" }),
    metrics: obj("The metrics and health endpoint (/metrics, /healthz, /readyz).", {
      listen: str("Address the endpoint listens on; absent means the endpoint is off.", {
        pattern: LISTEN,
        example: "127.0.0.1:9464",
        exampleOnly: true,
      }),
      header_timeout_seconds: int(
        "Time a client has to send its whole request (line and headers); then the connection is closed.",
        { default: 10, unit: "seconds", min: 1, max: 300 },
      ),
      idle_timeout_seconds: int(
        "A connection on which nothing arrives (or nothing is taken while the answer is written) for this long is closed.",
        { default: 5, unit: "seconds", min: 1, max: 300 },
      ),
      max_connections: int(
        "Connections open at once; more are closed as soon as they are accepted. Each request gets its own connection.",
        { default: 32, min: 1, max: 4096 },
      ),
    }),
    sender_stats_period_seconds: int("Period of the sender statistics log lines.", {
      default: 300,
      unit: "seconds",
      min: 60,
      max: 1800,
    }),
    memory_report_period_seconds: int("Period of the memory usage log lines.", {
      default: 300,
      unit: "seconds",
      min: 10,
      max: 86400,
    }),
    shutdown_timeout_seconds: int(
      "Time work in flight gets to finish after a stop signal before the collector exits.",
      { default: 25, unit: "seconds", min: 1, max: 3600 },
    ),
    max_in_flight_bytes: int(
      "Event bytes held in memory across all inputs before reading pauses.",
      { default: 256 * MiB, unit: "bytes", min: 1 * MiB, max: 64 * GiB },
    ),
    queue_depth_poll_seconds: int("Period of the queue depth metric (GetQueueAttributes).", {
      default: 60,
      unit: "seconds",
      min: 10,
      max: 3600,
    }),
    decode_threads: int(
      "Worker threads that decode Parquet objects, at most one per CPU core; 0 decodes on the main thread. Each one costs memory (its own heap, a row group, up to 16 MiB of lines): about 100 MB. With 1, decoding runs beside the output and S3 reads on the main thread.",
      { default: 2, min: 0, max: 64 },
    ),
  }),
  outputs: {
    kind: "map",
    description: "Where events go. Each key names one output.",
    key: NAME,
    exampleKey: "devo_1",
    value: output,
  },
  inputs: {
    kind: "map",
    description: "Where events come from. Each key names one input.",
    key: NAME,
    exampleKey: "security_lake",
    value: input,
  },
});

/** The whole configuration file's schema. */
export const SCHEMA: ObjectSpec = schema;

/** The object specs with their field names, for tying the configuration types to the schema. */
export const SPECS = {
  globals: schema.fields.globals,
  output: output,
  inputs: input,
  events,
  obfuscationRule,
  condition,
  tagRoute,
  credentials: input.fields.credentials,
};
