/**
 * A connection whose peer is watched from the moment it opens. A read is kept pending for the
 * connection's whole life, so a peer that closes or rejects us early (with TLS 1.3, a rejected
 * client certificate shows only after our handshake completed) is seen before we claim
 * delivery. Confirmation is: no early close, then our `closeWrite()`, then the peer's
 * end-of-stream.
 *
 * When a write or the confirmation fails, the watcher's view decides what is reported: a TLS
 * peer that ended the connection right after the handshake (or sent a certificate alert)
 * rejected our client certificate (DeliveryError 504, as `seclake check` reports it; retried, since
 * a receiver that stops at that moment looks the same), whichever of the write error (broken pipe,
 * reset) or the end of stream showed first.
 * @module
 */
import { CollectorError } from "../errors.ts";
import { CERT_ALERT, classifyConnError } from "./connectors.ts";

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

/** How long a failed write or confirmation waits for the watcher's view. */
const VERDICT_MS = 200;

/** How a confirmed connection ended. */
export interface Confirmation {
  /**
   * The TLS peer ended with a close_notify alert (always true for plain TCP). Without it (as
   * rsyslog ends) the end-of-stream alone says the peer read everything; a peer that normally
   * sends close_notify and leaves it out was cut off or dropped what it had not read yet.
   */
  readonly closeNotify: boolean;
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

  /** Milliseconds since the connection opened (its handshake done). */
  get ageMs(): number {
    return Date.now() - this.#openedAt;
  }

  /** True once the peer closed or reset the connection. */
  get peerEnded(): boolean {
    return this.#ended !== undefined;
  }

  /** Time the peer gets, from the connection's start, to reject our certificate. */
  get #settleMs(): number {
    return Math.max(this.#o.minSettleMs ?? 50, this.#o.setupMs);
  }

  /**
   * Writes all of `data`; fails at once if the peer already ended the connection, and, with
   * `stallMs`, when the peer takes nothing for that long (the connection is then closed).
   */
  async write(data: Uint8Array, stallMs?: number): Promise<void> {
    if (this.#ended) throw this.#earlyClose(this.#ended);
    let off = 0;
    try {
      while (off < data.length) off += await this.#writeSome(data.subarray(off), stallMs);
    } catch (e) {
      throw await this.#verdict(e, "send");
    }
  }

  async #writeSome(data: Uint8Array, stallMs?: number): Promise<number> {
    const pending = this.conn.write(data);
    if (stallMs === undefined) return await pending;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<"stalled">((r) => timer = setTimeout(() => r("stalled"), stallMs));
    try {
      const n = await Promise.race([pending, stalled]);
      if (n !== "stalled") return n;
      pending.catch(() => {});
      this.close();
      throw new CollectorError(
        "OUTPUT_UNCONFIRMED",
        `${this.#o.target} took no data for ${stallMs} ms`,
        { context: { target: this.#o.target } },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Proves the peer read everything written: waits until the peer had time to reject us, checks
   * it did not close early, closes our sending side and waits for its end-of-stream.
   */
  async confirm(timeoutMs: number): Promise<Confirmation> {
    const wait = this.#settleMs - this.ageMs;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (this.#ended) throw this.#earlyClose(this.#ended);
    try {
      await this.conn.closeWrite();
    } catch (e) {
      throw await this.#verdict(e, "confirm");
    }
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
      // A clean end, or (rsyslog) an end without TLS close_notify.
      if (ended.error === undefined) return { closeNotify: true };
      if (ended.error instanceof Deno.errors.UnexpectedEof) return { closeNotify: false };
      if (this.#rejected(ended)) throw this.#earlyClose(ended);
      throw classifyConnError(ended.error, this.#o.target, "confirm");
    } finally {
      clearTimeout(timer);
    }
  }

  /** The error to report for `e`, once the watcher had a moment to see how the peer ended. */
  async #verdict(e: unknown, phase: "send" | "confirm"): Promise<CollectorError> {
    if (e instanceof CollectorError) return e;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = this.#ended ?? await Promise.race([
      this.#endedPromise,
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), VERDICT_MS)),
    ]);
    clearTimeout(timer);
    if (ended && this.#rejected(ended)) return this.#earlyClose(ended);
    return classifyConnError(e, this.#o.target, phase);
  }

  /** Whether the way the peer ended says it refused our client certificate. */
  #rejected(ended: Ended): boolean {
    if (!this.#o.tls) return false;
    const message = ended.error instanceof Error ? ended.error.message : "";
    return CERT_ALERT.test(message) || ended.at - this.#openedAt <= 2 * this.#settleMs;
  }

  #earlyClose(ended: Ended): CollectorError {
    const why = ended.error instanceof Error ? `: ${ended.error.message}` : "";
    return this.#rejected(ended)
      ? new CollectorError(
        "OUTPUT_CERT_REJECTED",
        `${this.#o.target} closed the connection before confirming; the client certificate was probably rejected (or the receiver stopped just then)${why}`,
        { cause: ended.error, context: { target: this.#o.target } },
      )
      : new CollectorError(
        "OUTPUT_WRITE",
        `${this.#o.target} closed the connection before confirming${why}`,
        { cause: ended.error, context: { target: this.#o.target } },
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
