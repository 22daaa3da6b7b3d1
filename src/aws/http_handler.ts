/**
 * The HTTP handler the AWS SDK clients send their requests through: Deno's own `fetch`, with a
 * `Deno.HttpClient` per proxy that trusts the default store plus the input's CA bundle.
 *
 * It replaces the SDK's `node:https` handler, which under the collector's permission set cannot
 * load the root certificates and has no proxy support. Failures are told apart so that each
 * reaches the operator as what it is:
 * - a certificate that does not verify: `AWS_TLS_UNTRUSTED`, naming the endpoint and the fix;
 * - a proxy that is down, refuses the tunnel or wants credentials: `AWS_PROXY`, naming it;
 * - resets, refused connections and timeouts: errors the SDK's retry strategy retries.
 * @module
 */
import { CollectorError } from "../errors.ts";
import type { AwsService, InputNetwork, ProxyChoice } from "./network.ts";

/** The request the SDK hands to a handler (the fields used here). */
export interface SdkHttpRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** The response a handler gives back to the SDK. */
export interface SdkHttpResponse {
  statusCode: number;
  reason?: string;
  headers: Record<string, string>;
  body: ReadableStream<Uint8Array>;
}

/** Options for {@link FetchHandler}. */
export interface FetchHandlerOptions {
  service: AwsService;
  network: InputNetwork;
  /** PEM text of the certificates trusted beside the default store. */
  caPem?: string;
  /** Time allowed for the connection and the response's headers, beyond `requestTimeoutMs`. */
  connectTimeoutMs?: number;
  /** Time a request may wait for its response's headers once sent. Default 30,000 ms. */
  requestTimeoutMs?: number;
  /** Longest the response body may stay silent. Default: no limit. */
  idleTimeoutMs?: number;
}

/** What the handler last did, for `seclake check`. */
export interface HandlerRoute {
  readonly url: string;
  readonly proxy?: ProxyChoice;
}

const SERVICE_NAME: Record<AwsService, string> = { sqs: "SQS", s3: "S3", sts: "STS" };

/** An SDK request handler over Deno's `fetch` (see the module). */
export class FetchHandler {
  readonly metadata = { handlerProtocol: "http/1.1" };
  readonly #o: FetchHandlerOptions;
  readonly #clients = new Map<string, Deno.HttpClient>();
  #last?: HandlerRoute;

  constructor(options: FetchHandlerOptions) {
    this.#o = options;
  }

  /** The URL (scheme, host and port) and proxy of the last request, if any was made. */
  get lastRoute(): HandlerRoute | undefined {
    return this.#last;
  }

