/**
 * The metrics and health endpoint (`globals.metrics.listen`): Prometheus text at `/metrics`,
 * liveness at `/healthz` (the process and its loops are turning), readiness at `/readyz`
 * (configuration loaded, queue reachable, every output delivering). Each health path answers
 * 200 or 503 with a short JSON reason. Whoever reaches the port can hold no more than the
 * limits allow: see {@link startMetricsServer}.
 * @module
 */
import { HEALTH_PATH, METRICS_DEFAULT_PORT, METRICS_PATH, READY_PATH } from "./endpoints.ts";

/** A check's answer. */
export interface CheckResult {
  readonly ok: boolean;
  readonly reason: string;
}

/** What the server asks the collector. */
export interface HealthSource {
  /** Liveness. */
  live(): CheckResult;
  /** Readiness. */
  ready(): CheckResult;
  /** Prometheus text. */
  metrics(): string;
}

/** Parses `host:port`, `host` or `:port`. */
export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d+))?$/.exec(listen.trim());
  const hostname = (m?.[1] ?? m?.[2]) || "0.0.0.0";
  const port = m?.[3] ? Number(m[3]) : METRICS_DEFAULT_PORT;
  return { hostname, port };
}

/** A running endpoint. */
export interface MetricsServer {
  readonly port: number;
  /** Connections open now. */
  readonly connections: number;
  close(): Promise<void>;
}

/** Limits of the endpoint; see {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** Time a client has to send its whole request head. Default 10,000 ms. */
  headerTimeoutMs?: number;
  /**
   * Longest a connection may stay silent: nothing received while the request is awaited, or
   * nothing taken by the client while the answer is written. Default 5,000 ms.
   */
  idleTimeoutMs?: number;
  /** Connections open at once; one more is closed as soon as it is accepted. Default 32. */
  maxConnections?: number;
}

/** The longest request head read (request line and headers). */
const MAX_HEAD_BYTES = 8 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Answer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

/**
 * Starts the endpoint on `listen`. It is a small HTTP/1.1 server of its own, since it faces
 * whoever can reach the port: one request per connection (answered with `Connection: close`),
 * only GET and HEAD, a request head of at most 8 KiB that must arrive within
 * `headerTimeoutMs`, a connection silent for `idleTimeoutMs` closed, and at most
 * `maxConnections` connections open, so that idle or slow clients cannot hold sockets or
 * memory.
 */
export function startMetricsServer(
  listen: string,
  source: HealthSource,
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const { hostname, port } = parseListen(listen);
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname, port });
  } catch (e) {
    return Promise.reject(e);
  }
  return Promise.resolve(
    new Endpoint(listener, options.maxConnections ?? 32, {
      headerTimeoutMs: options.headerTimeoutMs ?? 10_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 5_000,
      answer: router(source),
    }),
  );
}

/** How each connection is served: its deadlines and the answer to each path. */
interface ServeOptions {
  readonly headerTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly answer: (path: string) => Answer;
}

/** The answer to each path: the metrics, the two health checks, or 404. */
function router(source: HealthSource): (path: string) => Answer {
  const json = (r: CheckResult): Answer => ({
    status: r.ok ? 200 : 503,
    type: "application/json",
    body: JSON.stringify({ status: r.ok ? "ok" : "unavailable", reason: r.reason }) + "\n",
  });
  return (path: string): Answer => {
    if (path === METRICS_PATH) {
      return {
        status: 200,
        type: "text/plain; version=0.0.4; charset=utf-8",
        body: source.metrics(),
      };
    }
    if (path === HEALTH_PATH) return json(source.live());
    if (path === READY_PATH) return json(source.ready());
    return { status: 404, type: "text/plain", body: "not found\n" };
  };
}

/** The listening endpoint: accepts connections, at most `maxConnections` open, and serves each. */
class Endpoint implements MetricsServer {
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #maxConnections: number;
  readonly #serve: ServeOptions;
  readonly #open = new Set<Deno.Conn>();
  readonly #served = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;

