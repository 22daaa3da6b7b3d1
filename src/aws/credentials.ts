/**
 * AWS identities for an input: where credentials come from, assuming a role on top of them, and
 * renewing temporary credentials before they expire.
 *
 * Sources, per `credentials` (or `sqs_credentials` / `s3_credentials`):
 * - static keys: `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`);
 * - a named `profile` of the shared AWS files (`fromIni`: keys, SSO, `role_arn` profiles...);
 * - otherwise the standard AWS chain (`fromNodeProviderChain`): environment variables, the
 *   shared files' default profile, a web identity token (EKS IRSA), container credentials (ECS,
 *   EKS Pod Identity), instance metadata.
 *
 * With `role_arn`, that source is only used to call STS `AssumeRole` (with `external_id`,
 * `role_session_name`, `role_duration_seconds`); requests are signed with the role's temporary
 * credentials.
 *
 * Every identity is a {@link ManagedCredentials}: the SDK clients ask it for credentials before
 * each request, and it hands out the ones it holds until `refreshMarginMs` before they expire.
 * Then it renews them in the background while the old ones, still valid, keep signing requests,
 * so no work in progress waits or fails; the renewal is logged with the new expiry time. Only
 * when no valid credentials are left does a request wait for (or fail with) the renewal.
 *
 * Secrets never leave this module except inside the SDK's signer: descriptions, log lines and
 * errors name the kind of source, the profile and the role, never a key or token.
 * @module
 */
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromIni, fromNodeProviderChain } from "@aws-sdk/credential-providers";
import type { CredentialsConfig } from "../config/types.ts";
import { CollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { AUTH_ERROR_NAMES } from "./errors.ts";
import type { FetchHandler } from "./http_handler.ts";
import { logEvent } from "../telemetry/events.ts";

/** A set of AWS credentials, as the SDK takes them. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** When temporary credentials stop working; absent for long-term keys. */
  readonly expiration?: Date;
}

/**
 * A credentials provider the SDK clients take as `credentials`. It is marked `memoized` so the
 * SDK calls it before every request and leaves caching and renewal to {@link ManagedCredentials}.
 */
export type SdkCredentialsProvider = ((options?: unknown) => Promise<AwsCredentials>) & {
  memoized: true;
};

/** Options for {@link createCredentials}. */
export interface CredentialsOptions {
  /** Region for STS and the credential chain. */
  region?: string;
  /** Endpoint for STS (a local stand-in such as moto); default: AWS's STS endpoint. */
  endpoint?: string;
  /** Names this identity in logs, e.g. `input security_lake (SQS)`. Default `AWS`. */
  label?: string;
  /**
   * Renew temporary credentials this long before they expire. Default 5 minutes, but never more
   * than nine tenths of their lifetime (so short-lived credentials are still used for a while);
   * a margin given here is used as is.
   */
  refreshMarginMs?: number;
  /** Wait this long after a failed renewal before trying again. Default 30 s. */
  retryAfterMs?: number;
  /** The clock, in epoch milliseconds (tests). Default `Date.now`. */
  now?: () => number;
  /** Shared AWS files to read instead of the usual ones (tests). */
  sharedFiles?: { credentials?: string; config?: string };
  /**
   * The HTTP handler for STS, also given to the credential sources that call AWS themselves
   * (web identity, SSO, `role_arn` profiles), so they use the input's proxy and trust.
   */
  requestHandler?: FetchHandler;
  /** Use STS's FIPS endpoint when no endpoint is given. */
  fips?: boolean;
}

type StsClientConfig = ConstructorParameters<typeof STSClient>[0];

/** The STS client settings `options` give (region, endpoint, handler, FIPS). */
function stsConfig(
  options: Pick<CredentialsOptions, "region" | "endpoint" | "requestHandler" | "fips">,
): StsClientConfig {
  return {
    region: options.region ?? "us-east-1",
    ...(options.endpoint
      ? { endpoint: options.endpoint }
      : options.fips
      ? { useFipsEndpoint: true }
      : {}),
    ...(options.requestHandler ? { requestHandler: options.requestHandler } : {}),
  };
}