  /** Sends `request`; rejects with a retryable network error, a timeout or a catalogue error. */
  async handle(
    request: SdkHttpRequest,
    options: { abortSignal?: unknown; requestTimeout?: number } = {},
  ): Promise<{ response: SdkHttpResponse }> {
    const url = requestUrl(request);
    const proxy = this.#o.network.proxyFor(url);
    this.#last = { url: url.origin, ...(proxy ? { proxy } : {}) };
    const client = this.#client(proxy);
    const abort = new AbortController();
    const outer = options.abortSignal as AbortSignal | undefined;
    const onAbort = () => abort.abort(outer?.reason ?? abortError());
    if (outer?.aborted) onAbort();
    outer?.addEventListener("abort", onAbort, { once: true });
    const waitMs = (this.#o.connectTimeoutMs ?? 5_000) +
      (options.requestTimeout ?? this.#o.requestTimeoutMs ?? 30_000);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, waitMs);
    const headers = { ...request.headers };
    for (const h of Object.keys(headers)) {
      if (/^(host|content-length|transfer-encoding|connection|expect)$/i.test(h)) {
        delete headers[h];
      }
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method: request.method,
        headers,
        body: requestBody(request.body),
        client,
        signal: abort.signal,
        redirect: "manual",
      });
    } catch (e) {
      outer?.removeEventListener("abort", onAbort);
      if (timedOut) throw timeoutError(`no response from ${url.origin} within ${waitMs} ms`);
      if (outer?.aborted) throw outer.reason ?? abortError();
      throw this.#failure(e, url, proxy);
    } finally {
      clearTimeout(timer);
    }
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => out[k] = v);
    return {
      response: {
        statusCode: res.status,
        reason: res.statusText,
        headers: out,
        body: this.#watchBody(res.body, abort, url, proxy, () => {
          outer?.removeEventListener("abort", onAbort);
        }),
      },
    };
  }

  /** Required by the SDK's handler interface; settings are fixed at construction. */
  updateHttpClientConfig(): void {}

  /** Required by the SDK's handler interface. */
  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  /** Closes every connection pool. */
  destroy(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }

  #client(proxy: ProxyChoice | undefined): Deno.HttpClient {
    const key = proxy ? `${proxy.url}|${proxy.basicAuth?.username ?? ""}` : "direct";
    let client = this.#clients.get(key);
    if (!client) {
      client = Deno.createHttpClient({
        ...(this.#o.caPem ? { caCerts: [this.#o.caPem] } : {}),
        ...(proxy
          ? {
            proxy: {
              url: proxy.url,
              ...(proxy.basicAuth ? { basicAuth: { ...proxy.basicAuth } } : {}),
            },
          }
          : {}),
      });
      this.#clients.set(key, client);
    }
    return client;
  }

  /** The body, failing with a timeout when it stays silent past the idle timeout. */
  #watchBody(
    body: ReadableStream<Uint8Array> | null,
    abort: AbortController,
    url: URL,
    proxy: ProxyChoice | undefined,
    done: () => void,
  ): ReadableStream<Uint8Array> {
    if (!body) {
      done();
      return new ReadableStream({ start: (c) => c.close() });
    }
    const reader = body.getReader();
    const idle = this.#o.idleTimeoutMs;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        let timedOut = false;
        if (idle !== undefined) {
          timer = setTimeout(() => {
            timedOut = true;
            abort.abort();
          }, idle);
        }
        try {
          const { done: end, value } = await reader.read();
          if (end) {
            done();
            controller.close();
          } else controller.enqueue(value);
        } catch (e) {
          done();
          controller.error(
            timedOut
              ? timeoutError(`${url.origin} sent nothing for ${idle} ms`)
              : this.#failure(e, url, proxy),
          );
        } finally {
          clearTimeout(timer);
        }
      },
      cancel: (reason) => {
        done();
        return reader.cancel(reason);
      },
    });
  }

  /** Classifies a failed request (see the module). */
  #failure(e: unknown, url: URL, proxy: ProxyChoice | undefined): Error {
    if (e instanceof Error && e.name === "AbortError") return e;
    const detail = errorChain(e);
    const service = SERVICE_NAME[this.#o.service];
    const endpoint = `${url.protocol}//${url.host}`;
    if (
      /invalid peer certificate|certificate verify failed|UnknownIssuer|NotValidForName/i.test(
        detail,
      )
    ) {
      const trust = this.#o.network.trust;
      return new CollectorError(
        "AWS_TLS_UNTRUSTED",
        `The certificate of the ${service} endpoint ${endpoint} is not trusted (${
          certReason(detail)
        }); trusted: the default store${
          trust ? ` and ${trust.path} (${trust.from})` : ""
        }. If a proxy or private CA signs it, add that CA with ca_bundle or AWS_CA_BUNDLE`,
        { cause: e, context: { service: this.#o.service, endpoint } },
      );
    }
    if (proxy) {
      const why = /proxy authentication required/i.test(detail)
        ? "wants credentials (407): give user and password in proxy_url"
        : /unsuccessful tunnel/i.test(detail)
        ? `refused the tunnel to ${url.host}`
        : /tcp connect error|dns error|connection refused|timed out/i.test(detail)
        ? `cannot be reached (${lastPart(detail)})`
        : undefined;
      if (why) {
        return new CollectorError(
          "AWS_PROXY",
          `Proxy ${proxy.display} (from ${proxy.from}) ${why}, for the ${service} endpoint ${endpoint}`,
          { cause: e, context: { service: this.#o.service, endpoint, proxy: proxy.display } },
        );
      }
    }
    const code = /connection refused/i.test(detail)
      ? "ECONNREFUSED"
      : /dns error|failed to lookup/i.test(detail)
      ? "ENOTFOUND"
      : "ECONNRESET";
    const err = new Error(`Request to ${endpoint} failed: ${lastPart(detail)}`, { cause: e });
    err.name = "NetworkingError";
    return Object.assign(err, { code });
  }
}

/** The URL of an SDK request, its query encoded as the SDK signs it (RFC 3986). */
export function requestUrl(r: SdkHttpRequest): URL {
  const port = r.port ? `:${r.port}` : "";
  const parts: string[] = [];
  for (const key of Object.keys(r.query ?? {}).sort()) {
    const v = r.query![key];
    const k = escapeUri(key);
    if (v === null || v === undefined) parts.push(k);
    else if (Array.isArray(v)) { for (const item of v) parts.push(`${k}=${escapeUri(item)}`); }
    else parts.push(`${k}=${escapeUri(v)}`);
  }
  const query = parts.length > 0 ? `?${parts.join("&")}` : "";
  return new URL(`${r.protocol}//${r.hostname}${port}${r.path}${query}`);
}

function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function requestBody(body: unknown): BodyInit | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string" || body instanceof Uint8Array) return body as BodyInit;
  if (body instanceof ReadableStream) return body;
  throw new TypeError(`Unsupported request body: ${Object.prototype.toString.call(body)}`);
}

function errorChain(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e, i = 0; c !== undefined && c !== null && i < 5; i++) {
    parts.push(c instanceof Error ? c.message : String(c));
    c = c instanceof Error ? c.cause : undefined;
  }
  return parts.join(": ");
}

function lastPart(detail: string): string {
  const m = /client error \([^)]*\): (.*)$/.exec(detail);
  return (m?.[1] ?? detail).trim();
}

function certReason(detail: string): string {
  const m = /invalid peer certificate: ([A-Za-z]+(?:\([^)]*\))?)/.exec(detail);
  return m ? `invalid peer certificate: ${m[1]}` : lastPart(detail);
}

function timeoutError(message: string): Error {
  const e = new Error(message);
  e.name = "TimeoutError";
  return e;
}

function abortError(): Error {
  const e = new Error("Request aborted");
  e.name = "AbortError";
  return e;
}