  constructor(listener: Deno.TcpListener, maxConnections: number, serve: ServeOptions) {
    this.#listener = listener;
    this.#maxConnections = maxConnections;
    this.#serve = serve;
    this.#accepting = this.#accept();
    this.port = (listener.addr as Deno.NetAddr).port;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#open.size;
  }

  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    for (const c of this.#open) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    await Promise.allSettled([...this.#served]);
  }

  /** Accepts connections until the listener is closed. */
  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // closed
      }
      this.#take(conn);
    }
  }

  /** Serves `conn`, or closes it at once when `maxConnections` are open already. */
  #take(conn: Deno.Conn): void {
    if (this.#open.size >= this.#maxConnections) {
      try {
        conn.close();
      } catch {
        // already gone
      }
      return;
    }
    this.#open.add(conn);
    const p = serve(conn, this.#serve).finally(() => {
      this.#open.delete(conn);
      this.#served.delete(p);
      try {
        conn.close();
      } catch {
        // already closed
      }
    });
    this.#served.add(p);
  }
}

/** Reads one request from `conn` within the limits and answers it; never throws. */
async function serve(conn: Deno.Conn, o: ServeOptions): Promise<void> {
  // One timer: the earlier of the header deadline and the idle deadline closes the connection,
  // which ends any read or write in progress.
  const headerDeadline = Date.now() + o.headerTimeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (deadline: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }, Math.max(0, deadline - Date.now()));
  };
  try {
    const head = new Uint8Array(MAX_HEAD_BYTES);
    let n = 0;
    let end = -1;
    while (end < 0) {
      arm(Math.min(headerDeadline, Date.now() + o.idleTimeoutMs));
      if (n === head.length) {
        await write(conn, reply({ status: 431, type: "text/plain", body: "request too large\n" }));
        return;
      }
      const got = await conn.read(head.subarray(n));
      if (got === null) return;
      end = headEnd(head, Math.max(0, n - 3), n + got);
      n += got;
    }
    const line = decoder.decode(head.subarray(0, head.indexOf(0x0d)));
    const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(line);
    let a: Answer;
    if (!m) a = { status: 400, type: "text/plain", body: "bad request\n" };
    else if (m[1] !== "GET" && m[1] !== "HEAD") {
      a = { status: 405, type: "text/plain", body: "method not allowed\n" };
    } else {
      let path = m[2]!;
      const q = path.search(/[?#]/);
      if (q >= 0) path = path.slice(0, q);
      a = o.answer(path);
    }
    arm(Date.now() + o.idleTimeoutMs);
    await write(conn, reply(a, m?.[1] === "HEAD"));
  } catch {
    // the client went away, or a deadline closed the connection
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Where the request head ends (after its blank line) in `buf[0..n)`, or -1; only the blank
 * lines that end at `from` or later are looked for (the bytes before were searched already).
 */
function headEnd(buf: Uint8Array, from: number, n: number): number {
  for (let i = Math.max(3, from); i < n; i++) {
    if (buf[i] === 0x0a && buf[i - 1] === 0x0d && buf[i - 2] === 0x0a && buf[i - 3] === 0x0d) {
      return i + 1;
    }
  }
  return -1;
}

/** The bytes of an HTTP/1.1 response for `a`, without the body for HEAD. */
function reply(a: Answer, head = false): Uint8Array {
  const body = encoder.encode(a.body);
  const text = `HTTP/1.1 ${a.status} ${REASONS[a.status] ?? ""}\r\n` +
    `content-type: ${a.type}\r\ncontent-length: ${body.length}\r\n` +
    `connection: close\r\ncache-control: no-store\r\n\r\n`;
  const start = encoder.encode(text);
  if (head) return start;
  const out = new Uint8Array(start.length + body.length);
  out.set(start);
  out.set(body, start.length);
  return out;
}

async function write(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}
