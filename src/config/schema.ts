/**
 * The configuration schema: every setting declared once, with its type, default, unit, allowed
 * range or pattern, whether it is secret, and its description. Loading, validation, defaults and
 * the generated `docs/configuration.md` all read this table.
 * @module
 */

/** A scalar setting. */
export interface ScalarSpec {
  readonly kind: "string" | "integer" | "boolean" | "enum";
  readonly description: string;
  readonly default?: string | number | boolean;
  /** Unit of a number, for docs (seconds, bytes...). */
  readonly unit?: string;
  readonly min?: number;
  readonly max?: number;
  /** Regular expression a string must match, with a human description of the form. */
  readonly pattern?: { readonly re: RegExp; readonly form: string };
  readonly choices?: readonly string[];
  /** Values are masked in messages and dumps. */
  readonly secret?: boolean;
  readonly required?: boolean;
}

/** A list of strings. */
export interface ListSpec {
  readonly kind: "list";
  readonly description: string;
  readonly pattern?: { readonly re: RegExp; readonly form: string };
  readonly required?: boolean;
}

/** An object with a fixed set of keys. */
export interface ObjectSpec {
  readonly kind: "object";
  readonly description: string;
  readonly fields: Readonly<Record<string, Spec>>;
  readonly required?: boolean;
}

/** An object whose keys are names chosen by the operator (outputs, inputs). */
export interface MapSpec {
  readonly kind: "map";
  readonly description: string;
  readonly value: Spec;
  readonly required?: boolean;
}

/** Any node of the schema. */
export type Spec = ScalarSpec | ListSpec | ObjectSpec | MapSpec;

const str = (description: string, extra: Partial<ScalarSpec> = {}): ScalarSpec => ({
  kind: "string",
  description,
  ...extra,
});
const int = (description: string, extra: Partial<ScalarSpec> = {}): ScalarSpec => ({
  kind: "integer",
  description,
  ...extra,
});
const bool = (description: string, dflt: boolean): ScalarSpec => ({
  kind: "boolean",
  description,
  default: dflt,
});
const obj = (
  description: string,
  fields: Record<string, Spec>,
  extra: { required?: boolean } = {},
): ObjectSpec => ({ kind: "object", description, fields, ...extra });

/** The Devo table Security Lake events go to unless configured otherwise. */
export const DEFAULT_TAG = "cloud.aws.amazon.security_lake.events";

const TAG_PATTERN = {
  re: /^[a-z0-9_]+(\.[a-z0-9_\-]+){2,}$/i,
  form: "a Devo tag of dot-separated words, e.g. cloud.aws.amazon.security_lake.events",
};
const REGION_PATTERN = {
  re: /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/,
  form: "an AWS region such as us-east-1",
};
const QUEUE_NAME_PATTERN = {
  re: /^[A-Za-z0-9_-]{1,80}(\.fifo)?$/,
  form: "1 to 80 letters, digits, hyphens or underscores",
};
const ADDRESS_PATTERN = {
  re: /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$|^\[?[0-9a-fA-F:]+\]?$/,
  form: "a host name or IP address without scheme or port",
};
const URL_PATTERN = { re: /^https?:\/\/[^\s/]+(\/.*)?$/, form: "an http(s) URL" };

const outputConfig = obj("Settings of this output.", {
  address: str("Host name or IP address of the receiver.", { pattern: ADDRESS_PATTERN }),
  port: int("TCP port of the receiver.", { min: 1, max: 65535 }),
  chain: str(
    "PEM file with the CA chain that signs the receiver's certificate (Devo's chain.crt).",
  ),
  cert: str("PEM file with the client certificate (the Devo domain certificate)."),
  key: str("PEM file with the client certificate's private key.", { secret: true }),
  hostname: str("Host name written in each syslog header; defaults to this machine's name."),
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
  max_batch_bytes: int("Bytes written per connection before delivery is confirmed.", {
    default: 8 * 1024 * 1024,
    unit: "bytes",
    min: 1024,
    max: 1024 * 1024 * 1024,
  }),
  retries: int("Attempts to deliver one batch before the objects in it are failed.", {
    default: 5,
    min: 1,
    max: 100,
  }),
});

