/**
 * How one input reaches AWS: the endpoint of each service (SQS, S3, STS), the proxy a request
 * goes through, and the certificates its endpoints are trusted with.
 *
 * - **Endpoints.** `sqs_endpoint_url`, `s3_endpoint_url` and `sts_endpoint_url` (VPC interface
 *   endpoints differ per service) each default to `endpoint_url`; without any, the SDK picks
 *   AWS's regional endpoint (its FIPS one with `use_fips_endpoint`).
 * - **Proxy.** `proxy_url` when set, else `https_proxy`/`HTTPS_PROXY` for HTTPS endpoints and
 *   `http_proxy`/`HTTP_PROXY` for plain HTTP ones (lower case first, as curl reads them). Hosts
 *   listed in `no_proxy`/`NO_PROXY` are reached directly. A request that should go through a
 *   proxy never falls back to a direct connection.
 * - **Trust.** The default trust store, plus the certificates of `ca_bundle` or, without it, of
 *   the file `AWS_CA_BUNDLE` names (as the AWS CLI reads it).
 *
 * Pure: the environment comes in as a lookup function and files are read by the caller.
 * @module
 */
import type { EnvLookup } from "../env.ts";

/** An AWS service the collector calls. */
export type AwsService = "sqs" | "s3" | "sts";

/** The settings of an input that decide its network paths. */
export interface NetworkSettings {
  readonly region?: string;
  readonly endpoint_url?: string;
  readonly sqs_endpoint_url?: string;
  readonly s3_endpoint_url?: string;
  readonly sts_endpoint_url?: string;
  readonly use_fips_endpoint?: boolean;
  readonly s3_force_path_style?: boolean;
  readonly ca_bundle?: string;
  readonly proxy_url?: string;
}

/** A proxy a request goes through. */
export interface ProxyChoice {
  /** `http://host:port`, without credentials. */
  readonly url: string;
  /** The proxy URL with any password masked, for messages: `http://user:****@host:port`. */
  readonly display: string;
  /** Where it was configured: `proxy_url`, or the environment variable's name. */
  readonly from: string;
  readonly basicAuth?: { readonly username: string; readonly password: string };
}

/** Where extra trusted certificates come from. */
export interface TrustSource {
  readonly path: string;
  /** `ca_bundle` or `AWS_CA_BUNDLE`. */
  readonly from: "ca_bundle" | "AWS_CA_BUNDLE";
}

/** The network paths of one input. */
export interface InputNetwork {
  /** The configured endpoint of a service, or undefined for AWS's own. */
  endpoint(service: AwsService): string | undefined;
  /** Whether S3 is addressed path-style (`host/bucket/key`). */
  readonly s3PathStyle: boolean;
  readonly fips: boolean;
  /** Certificates trusted beside the default store, if any. */
  readonly trust?: TrustSource;
  /** The proxy for a request to `url`, or undefined for a direct connection. */
  proxyFor(url: URL): ProxyChoice | undefined;
}

/** The network paths `settings` and the environment describe (see the module). */
export function inputNetwork(settings: NetworkSettings, env: EnvLookup): InputNetwork {
  const endpoints: Record<AwsService, string | undefined> = {
    sqs: settings.sqs_endpoint_url ?? settings.endpoint_url,
    s3: settings.s3_endpoint_url ?? settings.endpoint_url,
    sts: settings.sts_endpoint_url ?? settings.endpoint_url,
  };
  const bundle = settings.ca_bundle
    ? { path: settings.ca_bundle, from: "ca_bundle" as const }
    : nonEmpty(env("AWS_CA_BUNDLE"))
    ? { path: env("AWS_CA_BUNDLE")!, from: "AWS_CA_BUNDLE" as const }
    : undefined;
  const noProxy = parseNoProxy(nonEmpty(env("no_proxy")) ?? nonEmpty(env("NO_PROXY")));
  const configured = settings.proxy_url ? parseProxy(settings.proxy_url, "proxy_url") : undefined;
  const fromEnv = (scheme: "https" | "http"): ProxyChoice | undefined => {
    for (const name of [`${scheme}_proxy`, `${scheme.toUpperCase()}_PROXY`]) {
      const v = nonEmpty(env(name));
      if (v) return parseProxy(v, name);
    }
    return undefined;
  };
  const envProxies = { https: fromEnv("https"), http: fromEnv("http") };
  return {
    endpoint: (service) => endpoints[service],
    s3PathStyle: settings.s3_force_path_style ?? endpoints.s3 !== undefined,
    fips: settings.use_fips_endpoint ?? false,
    ...(bundle ? { trust: bundle } : {}),
    proxyFor(url) {
      const proxy = configured ??
        (url.protocol === "https:" ? envProxies.https : envProxies.http);
      if (!proxy) return undefined;
      return bypasses(noProxy, url) ? undefined : proxy;
    },
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

/**
 * Parses a proxy URL (`http://[user[:password]@]host[:port]`; a bare `host:port` is taken as
 * `http://`). Throws a `RangeError` naming `from` for anything else, never quoting a password.
 */
export function parseProxy(value: string, from: string): ProxyChoice {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new RangeError(`${from} is not a URL: ${maskUrl(text)}`);
  }
  if (u.protocol !== "http:") {
    throw new RangeError(
      `${from} must be an http:// proxy (HTTPS is tunnelled through it with CONNECT): got ${u.protocol}//`,
    );
  }
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  const plain = `http://${u.host}`;
  return {
    url: plain,
    display: username ? `http://${username}${password ? ":****" : ""}@${u.host}` : plain,
    from,
    ...(username ? { basicAuth: { username, password } } : {}),
  };
}

/** `text` with the password of a URL in it masked. */
export function maskUrl(text: string): string {
  return text.replace(/(\/\/[^/:@]*):[^/@]*@/, "$1:****@");
}

interface NoProxyRule {
  readonly host: string;
  readonly port?: string;
}

/** The `no_proxy` list: `*`, host names, domain suffixes (`.example.com`), IP addresses. */
function parseNoProxy(value: string | undefined): NoProxyRule[] {
  if (!value) return [];
  return value.split(/[,\s]+/).filter((s) => s !== "").map((entry) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
    const host = (m?.[1] ?? entry).toLowerCase().replace(/^\*?\./, ".");
    return m?.[2] ? { host, port: m[2] } : { host };
  });
}

function bypasses(rules: readonly NoProxyRule[], url: URL): boolean {
  const host = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return rules.some((r) => {
    if (r.port !== undefined && r.port !== port) return false;
    if (r.host === "*") return true;
    const bare = r.host.startsWith(".") ? r.host.slice(1) : r.host;
    return host === bare || host.endsWith(`.${bare}`);
  });
}