const DEFAULT_MARGIN_MS = 5 * 60_000;

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Converts an STS error of `operation` into a catalogue error; never copies a secret. */
export function wrapStsError(
  e: unknown,
  operation: "AssumeRole" | "GetCallerIdentity",
  context: Record<string, unknown> = {},
): CollectorError {
  if (e instanceof CollectorError) return e;
  const err = (e ?? {}) as SdkError;
  const name = err.name ?? "Error";
  const status = err.$metadata?.httpStatusCode;
  let code: ErrorCode = "STS_CALL";
  let retryable = true;
  if (AUTH_ERROR_NAMES.has(name)) [code, retryable] = ["AWS_AUTH", false];
  else if (operation === "AssumeRole" && (status === 403 || name === "AccessDenied")) {
    [code, retryable] = ["ASSUME_ROLE_FAILED", false];
  } else if (
    operation === "AssumeRole" &&
    (name === "ValidationError" || name === "MalformedPolicyDocument" ||
      name === "RegionDisabledException")
  ) {
    [code, retryable] = ["ASSUME_ROLE_FAILED", false];
  } else if (status === 403) [code, retryable] = ["AWS_AUTH", false];
  else if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
    retryable = /Throttl|RequestTimeout|IDPCommunication/i.test(name);
  }
  const role = typeof context.role_arn === "string" ? ` of ${context.role_arn}` : "";
  const message = `STS ${operation}${role} failed: ${name}${status ? ` (HTTP ${status})` : ""}` +
    (err.message && err.message !== name && err.message !== "UnknownError"
      ? `: ${err.message}`
      : "");
  return new CollectorError(code, message, {
    cause: e,
    retryable,
    context: { ...context, status },
  });
}

/** Converts a failure of a credential source (profile, chain) into a catalogue error. */
function wrapSourceError(e: unknown, source: string): CollectorError {
  if (e instanceof CollectorError) return e;
  const err = (e ?? {}) as SdkError;
  const name = err.name ?? "Error";
  if (AUTH_ERROR_NAMES.has(name) || err.$metadata?.httpStatusCode !== undefined) {
    return wrapStsError(e, "AssumeRole", { source });
  }
  return new CollectorError(
    "CREDENTIALS_UNAVAILABLE",
    `No AWS credentials from ${source}: ${err.message ?? name}`,
    { cause: e, context: { source } },
  );
}

type Fetch = () => Promise<AwsCredentials>;

/**
 * One identity's credentials: fetched on first use, handed out until shortly before they
 * expire, renewed in the background while still valid (see the module).
 */
export class ManagedCredentials {
  /** What the credentials come from, for logs: no key, token or secret. */
  readonly description: string;
  /** The provider to give SDK clients as `credentials`. */
  readonly provider: SdkCredentialsProvider;
  readonly #fetch: Fetch;
  readonly #label: string;
  readonly #margin: number;
  readonly #explicitMargin: boolean;
  readonly #retryAfter: number;
  readonly #now: () => number;
  readonly #onDestroy: () => void;
  #current?: AwsCredentials;
  #pending?: Promise<AwsCredentials>;
  #failedAt = -Infinity;
  #renewals = 0;

