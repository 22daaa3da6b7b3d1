/**
 * How outputs open connections: mutual TLS to Devo, plain TCP to a relay. Each connector
 * classifies its failures into catalogue errors.
 * @module
 */
import { CollectorError } from "../errors.ts";
import { describeWidenings } from "./tls_trust.ts";
import type { TrustWidening } from "./tls_trust.ts";

/** Opens one connection to the receiver. */
export interface Connector {
  /** `host:port`, for logs. */
  readonly target: string;
  /** Whether connections are TLS. */
  readonly tls: boolean;
  connect(signal?: AbortSignal): Promise<Deno.Conn>;
}

/** Options for {@link tlsConnector}. */
export interface TlsConnectorOptions {
  address: string;
  port: number;
  /** PEM of the CA chain the server certificate must verify against. */
  caCert: string;
  /** PEM of the client certificate. */
  cert: string;
  /** PEM of the client key. */
  key: string;
  /** Default 15. */
  connectTimeoutSeconds?: number;
  /**
   * What besides `caCert` the runtime would trust (see `tls_trust.ts`); while anything is, no
   * connection is opened: each attempt fails with `OUTPUT_TLS`.
   */
  widenings?: readonly TrustWidening[];
}

/** The error every connection attempt fails with while the trust is widened. */
export function widenedTrustError(target: string, w: readonly TrustWidening[]): CollectorError {
  return new CollectorError(
    "OUTPUT_TLS",
    `Not connecting to ${target}: ${
      describeWidenings(w)
    } is in effect, so a server certificate could be trusted through it instead of chain. Remove it from the collector's environment (for a private CA in front of AWS use ca_bundle or AWS_CA_BUNDLE)`,
    { context: { target } },
  );
}

/** A connector for Devo's mutual-TLS syslog endpoint. */
export function tlsConnector(o: TlsConnectorOptions): Connector {
  const target = `${o.address}:${o.port}`;
  return {
    target,
    tls: true,
    connect: (signal) =>
      withTimeout(target, o.connectTimeoutSeconds ?? 15, signal, async () => {
        if (o.widenings && o.widenings.length > 0) throw widenedTrustError(target, o.widenings);
        const versionError = clientCertVersionError(o.cert, target);
        if (versionError) throw versionError;
        const conn = await Deno.connectTls({
          hostname: o.address,
          port: o.port,
          caCerts: [o.caCert],
          cert: o.cert,
          key: o.key,
        });
        try {
          await conn.handshake();
        } catch (e) {
          conn.close();
          throw e;
        }
        return conn;
      }),
  };
}

/**
 * The X.509 version (1, 2 or 3) of the first certificate in `pem`, read from its DER encoding
 * (`tbsCertificate.version`, absent for version 1); `undefined` when it cannot be read.
 */
export function certificateVersion(pem: string): number | undefined {
  const b64 = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)?.[1];
  if (b64 === undefined) return undefined;
  let der: Uint8Array;
  try {
    der = Uint8Array.from(atob(b64.replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
  // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] EXPLICIT Version OPTIONAL, ... } }
  const header = (at: number): number | undefined => {
    const first = der[at + 1];
    if (first === undefined) return undefined;
    return first < 0x80 ? at + 2 : at + 2 + (first & 0x7f);
  };
  if (der[0] !== 0x30) return undefined;
  const tbs = header(0);
  if (tbs === undefined || der[tbs] !== 0x30) return undefined;
  const field = header(tbs);
  if (field === undefined) return undefined;
  if (der[field] !== 0xa0) return 1;
  // [0] { INTEGER version } where version 0, 1, 2 means v1, v2, v3
  const int = header(field);
  if (int === undefined || der[int] !== 0x02 || der[int + 1] !== 1) return undefined;
  const v = der[int + 2];
  return v === undefined ? undefined : v + 1;
}

/**
 * `DeliveryError 505` when the client certificate `certPem` is not X.509 v3 (the TLS library
 * refuses to present it and would report the refusal as the server's certificate being invalid);
 * `undefined` otherwise.
 */
export function clientCertVersionError(
  certPem: string,
  target: string,
  path?: string,
): CollectorError | undefined {
  const version = certificateVersion(certPem);
  if (version === undefined || version === 3) return undefined;
  return new CollectorError(
    "OUTPUT_CLIENT_CERT_VERSION",
    `Not connecting to ${target}: the client certificate${
      path ? ` ${path}` : ""
    } (cert) is X.509 v${version}, made without extensions; the TLS library accepts only v3 client certificates. Use Devo's certificate for the domain, or sign one with extensions`,
    { context: { target } },
  );
}

/** A connector for a plain TCP syslog relay. */
export function tcpConnector(
  o: { address: string; port: number; connectTimeoutSeconds?: number },
): Connector {
  const target = `${o.address}:${o.port}`;
  return {
    target,
    tls: false,
    connect: (signal) =>
      withTimeout(
        target,
        o.connectTimeoutSeconds ?? 15,
        signal,
        () => Deno.connect({ hostname: o.address, port: o.port }),
      ),
  };
}

async function withTimeout(
  target: string,
  seconds: number,
  signal: AbortSignal | undefined,
  open: () => Promise<Deno.Conn>,
): Promise<Deno.Conn> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = open();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new CollectorError(
            "OUTPUT_CONNECT",
            `Connecting to ${target} timed out after ${seconds} seconds`,
            { context: { target } },
          ),
        ),
      seconds * 1000,
    );
  });
  const aborted = new Promise<never>((_, reject) => {
    signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  try {
    return await Promise.race([pending, timeout, aborted]);
  } catch (e) {
    pending.then((c) => c.close(), () => {});
    throw classifyConnError(e, target, "connect");
  } finally {
    clearTimeout(timer);
  }
}

/** TLS alerts a server sends when it refuses a client certificate (rustls and OpenSSL names). */
export const CERT_ALERT =
  /BadCertificate|UnknownCA|CertificateRequired|CertificateUnknown|CertificateRevoked|CertificateExpired|UnsupportedCertificate|AccessDenied|DecryptError|bad certificate|unknown ca|certificate required/i;

/**
 * Maps a network or TLS error to the catalogue: refused/unreachable, the client certificate
 * refused by the receiver (a certificate alert from it), other TLS, or lost while sending.
 */
export function classifyConnError(
  e: unknown,
  target: string,
  phase: "connect" | "send" | "confirm",
): CollectorError {
  if (e instanceof CollectorError) return e;
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (/received fatal alert/i.test(msg) && CERT_ALERT.test(msg)) {
    return new CollectorError(
      "OUTPUT_CERT_REJECTED",
      `${target} rejected the client certificate: ${msg}`,
      { cause: e, context: { target } },
    );
  }
  const tls = /certificate|alert|handshake|tls|InvalidData|UnknownIssuer|BadCertificate/i.test(msg);
  const code = tls ? "OUTPUT_TLS" : phase === "connect" ? "OUTPUT_CONNECT" : "OUTPUT_WRITE";
  const what = code === "OUTPUT_TLS"
    ? `TLS with ${target} failed`
    : phase === "connect"
    ? `Cannot connect to ${target}`
    : `Connection to ${target} lost while ${phase === "send" ? "sending" : "confirming"}`;
  return new CollectorError(code, `${what}: ${msg}`, { cause: e, context: { target } });
}
