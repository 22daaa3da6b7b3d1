/**
 * The validated, defaulted and frozen configuration the rest of the collector reads.
 * Keys keep the YAML names so that docs, messages and code say the same thing.
 * @module
 */

/** Settings of one output. */
export interface OutputConfig {
  readonly name: string;
  readonly type: "devo_platform" | "relay" | "console";
  readonly address?: string;
  readonly port?: number;
  /** Absolute path of the CA chain PEM. */
  readonly chain?: string;
  /** Absolute path of the client certificate PEM. */
  readonly cert?: string;
  /** Absolute path of the client key PEM. */
  readonly key?: string;
  readonly hostname?: string;
  readonly connect_timeout_seconds: number;
  readonly confirm_timeout_seconds: number;
  readonly max_batch_bytes: number;
  readonly retries: number;
}

/** Settings of the `events` service. */
export interface EventsServiceConfig {
  readonly tag: string;
  readonly wait_time_seconds: number;
  readonly max_messages: number;
  readonly visibility_timeout_seconds: number;
  readonly max_concurrent_objects: number;
  readonly add_pulling_id: boolean;
}

/** AWS credentials of an input. */
export interface CredentialsConfig {
  readonly aws_access_key_id?: string;
  readonly aws_secret_access_key?: string;
  readonly aws_session_token?: string;
}

/** Settings of one input. */
export interface InputConfig {
  readonly name: string;
  readonly id: string;
  readonly enabled: boolean;
  readonly type: "security_lake" | "directory";
  readonly credentials: CredentialsConfig;
  readonly region?: string;
  readonly queue_name?: string;
  readonly queue_url?: string;
  readonly queue_account_id?: string;
  readonly endpoint_url?: string;
  /** Absolute path, for type directory. */
  readonly directory?: string;
  readonly services: { readonly events: EventsServiceConfig };
}

/** Settings of the whole collector. */
export interface GlobalsConfig {
  readonly id: string;
  readonly name: string;
  readonly persistence: { readonly type: "filesystem"; readonly directory_name: string };
  readonly log_level: "debug" | "info" | "warning" | "error";
  readonly log_format: "text" | "json";
}

/** The whole configuration. */
export interface Config {
  readonly globals: GlobalsConfig;
  readonly outputs: readonly OutputConfig[];
  readonly inputs: readonly InputConfig[];
}
