/**
 * What, besides `chain`, could make the Devo connection trust a server certificate.
 *
 * Deno verifies a TLS server against its built-in root store, plus the certificates `DENO_CERT`
 * names, plus the system store when `DENO_TLS_CA_STORE` says `system`, plus the `caCerts` of the
 * connection (here: `chain`); `--unsafely-ignore-certificate-errors` turns verification off.
 * The runtime offers no way to leave its own roots out of one connection, so the Devo output
 * refuses to connect while any of those is in effect: a receiver is then trusted through `chain`
 * and the built-in public roots only, never through a CA that an environment variable or a
 * runtime flag slipped in (a TLS-inspecting proxy's, say). Start-up and `seclake check` name
 * what is in effect.
 * @module
 */
import type { EnvLookup } from "../env.ts";

/** One setting that widens the trust of the Devo connection. */
export interface TrustWidening {
  /** `DENO_CERT`, `DENO_TLS_CA_STORE` or `--unsafely-ignore-certificate-errors`. */
  readonly what: string;
  /** Its value, for messages (a path or store names). */
  readonly value: string;
}

/** The environment variables in effect that add roots to Deno's store (see the module). */
export function envTrustWidenings(env: EnvLookup): TrustWidening[] {
  const out: TrustWidening[] = [];
  const cert = env("DENO_CERT")?.trim();
  if (cert) out.push({ what: "DENO_CERT", value: cert });
  const stores = env("DENO_TLS_CA_STORE")?.trim();
  if (stores && stores.split(",").some((s) => s.trim() !== "mozilla")) {
    out.push({ what: "DENO_TLS_CA_STORE", value: stores });
  }
  return out;
}

/**
 * Whether this runtime verifies TLS servers at all: a loopback server presents `cert` (the
 * output's own client certificate, which names no loopback host and chains to no root) and a
 * connection that adds no CA must fail. It succeeds only under
 * `--unsafely-ignore-certificate-errors`.
 */
export async function verificationDisabled(cert: string, key: string): Promise<boolean> {
  let listener: Deno.TlsListener;
  try {
    listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  } catch {
    return false; // the certificate cannot serve: nothing learnt, assume verification is on
  }
  const port = (listener.addr as Deno.NetAddr).port;
  const accepted = (async () => {
    try {
      const conn = await listener.accept();
      try {
        await conn.handshake();
      } catch {
        // the client refused us, as it should
      } finally {
        conn.close();
      }
    } catch {
      // listener closed
    }
  })();
  try {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port });
    try {
      await conn.handshake();
      return true;
    } finally {
      conn.close();
    }
  } catch {
    return false;
  } finally {
    listener.close();
    await accepted;
  }
}

/** Everything in effect that widens the Devo connection's trust (env, and the runtime flag). */
export async function trustWidenings(
  env: EnvLookup,
  output?: { cert: string; key: string },
): Promise<TrustWidening[]> {
  const out = envTrustWidenings(env);
  if (output && await verificationDisabled(output.cert, output.key)) {
    out.push({ what: "--unsafely-ignore-certificate-errors", value: "certificate checks are off" });
  }
  return out;
}

/** `DENO_CERT=/x.pem and DENO_TLS_CA_STORE=system`, for messages. */
export function describeWidenings(list: readonly TrustWidening[]): string {
  return list.map((w) => w.what.startsWith("--") ? w.what : `${w.what}=${w.value}`).join(" and ");
}