const events = obj("The `events` service: Security Lake OCSF records.", {
  tag: str("Devo tag (table) every event is sent with.", {
    default: DEFAULT_TAG,
    pattern: TAG_PATTERN,
  }),
  wait_time_seconds: int("SQS long-poll wait.", { default: 20, unit: "seconds", min: 1, max: 20 }),
  max_messages: int("Most SQS messages asked for in one receive.", {
    default: 10,
    min: 1,
    max: 10,
  }),
  visibility_timeout_seconds: int(
    "How long a received message stays hidden from other consumers while it is processed.",
    { default: 300, unit: "seconds", min: 10, max: 43200 },
  ),
  max_concurrent_objects: int("Objects read at the same time.", { default: 4, min: 1, max: 64 }),
  add_pulling_id: bool("Add `@devo_pulling_id` (the pull's start, epoch ms) to every event.", true),
});

const input = obj("One input. Its key is the input's name.", {
  id: { kind: "string", description: "Identifier of this input in logs.", default: "1" },
  enabled: bool("Whether this input runs.", true),
  type: {
    kind: "enum",
    description:
      "security_lake: the Security Lake SQS queue and its S3 bucket; directory: a local folder of Parquet files (demo, tests).",
    default: "security_lake",
    choices: ["security_lake", "directory"],
  },
  credentials: obj("AWS credentials of the subscriber.", {
    aws_access_key_id: str("AWS access key id.", {
      pattern: { re: /^[A-Z0-9]{4,128}$/i, form: "an access key id such as AKIA..." },
    }),
    aws_secret_access_key: str("AWS secret access key.", { secret: true }),
    aws_session_token: str("Session token for temporary credentials.", { secret: true }),
  }),
  region: str("AWS region of the queue and the lake bucket.", { pattern: REGION_PATTERN }),
  queue_name: str("Name of the Security Lake subscriber queue.", { pattern: QUEUE_NAME_PATTERN }),
  queue_url: str("URL of the queue; used instead of resolving queue_name.", {
    pattern: URL_PATTERN,
  }),
  queue_account_id: str("Account that owns the queue, when it is not the caller's.", {
    pattern: { re: /^\d{12}$/, form: "a 12-digit AWS account id" },
  }),
  endpoint_url: str(
    "One endpoint for SQS and S3 (VPC endpoints, tests); implies path-style S3 addressing.",
    { pattern: URL_PATTERN },
  ),
  directory: str("For type directory: the folder whose Parquet files are read."),
  services: obj("Services of this input.", { events }),
});

/** The whole configuration file. */
export const SCHEMA: ObjectSpec = obj("The configuration file.", {
  globals: obj("Settings of the whole collector.", {
    id: str("Identifier of this collector instance.", { default: "seclake" }),
    name: str("Name of this collector, written in logs.", { default: "seclake" }),
    persistence: obj("Where state is kept.", {
      type: {
        kind: "enum",
        description: "Kind of state store.",
        default: "filesystem",
        choices: ["filesystem"],
      },
      directory_name: str("Directory of the state files.", { default: "state" }),
    }),
    log_level: {
      kind: "enum",
      description: "Lowest level logged.",
      default: "info",
      choices: ["debug", "info", "warning", "error"],
    },
    log_format: {
      kind: "enum",
      description: "text: Devo-style lines; json: one JSON object per line.",
      default: "text",
      choices: ["text", "json"],
    },
  }),
  outputs: {
    kind: "map",
    description: "Where events go. Each key names one output.",
    required: true,
    value: obj("One output.", {
      type: {
        kind: "enum",
        description:
          "devo_platform: Devo over mutual TLS; relay: plain TCP syslog; console: standard output.",
        required: true,
        choices: ["devo_platform", "relay", "console"],
      },
      config: outputConfig,
    }),
  },
  inputs: {
    kind: "map",
    description: "Where events come from. Each key names one input.",
    required: true,
    value: input,
  },
});
