/**
 * A fault-injecting HTTPS proxy to put in front of moto: the collector's `endpoint_url` points at
 * it, every request is forwarded to moto unchanged (the `Host` header too, so the queue URLs
 * moto hands out keep pointing at the proxy), and requests that match a rule get a fault
 * instead: an AWS error (503 throttling, 403, 404), a connection reset before or after moto
 * answered, a stall before forwarding, or a response body trickled out slowly. Every request is
 * recorded with the service, operation and key it was for, so a test can count S3 reads of a key
 * or SQS calls of one kind. It speaks HTTPS on both sides when moto does, with a certificate
 * from the same test CA as moto's (so `AWS_CA_BUNDLE` naming moto's CA trusts it too).
 * @module
 */
import type * as http from "node:http";
import * as https from "node:https";
import * as plainHttp from "node:http";
import { makeCerts } from "./certs.ts";
import { motoCa } from "./moto.ts";
import type { AddressInfo, Socket } from "node:net";

/** An S3 object request (`GetObject`, `HeadObject`, ...) or an SQS call (`ReceiveMessage`, ...). */
export interface ProxiedRequest {
  readonly service: "s3" | "sqs" | "other";
  /** S3: `GetObject`, `HeadObject`, `PutObject`, `DeleteObject`, `Bucket`; SQS: the action name. */
  readonly operation: string;
  /** S3 bucket and key (decoded); undefined for SQS. */
  readonly bucket?: string;
  readonly key?: string;
  /** The `Range` header of an S3 GET. */
  readonly range?: string;
  /** Milliseconds since the proxy started. */
  readonly at: number;
  /** The fault applied, if any (`status 503`, `reset`, `reset_after`, `stall 8000`, ...). */
  fault?: string;
  /** Status moto (or the fault) answered with; undefined when the connection was reset. */
  status?: number;
}

/** What happens to a matching request. */
export type Fault =
  /** Answer with an AWS error of this HTTP status and code (S3 XML or SQS JSON). */
  | { readonly kind: "status"; readonly status: number; readonly code: string }
  /** Destroy the connection without forwarding the request (a network reset). */
  | { readonly kind: "reset" }
  /** Forward the request, then destroy the connection instead of answering (a lost response). */
  | { readonly kind: "reset_after" }
  /** Wait `ms` without answering, then forward (only if the client is still connected). */
  | { readonly kind: "stall"; readonly ms: number }
  /** Forward, then spread the response body over `ms` in small pieces (a slow link). */
  | { readonly kind: "trickle"; readonly ms: number };

/** 503 SlowDown (S3) or 503 ServiceUnavailable/throttled (SQS): retryable throttling. */
export const THROTTLE: Fault = { kind: "status", status: 503, code: "SlowDown" };
/** 403 AccessDenied, as S3 answers a GetObject the credentials may not make. */
export const ACCESS_DENIED: Fault = { kind: "status", status: 403, code: "AccessDenied" };
/** 404 NoSuchKey. */
export const NO_SUCH_KEY: Fault = { kind: "status", status: 404, code: "NoSuchKey" };
/** A connection reset before the request reached moto. */
export const RESET: Fault = { kind: "reset" };

/** Which requests a rule applies to, and what it does to them. */
export interface FaultRule {
  /** Default: any service. */
  readonly service?: "s3" | "sqs";
  /** Operation name (see {@link ProxiedRequest.operation}); default any. */
  readonly operation?: string;
  /** S3 key, exact or a pattern; default any. */
  readonly key?: string | RegExp;
  /** Only requests with (true) or without (false) a `Range` header; default either. */
  readonly ranged?: boolean;
  readonly fault: Fault;
  /** Matching requests let through before the fault starts. Default 0. */
  readonly skip?: number;
  /** Matching requests that get the fault, after `skip`; then the rule retires. Default all. */
  readonly times?: number;
}

