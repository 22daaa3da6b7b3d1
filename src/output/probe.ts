/**
 * Probes of an output's receiver, for `seclake check`: a connection that carries no event and
 * proves the receiver would accept ours. For Devo, a mutual-TLS handshake with `chain`, `cert`
 * and `key`, then proof that the client certificate was accepted; for a relay, a TCP round trip.
 * Both end by closing our sending side and requiring the receiver's end of stream.
 * @module
 */
import { within } from "../async.ts";
import { CollectorError, errorMessage } from "../errors.ts";
import { CERT_ALERT, classifyConnError, clientCertVersionError } from "./connectors.ts";

/** Options of one output probe (what {@link probeTls} and {@link probeTcp} read from the output). */
export interface ProbeTarget {
  readonly address?: string;
  readonly port?: number;
  readonly chain?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly connect_timeout_seconds: number;
  readonly confirm_timeout_seconds: number;
}

/**
 * Opens a mutual-TLS connection to `o`, then proves the receiver accepted the client
 * certificate. With TLS 1.3 the server checks the client certificate after the client's
 * handshake is complete, so a rejection arrives as an alert or a close just after it: the probe
 * keeps a read pending, writes nothing, and waits twice the handshake's duration (at least
 * 200 ms); a close, reset or alert in that window means the certificate was rejected. It then
 * closes its sending side and requires the receiver to answer with end of stream (a clean end
 * or an `UnexpectedEof` both count). Returns what was found; throws a `CollectorError`.
 */
export async function probeTls(o: ProbeTarget, signal?: AbortSignal): Promise<string> {
  const target = `${o.address}:${o.port}`;
  const [caCert, cert, key] = await Promise.all(
    [o.chain!, o.cert!, o.key!].map((p) => Deno.readTextFile(p)),
  );
  const versionError = clientCertVersionError(cert!, target, o.cert);
  if (versionError) throw versionError;
  const started = performance.now();
  let conn: Deno.TlsConn;
  try {
    conn = await within(o.connect_timeout_seconds * 1000, signal, async (s) => {
      const c = await abortable(
        Deno.connectTls({
          hostname: o.address!,
          port: o.port!,
          caCerts: [caCert!],
          cert: cert!,
          key: key!,
        }),
        s,
      );
      try {
        await abortable(c.handshake(), s);
        return c;
      } catch (e) {
        c.close();
        throw e;
      }
    });
  } catch (e) {
    throw handshakeError(e, target);
  }
  const handshakeMs = performance.now() - started;
  try {
    await confirmRoundTrip(conn, target, handshakeMs, o.confirm_timeout_seconds, signal, true);
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  return `${target}: TLS handshake in ${Math.round(handshakeMs)} ms, client certificate accepted`;
}

/** Opens a TCP connection to `o` and requires end of stream after closing the sending side. */
export async function probeTcp(o: ProbeTarget, signal?: AbortSignal): Promise<string> {
  const target = `${o.address}:${o.port}`;
  const started = performance.now();
  let conn: Deno.TcpConn;
  try {
    conn = await within(
      o.connect_timeout_seconds * 1000,
      signal,
      (s) => abortable(Deno.connect({ hostname: o.address!, port: o.port! }), s),
    );
  } catch (e) {
    throw classifyConnError(e, target, "connect");
  }
  const connectMs = performance.now() - started;
  try {
    await confirmRoundTrip(conn, target, connectMs, o.confirm_timeout_seconds, signal, false);
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  return `${target}: connected in ${Math.round(connectMs)} ms, end of stream confirmed`;
}

type ReadResult = { n: number | null } | { error: unknown };

async function confirmRoundTrip(
  conn: Deno.Conn,
  target: string,
  setupMs: number,
  confirmSeconds: number,
  signal: AbortSignal | undefined,
  tls: boolean,
): Promise<void> {
  const buf = new Uint8Array(4096);
  const read = (): Promise<ReadResult> =>
    conn.read(buf).then((n) => ({ n }), (error) => ({ error }));
  let pending = read();
  if (tls) {
    const windowMs = Math.max(200, 2 * setupMs);
    const early = await within(
      windowMs,
      signal,
      (s) =>
        Promise.race([
          pending,
          new Promise<undefined>((r) =>
            s.addEventListener("abort", () => r(undefined), { once: true })
          ),
        ]),
    );
    if (early !== undefined) {
      if ("n" in early && early.n !== null) {
        pending = read(); // the receiver spoke first; keep reading until it ends
      } else {
        const why = !("error" in early)
          ? "it closed the connection"
          : early.error instanceof Deno.errors.UnexpectedEof
          ? "it closed the connection without a TLS close_notify"
          : early.error instanceof Deno.errors.ConnectionReset
          ? "it reset the connection"
          : errorMessage(early.error);
        throw new CollectorError(
          "OUTPUT_CERT_REJECTED",
          `${target} ended the connection right after the TLS handshake (${why}): it did not accept the client certificate in cert`,
          { context: { target } },
        );
      }
    }
  }
  try {
    await conn.closeWrite();
  } catch (e) {
    throw classifyConnError(e, target, "confirm");
  }
  await within(confirmSeconds * 1000, signal, async (s) => {
    const timedOut = new Promise<"timeout">((r) =>
      s.addEventListener("abort", () => r("timeout"), { once: true })
    );
    while (true) {
      const r = await Promise.race([pending, timedOut]);
      if (r === "timeout") {
        throw new CollectorError(
          "OUTPUT_UNCONFIRMED",
          `${target} did not end its side within ${confirmSeconds} seconds after ours was closed`,
          { context: { target } },
        );
      }
      if ("error" in r) {
        if (r.error instanceof Deno.errors.UnexpectedEof) return;
        if (tls && CERT_ALERT.test(errorMessage(r.error))) {
          throw new CollectorError(
            "OUTPUT_CERT_REJECTED",
            `${target} rejected the client certificate in cert: ${errorMessage(r.error)}`,
            { cause: r.error, context: { target } },
          );
        }
        throw classifyConnError(r.error, target, "confirm");
      }
      if (r.n === null) return;
      pending = read();
    }
  });
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    // A connection that opens after the abort is closed at once.
    p.then((v) => {
      if (signal.aborted && v && typeof (v as { close?: unknown }).close === "function") {
        try {
          (v as unknown as Deno.Conn).close();
        } catch {
          // already closed
        }
      }
    }, () => {});
  });
}

function handshakeError(e: unknown, target: string): CollectorError {
  if (e instanceof CollectorError) return e;
  const msg = errorMessage(e);
  if (/timed out/.test(msg)) {
    return new CollectorError("OUTPUT_CONNECT", `Connecting to ${target} timed out: ${msg}`, {
      cause: e,
      context: { target },
    });
  }
  if (/received fatal alert/i.test(msg) && CERT_ALERT.test(msg)) {
    return new CollectorError(
      "OUTPUT_CERT_REJECTED",
      `${target} rejected the client certificate in cert during the handshake: ${msg}`,
      { cause: e, context: { target } },
    );
  }
  return classifyConnError(e, target, "connect");
}
