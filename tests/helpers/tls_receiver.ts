/**
 * Line receivers that stand in for Devo in tests: a mutual-TLS syslog server built on
 * `node:tls` (it requires and verifies a client certificate, which `Deno.listenTls` cannot) and
 * a plain TCP variant for the relay output. Both record every newline-terminated line in
 * arrival order.
 * @module
 */
import * as net from "node:net";
import * as tls from "node:tls";
import type { TestCerts } from "./certs.ts";

/** A running line receiver; close it with `close()` or `await using`. */
export interface LineReceiver extends AsyncDisposable {
  /** The loopback port it listens on (127.0.0.1). */
  readonly port: number;
  /** Every complete line received so far, without its `\n`, in arrival order (live array). */
  readonly lines: string[];
  /** Unterminated text left when a connection ended (a truncated frame); normally empty. */
  readonly fragments: string[];
  /** Connections accepted (for TLS: handshakes completed with a valid client certificate). */
  readonly connections: number;
  /** Connections currently open, including TLS connections still in their handshake. */
  readonly activeConnections: number;
  /** TLS handshakes that failed (for example an untrusted client certificate); 0 for TCP. */
  readonly handshakeErrors: number;
  /**
   * Resolves with a copy of `lines` once at least `n` lines arrived; rejects after `timeoutMs`
   * (default 30000) or when the receiver closes first, saying how many lines arrived.
   */
  waitForLines(n: number, timeoutMs?: number): Promise<string[]>;
  /** Stops listening, destroys every open connection and waits until the server closed. */
  close(): Promise<void>;
}

/** Options for {@link startTlsReceiver} and {@link startTcpReceiver}. */
export interface ReceiverOptions {
  /**
   * Destroy a connection as soon as it delivered this many lines (fault tests); lines that
   * arrived after them on that connection are dropped unrecorded. Default: never.
   */
  closeAfterLines?: number;
  /** Listen on this port instead of an OS-assigned one (to restart a receiver). Default 0. */
  port?: number;
  /** Wait this long after a client's end of stream before ending ours (a slow confirmation). */
  endDelayMs?: number;
}

interface Waiter {
  n: number;
  resolve: (lines: string[]) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

class Receiver implements LineReceiver {
  readonly lines: string[] = [];
  readonly fragments: string[] = [];
  connections = 0;
  handshakeErrors = 0;
  #port = 0;
  #server: net.Server;
  #sockets = new Set<net.Socket>();
  #waiters = new Set<Waiter>();
  #closeAfterLines: number | undefined;
  #endDelayMs: number;
  #closing: Promise<void> | undefined;

  constructor(server: net.Server, closeAfterLines: number | undefined, endDelayMs = 0) {
    this.#server = server;
    this.#closeAfterLines = closeAfterLines;
    this.#endDelayMs = endDelayMs;
    // Raw TCP connections, including those whose TLS handshake never completes.
    server.on("connection", (socket: net.Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
      socket.on("error", () => {});
    });
  }

  get port(): number {
    return this.#port;
  }

  get activeConnections(): number {
    return this.#sockets.size;
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, "127.0.0.1", () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as net.AddressInfo).port;
  }

  /** Reads lines from an accepted (and, for TLS, authenticated) stream. */
  accept(socket: net.Socket): void {
    this.connections++;
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => {});
    socket.setEncoding("utf8"); // a StringDecoder: multi-byte characters split across chunks stay whole
    let pending = "";
    let count = 0;
    socket.on("data", (chunk: string) => {
      if (socket.destroyed) return;
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        this.#push(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        count++;
        if (this.#closeAfterLines !== undefined && count >= this.#closeAfterLines) {
          pending = "";
          socket.destroy();
          return;
        }
      }
    });
    socket.on("end", () => {
      if (pending !== "") this.fragments.push(pending);
      pending = "";
      // Answer the client's half-close so its read sees EOF.
      if (this.#endDelayMs > 0) setTimeout(() => socket.end(), this.#endDelayMs);
      else socket.end();
    });
  }

  #push(line: string): void {
    this.lines.push(line);
    for (const w of this.#waiters) {
      if (this.lines.length >= w.n) {
        clearTimeout(w.timer);
        this.#waiters.delete(w);
        w.resolve([...this.lines]);
      }
    }
  }

  waitForLines(n: number, timeoutMs = 30_000): Promise<string[]> {
    if (this.lines.length >= n) return Promise.resolve([...this.lines]);
    if (this.#closing) {
      return Promise.reject(new Error(`Receiver closed with ${this.lines.length} of ${n} lines`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        n,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(
            new Error(
              `Receiver on port ${this.#port} got ${this.lines.length} of ${n} lines within ${timeoutMs} ms (connections ${this.connections}, handshake errors ${this.handshakeErrors})`,
            ),
          );
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const w of this.#waiters) {
        clearTimeout(w.timer);
        w.reject(new Error(`Receiver closed with ${this.lines.length} of ${w.n} lines`));
      }
      this.#waiters.clear();
      const closed = new Promise<void>((resolve) => {
        if (!this.#server.listening) return resolve();
        this.#server.close(() => resolve());
      });
      for (const socket of this.#sockets) socket.destroy();
      await closed;
      // Let the destroyed sockets finish closing so no resource outlives the test.
      await Promise.all(
        [...this.#sockets].map((s) =>
          s.closed ? Promise.resolve() : new Promise<void>((r) => s.once("close", () => r()))
        ),
      );
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function validate(opts: ReceiverOptions): void {
  const n = opts.closeAfterLines;
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) {
    throw new RangeError(
      `Cannot start receiver: closeAfterLines must be a positive integer, got ${n}`,
    );
  }
}

/**
 * Starts a mutual-TLS line receiver on 127.0.0.1 (port 0 unless `opts.port`), presenting the
 * test server certificate and requiring a client certificate signed by the test CA
 * (`requestCert: true, rejectUnauthorized: true`). Failed handshakes are counted in
 * `handshakeErrors`, never thrown. It keeps connections half-open so that a client's
 * `closeWrite()` is answered by the server ending its side too, which the client reads as EOF.
 */
export async function startTlsReceiver(
  certs: TestCerts,
  opts: ReceiverOptions = {},
): Promise<LineReceiver> {
  validate(opts);
  const server = tls.createServer({
    key: certs.serverKey,
    cert: certs.serverCert,
    ca: [certs.caCert],
    requestCert: true,
    rejectUnauthorized: true,
    allowHalfOpen: true,
  });
  const receiver = new Receiver(server, opts.closeAfterLines, opts.endDelayMs);
  server.on("secureConnection", (socket: tls.TLSSocket) => receiver.accept(socket));
  server.on("tlsClientError", (_err: Error, socket: tls.TLSSocket) => {
    receiver.handshakeErrors++;
    socket.destroy();
  });
  await receiver.listen(opts.port ?? 0);
  return receiver;
}

/**
 * Starts a plain TCP line receiver on 127.0.0.1 (port 0 unless `opts.port`) with the same API
 * as {@link startTlsReceiver}, for the relay output; `handshakeErrors` stays 0. Like the TLS
 * variant it answers a client's half-close by ending its own side.
 */
export async function startTcpReceiver(opts: ReceiverOptions = {}): Promise<LineReceiver> {
  validate(opts);
  const server = net.createServer({ allowHalfOpen: true });
  const receiver = new Receiver(server, opts.closeAfterLines, opts.endDelayMs);
  server.on("connection", (socket: net.Socket) => receiver.accept(socket));
  await receiver.listen(opts.port ?? 0);
  return receiver;
}
