/**
 * The validated, defaulted and frozen configuration the rest of the collector reads.
 * Keys keep the YAML names so that docs, messages and code say the same thing; the schema table
 * in `schema.ts` documents every field (type, default, unit, range).
 * @module
 */

/** Settings of one output. */
export interface OutputConfig {
  /** The output's key under `outputs`. */
  readonly name: string;
  /** `devo_platform`: Devo over mutual TLS; `relay`: plain TCP syslog; `console`: stdout. */
  readonly type: "devo_platform" | "relay" | "console";
  /** Host name or IP address of the receiver (devo_platform, relay). */
  readonly address?: string;
  /** TCP port of the receiver (devo_platform, relay). */
  readonly port?: number;
  /** Absolute path of the CA chain PEM. */
  readonly chain?: string;
  /** Absolute path of the client certificate PEM. */
  readonly cert?: string;
  /** Absolute path of the client key PEM. */
  readonly key?: string;
  /** Host name written in each syslog header; absent means this machine's name. */
  readonly hostname?: string;
  /** Seconds allowed to connect and finish the TLS handshake. */
  readonly connect_timeout_seconds: number;
  /** Seconds allowed for the receiver to confirm a batch by closing its side. */
  readonly confirm_timeout_seconds: number;
  /** Bytes written per connection (one batch) before delivery is confirmed. */
  readonly max_batch_bytes: number;
  /** Batches sent before the oldest is confirmed (1 or 2). */
  readonly batches_in_flight: number;
  /** Seconds a batch may wait for more events before it is committed (sent and confirmed). */
  readonly commit_interval_seconds: number;
  /** Attempts to deliver one batch before the objects in it are failed. */
  readonly retries: number;
  /** Connections used in parallel (devo_platform, relay). */
  readonly senders: number;
}

/** One obfuscation rule of the `events` service. */
export interface ObfuscationRule {
  /** Dotted OCSF field paths (`*` matches any key or list element); absent means every field. */
  readonly paths?: readonly string[];
  /** JavaScript regular expressions; only the matching parts of string values are replaced. */
  readonly string_patterns?: readonly string[];
  /** What is done to a matched value. */
  readonly method: "mask" | "hash" | "partial" | "drop";
  /** Replacement for `mask` (default `****SANITIZED****`). */
  readonly value: string;
  /** Secret key of the keyed hash, for `hash`. */
  readonly hash_key?: string;
  /** Hex characters of the hash kept, for `hash`. */
  readonly hash_length: number;
  /** Trailing characters kept in clear, for `partial`. */
  readonly keep_last: number;
}

/** Settings of the `events` service. */
export interface EventsServiceConfig {
  /** Devo tag every event is sent with, unless `devo_tag_map` says otherwise. */
  readonly tag: string;
  /** Tag per Security Lake source name; holds a `default` entry when present. */
  readonly devo_tag_map?: Readonly<Record<string, string>>;
  readonly wait_time_seconds: number;
  readonly max_messages: number;
  readonly visibility_timeout_seconds: number;
  readonly max_concurrent_objects: number;
  /** Only objects of these Security Lake sources are read (absent: all). */
  readonly include_sources?: readonly string[];
  /** Objects of these Security Lake sources are skipped. */
  readonly exclude_sources?: readonly string[];
  readonly add_pulling_id: boolean;
  /** Obfuscation rules applied to every event, in order (empty: none). */
  readonly obfuscation: readonly ObfuscationRule[];
  /** Events matching any of these conditions are not sent (empty: none). */
  readonly drop_events: readonly EventCondition[];
  /** Conditions giving a tag to the events that match them, first match first (empty: none). */
  readonly tag_routes: readonly TagRoute[];
  /** Add `@source` (the object's key facts) to every event. */
  readonly source_fields: boolean;
}

/** One condition on an event's field (exactly one of equals, in, matches, exists). */
export interface EventCondition {
  readonly path: string;
  readonly equals?: string;
  readonly in?: readonly string[];
  readonly matches?: string;
  readonly exists?: boolean;
}

/** A condition and the tag of the events that match it. */
export interface TagRoute extends EventCondition {
  readonly tag: string;
}

/** AWS credentials of an input (or of its SQS or S3 side). */
export interface CredentialsConfig {
  readonly aws_access_key_id?: string;
  readonly aws_secret_access_key?: string;
  readonly aws_session_token?: string;
  /** Role assumed with the credentials above (or the default chain when none are given). */
  readonly role_arn?: string;
  /** External id required by the role's trust policy. */
  readonly external_id?: string;
  readonly role_session_name: string;
  readonly role_duration_seconds: number;
  /** Named profile of the shared AWS config and credentials files. */
  readonly profile?: string;
}