  /** Wraps `fetch` (use {@link createCredentials} rather than this constructor). */
  constructor(
    fetch: Fetch,
    description: string,
    options: CredentialsOptions = {},
    onDestroy: () => void = () => {},
  ) {
    this.#fetch = fetch;
    this.description = description;
    this.#label = options.label ?? "AWS";
    this.#margin = options.refreshMarginMs ?? DEFAULT_MARGIN_MS;
    this.#explicitMargin = options.refreshMarginMs !== undefined;
    this.#retryAfter = options.retryAfterMs ?? 30_000;
    this.#now = options.now ?? Date.now;
    this.#onDestroy = onDestroy;
    if (!(this.#margin >= 0)) {
      throw new RangeError(`refreshMarginMs must be 0 or more: got ${options.refreshMarginMs}`);
    }
    const provider = (() => this.get()) as SdkCredentialsProvider;
    provider.memoized = true;
    this.provider = provider;
  }

  /** When the credentials held expire (undefined for long-term ones, or before the first use). */
  get expiration(): Date | undefined {
    return this.#current?.expiration;
  }

  /** How many times the credentials were renewed. */
  get renewals(): number {
    return this.#renewals;
  }

  /** Valid credentials, renewing them first (or in the background) as needed. */
  async get(): Promise<AwsCredentials> {
    const now = this.#now();
    const cur = this.#current;
    if (cur && !this.#due(cur, now)) return cur;
    if (cur && cur.expiration && cur.expiration.getTime() > now) {
      // Still valid: keep signing with them while the renewal runs.
      if (!this.#pending && now - this.#failedAt >= this.#retryAfter) {
        this.#renew(true).catch(() => {}); // logged in #renew
      }
      return cur;
    }
    return await this.#renew(false);
  }

  /** Stops using the STS client, if any. */
  destroy(): void {
    this.#onDestroy();
  }

  #due(c: AwsCredentials, now: number): boolean {
    if (!c.expiration) return false;
    const left = c.expiration.getTime() - now;
    return left <= this.#marginFor(c);
  }

  #marginFor(c: AwsCredentials): number {
    if (this.#explicitMargin) return this.#margin;
    const lifetime = c.expiration!.getTime() - (this.#issuedAt ?? this.#now());
    return Math.min(this.#margin, Math.max(0, lifetime * 0.9));
  }

  #issuedAt?: number;

  /** Fetches new credentials; a failure is logged when nobody waits for them (`background`). */
  #renew(background: boolean): Promise<AwsCredentials> {
    this.#pending ??= (async () => {
      const first = this.#current === undefined;
      try {
        const creds = await this.#fetch();
        this.#issuedAt = this.#now();
        this.#current = creds;
        const expires = creds.expiration?.toISOString();
        if (first) {
          if (expires) {
            logEvent("credentials_obtained_expiring", {
              identity: this.#label,
              source: this.description,
              expiration: expires,
            });
          } else {
            logEvent("credentials_obtained", { identity: this.#label, source: this.description });
          }
        } else {
          this.#renewals++;
          logEvent("credentials_renewed", {
            identity: this.#label,
            source: this.description,
            expiration: expires ?? "never",
          });
        }
        return creds;
      } catch (e) {
        this.#failedAt = this.#now();
        const error = e instanceof CollectorError ? e : wrapSourceError(e, this.description);
        if (background) {
          logEvent("credentials_renewal_failed", {
            identity: this.#label,
            error: error.message,
            expiration: this.#current?.expiration?.toISOString(),
          });
        }
        throw error;
      } finally {
        this.#pending = undefined;
      }
    })();
    return this.#pending;
  }
}

/**
 * The client settings for credential sources that call AWS themselves: the region, and the
 * input's HTTP handler so that they go through its proxy and trust. Their own endpoints (STS
 * for web identity and `role_arn` profiles, SSO) are the standard ones.
 */
function sourceClientConfig(options: CredentialsOptions): Record<string, unknown> {
  return {
    ...(options.region ? { region: options.region } : {}),
    ...(options.requestHandler ? { requestHandler: options.requestHandler } : {}),
  };
}

/** Marks a provider function as caching on its own, so the SDK calls it for every request. */
function asSdkProvider(p: () => Promise<AwsCredentials>): SdkCredentialsProvider {
  const f = (() => p()) as SdkCredentialsProvider;
  f.memoized = true;
  return f;
}

function normalize(c: {
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  expiration?: Date;
}, source: string): AwsCredentials {
  if (!c.accessKeyId || !c.secretAccessKey) {
    throw new CollectorError("CREDENTIALS_UNAVAILABLE", `${source} returned no access key`, {
      context: { source },
    });
  }
  return {
    accessKeyId: c.accessKeyId,
    secretAccessKey: c.secretAccessKey,
    ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}),
    ...(c.expiration ? { expiration: new Date(c.expiration) } : {}),
  };
}

/**
 * The credentials `config` describes (see the module). Nothing is fetched until the first
 * request; call `destroy()` when done.
 */
export function createCredentials(
  config: CredentialsConfig,
  options: CredentialsOptions = {},
): ManagedCredentials {
  const { source, description } = credentialSource(config, options);
  if (!config.role_arn) {
    return new ManagedCredentials(source, description, options);
  }
  return assumedRole(config, config.role_arn, { source, description }, options);
}