/** A rule added to a proxy: how many requests matched it and how many it faulted. */
export interface ActiveRule {
  readonly rule: FaultRule;
  readonly matched: number;
  readonly faulted: number;
}

/** A running fault proxy. Close it with `close()` or `await using`. */
export interface FaultProxy extends AsyncDisposable {
  /** `https://127.0.0.1:PORT` (`http://` before a plain moto), for `endpoint_url`. */
  readonly endpoint: string;
  readonly port: number;
  /** Every request seen, in arrival order (live array). */
  readonly requests: readonly ProxiedRequest[];
  /** Adds a rule; the first matching active rule decides a request's fate. */
  add(rule: FaultRule): ActiveRule;
  /** Removes every rule. */
  clear(): void;
  /** Requests matching `filter` (same fields as a rule, without the fault). */
  count(filter: Omit<FaultRule, "fault" | "skip" | "times">): number;
  /**
   * Stops listening and drops every connection for `ms` (connections are refused: the endpoint
   * is down), then listens on the same port again. Resolves once it is back.
   */
  refuse(ms: number): Promise<void>;
  close(): Promise<void>;
}

class Rule implements ActiveRule {
  matched = 0;
  faulted = 0;
  constructor(readonly rule: FaultRule) {}
}

function matches(
  r: Omit<FaultRule, "fault" | "skip" | "times">,
  q: ProxiedRequest,
): boolean {
  if (r.service !== undefined && r.service !== q.service) return false;
  if (r.operation !== undefined && r.operation !== q.operation) return false;
  if (r.key !== undefined) {
    if (q.key === undefined) return false;
    if (typeof r.key === "string" ? r.key !== q.key : !r.key.test(q.key)) return false;
  }
  if (r.ranged !== undefined && r.ranged !== (q.range !== undefined)) return false;
  return true;
}

function classify(req: http.IncomingMessage, t0: number): ProxiedRequest {
  const at = Date.now() - t0;
  const target = req.headers["x-amz-target"];
  if (typeof target === "string" && target.startsWith("AmazonSQS.")) {
    return { service: "sqs", operation: target.slice("AmazonSQS.".length), at };
  }
  const url = new URL(req.url ?? "/", "http://proxy");
  const [bucket, ...rest] = url.pathname.slice(1).split("/");
  if (!bucket) return { service: "other", operation: req.method ?? "GET", at };
  const key = rest.length ? decodeURIComponent(rest.join("/")) : undefined;
  const range = typeof req.headers.range === "string" ? req.headers.range : undefined;
  const byMethod: Record<string, string> = {
    GET: "GetObject",
    HEAD: "HeadObject",
    PUT: "PutObject",
    DELETE: "DeleteObject",
  };
  const operation = key ? byMethod[req.method ?? ""] ?? req.method ?? "" : "Bucket";
  return { service: "s3", operation, bucket, key, range, at };
}

