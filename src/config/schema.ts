/**
 * The configuration schema: every setting declared once, with its type, default, unit, allowed
 * range or pattern, whether it is secret, and its description. Loading, validation, defaults,
 * the generated `docs/configuration.md` and `config.example.yaml` all read this table.
 * @module
 */
import { bool, choice, GiB, int, KiB, list, MiB, obj, str } from "./spec.ts";
import type { ObjectSpec } from "./spec.ts";
import {
  ACCESS_KEY_ID,
  ACCOUNT_ID,
  ACCOUNT_VALUE,
  BUCKET,
  FIELD_PATH,
  LISTEN,
  NAME,
  PROXY_URL,
  QUEUE_ARN,
  QUEUE_NAME,
  REGION,
  REGION_VALUE,
  ROLE_ARN,
  SOURCE,
  TAG,
  URL_FORM,
} from "./forms.ts";
import { output } from "./schema_output.ts";
import { condition, tagRoute } from "./schema_conditions.ts";

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
    memory_limit: int(
      "Memory the collector keeps to: it sizes its decode workers, read-ahead and batches in flight to fit, slowing down rather than growing, collects its garbage early once it nears the limit, and refuses a row group that cannot fit even alone (DataError 613). Absent means the memory limit of the container (cgroup) less a tenth (at least 32 MiB), or no limit outside one; 0 means no limit. The limit in force is logged at start.",
      { unit: "bytes", min: 0, max: 1024 * GiB, example: "512MiB", exampleOnly: true },
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