/** Where credentials come from, and how log lines and errors name it. */
interface Source {
  readonly source: Fetch;
  readonly description: string;
}

/** The source `config` names: static keys, a profile, or the standard chain. */
function credentialSource(config: CredentialsConfig, options: CredentialsOptions): Source {
  if (config.aws_access_key_id && config.aws_secret_access_key) {
    const keys = normalize({
      accessKeyId: config.aws_access_key_id,
      secretAccessKey: config.aws_secret_access_key,
      sessionToken: config.aws_session_token,
    }, "access keys");
    return {
      source: () => Promise.resolve(keys),
      description: config.aws_session_token ? "access keys with session token" : "access keys",
    };
  }
  if (config.profile) {
    const description = `profile ${config.profile}`;
    const p = fromIni({
      profile: config.profile,
      ...(options.sharedFiles?.credentials ? { filepath: options.sharedFiles.credentials } : {}),
      ...(options.sharedFiles?.config ? { configFilepath: options.sharedFiles.config } : {}),
      clientConfig: sourceClientConfig(options),
    });
    return { source: fromSdkProvider(p, description), description };
  }
  const description = "the default AWS credential chain";
  const p = fromNodeProviderChain({ clientConfig: sourceClientConfig(options) });
  return { source: fromSdkProvider(p, description), description };
}

/** A fetch from one of the SDK's providers, its errors named after `description`. */
function fromSdkProvider(
  p: () => Promise<Parameters<typeof normalize>[0]>,
  description: string,
): Fetch {
  return async () => {
    try {
      return normalize(await p(), description);
    } catch (e) {
      throw wrapSourceError(e, description);
    }
  };
}

/** `roleArn` assumed with the source's credentials, which are themselves renewed as needed. */
function assumedRole(
  config: CredentialsConfig,
  roleArn: string,
  { source, description }: Source,
  options: CredentialsOptions,
): ManagedCredentials {
  const base = new ManagedCredentials(source, description, {
    ...options,
    label: `${options.label ?? "AWS"} (source of ${roleArn})`,
  });
  const sts = new STSClient({
    ...stsConfig(options),
    credentials: asSdkProvider(() => base.get()),
    maxAttempts: 3,
  });
  const assume: Fetch = async () => {
    let out;
    try {
      out = await sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: config.role_session_name,
          DurationSeconds: config.role_duration_seconds,
          ...(config.external_id ? { ExternalId: config.external_id } : {}),
        }),
      );
    } catch (e) {
      throw wrapStsError(e, "AssumeRole", { role_arn: roleArn });
    }
    const c = out.Credentials;
    return normalize({
      accessKeyId: c?.AccessKeyId,
      secretAccessKey: c?.SecretAccessKey,
      sessionToken: c?.SessionToken,
      expiration: c?.Expiration,
    }, `AssumeRole of ${roleArn}`);
  };
  return new ManagedCredentials(
    assume,
    `role ${roleArn}${config.external_id ? " (with external id)" : ""} assumed with ${description}`,
    options,
    () => {
      sts.destroy();
      base.destroy();
    },
  );
}

/** Who a set of credentials belongs to, from STS `GetCallerIdentity`. */
export interface CallerIdentity {
  readonly account: string;
  readonly arn: string;
  readonly userId: string;
}

/** Asks STS who `credentials` belong to (proves they work); throws `ApiError` 404 or 405. */
export async function callerIdentity(
  credentials: ManagedCredentials,
  options: Pick<CredentialsOptions, "region" | "endpoint" | "requestHandler" | "fips"> & {
    signal?: AbortSignal;
  } = {},
): Promise<CallerIdentity> {
  const sts = new STSClient({
    ...stsConfig(options),
    credentials: credentials.provider,
    maxAttempts: 3,
  });
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}), {
      abortSignal: options.signal,
    });
    return { account: out.Account ?? "", arn: out.Arn ?? "", userId: out.UserId ?? "" };
  } catch (e) {
    throw wrapStsError(e, "GetCallerIdentity");
  } finally {
    sts.destroy();
  }
}