function errorBody(q: ProxiedRequest, status: number, code: string): {
  headers: Record<string, string>;
  body: string;
} {
  if (q.service === "sqs") {
    const sqsCode = status === 503 ? "ServiceUnavailable" : code;
    return {
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amzn-query-error": `${sqsCode};${status >= 500 ? "Receiver" : "Sender"}`,
      },
      body: JSON.stringify({ __type: `com.amazonaws.sqs#${sqsCode}`, message: `Injected ${code}` }),
    };
  }
  return {
    headers: { "content-type": "application/xml" },
    body: q.operation === "HeadObject"
      ? ""
      : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>Injected ${code}</Message><Key>${
        q.key ?? ""
      }</Key><RequestId>FAULTPROXY</RequestId></Error>`,
  };
}

/**
 * Starts a proxy on a free loopback port forwarding to `upstream` (moto's endpoint). Rules can
 * be added and cleared while it runs.
 */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const up = new URL(upstream);
  const ca = motoCa(upstream);
  const certs = ca ? await makeCerts() : undefined;
  const t0 = Date.now();
  const rules: Rule[] = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  let closing = false;

  const forward = (
    req: http.IncomingMessage,
    body: Buffer,
    onResponse: (status: number, headers: http.IncomingHttpHeaders, body: Buffer) => void,
    onError: () => void,
  ) => {
    const out = (ca ? https : plainHttp).request({
      host: up.hostname,
      port: Number(up.port),
      ...(ca ? { ca: ca.pem, servername: up.hostname } : {}),
      method: req.method,
      path: req.url,
      headers: req.headers, // Host kept: moto builds queue URLs from it
    }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => onResponse(res.statusCode ?? 502, res.headers, Buffer.concat(parts)));
      res.on("error", onError);
    });
    out.on("error", onError);
    out.end(body);
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", async () => {
      const q = classify(req, t0);
      requests.push(q);
      const body = Buffer.concat(parts);
      let fault: Fault | undefined;
      for (const r of rules) {
        if (!matches(r.rule, q)) continue;
        r.matched++;
        if (r.matched <= (r.rule.skip ?? 0)) break;
        if (r.faulted >= (r.rule.times ?? Infinity)) continue;
        r.faulted++;
        fault = r.rule.fault;
        break;
      }
      const socket = req.socket;
      const gone = () => socket.destroyed || closing || down;
      const reply = (status: number, headers: http.IncomingHttpHeaders, data: Buffer) => {
        if (gone()) return;
        q.status = status;
        const h: http.OutgoingHttpHeaders = { ...headers };
        delete h["transfer-encoding"];
        delete h["connection"];
        if (req.method !== "HEAD") h["content-length"] = String(data.length);
        res.writeHead(status, h);
        if (fault?.kind !== "trickle" || data.length === 0) return void res.end(data);
        const pieces = 60;
        const size = Math.ceil(data.length / pieces);
        const step = fault.ms / pieces;
        (async () => {
          for (let off = 0; off < data.length && !gone(); off += size) {
            res.write(data.subarray(off, off + size));
            await later(step);
          }
          if (!gone()) res.end();
        })();
      };
      const fail = () => {
        q.fault ??= "upstream error";
        socket.destroy();
      };
      if (!fault) return forward(req, body, reply, fail);
      switch (fault.kind) {
        case "status": {
          q.fault = `status ${fault.status} ${fault.code}`;
          const e = errorBody(q, fault.status, fault.code);
          return reply(fault.status, e.headers, Buffer.from(e.body));
        }
        case "reset":
          q.fault = "reset";
          socket.destroy();
          return;
        case "reset_after":
          q.fault = "reset_after";
          return forward(req, body, (status) => {
            q.status = status;
            socket.destroy();
          }, fail);
        case "stall":
          q.fault = `stall ${fault.ms}`;
          await later(fault.ms);
          if (gone()) return;
          return forward(req, body, reply, fail);
        case "trickle":
          q.fault = `trickle ${fault.ms}`;
          return forward(req, body, reply, fail);
      }
    });
  };
  const server = certs
    ? https.createServer({ key: certs.serverKey, cert: certs.serverCert }, handler)
    : plainHttp.createServer(handler);
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let down = false;
  const refuse = async (ms: number) => {
    down = true;
    const stopped = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await stopped;
    await later(ms);
    down = false;
    if (closing) return;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  };
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      closing = true;
      for (const t of timers) clearTimeout(t);
      const done = new Promise<void>((r) => server.listening ? server.close(() => r()) : r());
      for (const s of sockets) s.destroy();
      await done;
    })();
  return {
    endpoint: `${certs ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    requests,
    add(rule) {
      const r = new Rule(rule);
      rules.push(r);
      return r;
    },
    clear() {
      rules.length = 0;
    },
    count(filter) {
      return requests.filter((q) => matches(filter, q)).length;
    },
    refuse,
    close,
    [Symbol.asyncDispose]: close,
  };
}
