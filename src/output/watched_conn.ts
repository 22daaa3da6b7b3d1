/**
 * A connection whose peer is watched from the moment it opens. A read is kept pending for the
 * connection's whole life, so a peer that closes or rejects us early (with TLS 1.3, a rejected
 * client certificate shows only after our handshake completed) is seen before we claim
 * delivery. Confirmation is: no early close, then our `closeWrite()`, then the peer's
 * end-of-stream.
 * @module
 */
import { CollectorError } from "../errors.ts";

/** How the peer ended the connection. */
interface Ended {
  readonly at: number;
  readonly error?: unknown;
}

/** Options for {@link WatchedConn}. */
export interface WatchedConnOptions {
  /** `host:port`, for messages. */
  target: string;
  /** Whether the connection is TLS (an early close then means a rejected certificate). */
  tls: boolean;
  /** Time connect and handshake took; the peer gets at least this long to reject us. */
  setupMs: number;
  /** Floor of that wait. Default 50 ms. */
  minSettleMs?: number;
}

/** A connection with its peer's end-of-stream watched. */
export class WatchedConn {
  readonly conn: Deno.Conn;
  #o: WatchedConnOptions;
  #openedAt = Date.now();
  #ended?: Ended;
  #endedPromise: Promise<Ended>;
  #writeClosedAt?: number;

  /** Starts watching `conn`. */
  constructor(conn: Deno.Conn, options: WatchedConnOptions) {
    this.conn = conn;
    this.#o = options;
    this.#endedPromise = this.#watch();
  }

  async #watch(): Promise<Ended> {
    const buf = new Uint8Array(1024);
    try {
      // Syslog receivers send nothing; anything read is ignored until the end.
      while ((await this.conn.read(buf)) !== null) { /* ignore */ }
      this.#ended = { at: Date.now() };
    } catch (error) {
      this.#ended = { at: Date.now(), error };
    }
    return this.#ended;
  }

  /** True once the peer closed or reset the connection. */
  get peerEnded(): boolean {
    return this.#ended !== undefined;
  }

  /** Writes all of `data`; fails at once if the peer already ended the connection. */
  async write(data: Uint8Array): Promise<void> {
    if (this.#ended) throw this.#earlyClose();
    let off = 0;
    while (off < data.length) off += await this.conn.write(data.subarray(off));
  }

  /**
   * Proves the peer read everything written: waits until the peer had time to reject us, checks
   * it did not close early, closes our sending side and waits for its end-of-stream.
   */
  async confirm(timeoutMs: number): Promise<void> {
    const settle = Math.max(this.#o.minSettleMs ?? 50, this.#o.setupMs);
    const wait = this.#openedAt + settle - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (this.#ended) throw this.#earlyClose();
    await this.conn.closeWrite();
    this.#writeClosedAt = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) =>
      timer = setTimeout(() => r("timeout"), timeoutMs)
    );
    try {
      const ended = await Promise.race([this.#endedPromise, timeout]);
      if (ended === "timeout") {
        throw new CollectorError(
          "OUTPUT_UNCONFIRMED",
          `${this.#o.target} did not confirm within ${timeoutMs} ms`,
          { context: { target: this.#o.target } },
        );
      }
      // A clean end, or (rsyslog) an end without TLS close_notify: the peer read everything.
      if (ended.error === undefined || ended.error instanceof Deno.errors.UnexpectedEof) return;
      throw ended.error;
    } finally {
      clearTimeout(timer);
    }
  }

  #earlyClose(): CollectorError {
    const why = this.#ended?.error instanceof Error ? `: ${this.#ended.error.message}` : "";
    return this.#o.tls
      ? new CollectorError(
        "OUTPUT_TLS",
        `${this.#o.target} closed the connection before confirming; the client certificate was probably rejected${why}`,
        { cause: this.#ended?.error, context: { target: this.#o.target }, retryable: true },
      )
      : new CollectorError(
        "OUTPUT_WRITE",
        `${this.#o.target} closed the connection before confirming${why}`,
        { cause: this.#ended?.error, context: { target: this.#o.target } },
      );
  }

  /** Closes the connection (the pending read then ends). */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  /** Whether our sending side was closed (for tests). */
  get writeClosed(): boolean {
    return this.#writeClosedAt !== undefined;
  }
}