/** Settings of one input. */
export interface InputConfig {
  /** The input's key under `inputs`. */
  readonly name: string;
  readonly id: string;
  readonly enabled: boolean;
  readonly type: "security_lake" | "directory";
  readonly credentials: CredentialsConfig;
  /** Credentials for SQS only; absent means `credentials`. */
  readonly sqs_credentials?: CredentialsConfig;
  /** Credentials for S3 only; absent means `credentials`. */
  readonly s3_credentials?: CredentialsConfig;
  readonly region?: string;
  readonly queue_name?: string;
  readonly queue_url?: string;
  /** The queue's ARN (`arn:aws:sqs:<region>:<account>:<name>`), instead of a name or URL. */
  readonly queue_arn?: string;
  readonly queue_account_id?: string;
  readonly endpoint_url?: string;
  /** SQS's own endpoint (default `endpoint_url`). */
  readonly sqs_endpoint_url?: string;
  /** S3's own endpoint (default `endpoint_url`). */
  readonly s3_endpoint_url?: string;
  /** STS's own endpoint (default `endpoint_url`). */
  readonly sts_endpoint_url?: string;
  /** Use AWS's FIPS endpoints where no endpoint is configured. */
  readonly use_fips_endpoint: boolean;
  /** Path-style S3 addressing (absent: when an S3 endpoint is configured). */
  readonly s3_force_path_style?: boolean;
  /** PEM file of CAs trusted for AWS beside the default store (absolute path). */
  readonly ca_bundle?: string;
  /** HTTP proxy for AWS requests (a secret: may hold a password). */
  readonly proxy_url?: string;
  /** Changing this value resets the input's persisted state at the next start. */
  readonly reset_persistence_auth?: string;
  /** RFC 3339 date-time (normalised to UTC, `toISOString()` form) to backfill from. */
  readonly historical_poll_datetime?: string;
  /** The lake bucket, for backfill and for `seclake check`. */
  readonly bucket?: string;
  /** Accounts whose objects are read (absent: all). */
  readonly accounts?: readonly string[];
  /** Regions whose objects are read (absent: all). */
  readonly regions?: readonly string[];
  /**
   * Buckets notifications may name: as configured, else `[bucket]` when `bucket` is set; absent
   * when neither is, and then only Security Lake's bucket names (`aws-security-data-lake-*`)
   * are accepted.
   */
  readonly allowed_buckets?: readonly string[];
  readonly backfill_concurrency: number;
  /** Seconds start-up keeps trying AWS refusals that IAM propagation explains. */
  readonly startup_auth_wait_seconds: number;
  /** Receives of one message before it is quarantined. */
  readonly max_receive_count: number;
  /** Whether messages that keep failing are set aside instead of retried forever. */
  readonly quarantine: boolean;
  readonly max_object_bytes: number;
  readonly max_event_bytes: number;
  readonly oversized_events: "truncate" | "quarantine";
  /** Absolute path, for type directory. */
  readonly directory?: string;
  readonly services: { readonly events: EventsServiceConfig };
}

/** Settings of the metrics and health endpoint. */
export interface MetricsConfig {
  /** `host:port`, `host` or `:port` as written; absent means the endpoint is off. */
  readonly listen?: string;
  /** Time a client has to send its whole request head. */
  readonly header_timeout_seconds: number;
  /** A connection silent for this long is closed. */
  readonly idle_timeout_seconds: number;
  /** Connections open at once. */
  readonly max_connections: number;
}

/** Settings of the whole collector. */
export interface GlobalsConfig {
  readonly id: string;
  readonly name: string;
  readonly persistence: { readonly type: "filesystem"; readonly directory_name: string };
  readonly log_level: "debug" | "info" | "warning" | "error";
  readonly log_format: "text" | "json";
  readonly metrics: MetricsConfig;
  readonly sender_stats_period_seconds: number;
  readonly memory_report_period_seconds: number;
  readonly shutdown_timeout_seconds: number;
  readonly max_in_flight_bytes: number;
  /** Bytes of memory to keep to; absent: the cgroup's limit less headroom; 0: no limit. */
  readonly memory_limit?: number;
  readonly queue_depth_poll_seconds: number;
  /** Decode threads (workers); 0 or 1: decode on the main thread. */
  readonly decode_threads: number;
}

/** The whole configuration. */
export interface Config {
  readonly globals: GlobalsConfig;
  readonly outputs: readonly OutputConfig[];
  /** Enabled inputs only. */
  readonly inputs: readonly InputConfig[];
}
