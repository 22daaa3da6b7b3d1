/**
 * A small HTTP CONNECT proxy on a free loopback port, as a corporate proxy is to the collector:
 * it answers `CONNECT host:port` by opening a TCP connection to the target and relaying bytes
 * both ways, and records every request line it was sent. It can require basic credentials
 * (`407` without them) and can refuse every tunnel (`403`), so a test can see both a working
 * and a refusing proxy. Plain (non-CONNECT) requests are refused with `405`: the collector
 * reaches AWS over HTTPS only.
 * @module
 */
import * as net from "node:net";
import type { AddressInfo, Socket } from "node:net";

/** A running CONNECT proxy; stop it with `stop()` or `await using`. */
export interface ConnectProxy extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`, for `HTTPS_PROXY` or `proxy_url`. */
  readonly url: string;
  readonly port: number;
  /** The request lines received, e.g. `CONNECT localhost:40123 HTTP/1.1`. */
  readonly requests: readonly string[];
  /** The `Proxy-Authorization` headers received (decoded `user:password`), in order. */
  readonly credentials: readonly string[];
  stop(): Promise<void>;
}

/** Options for {@link startConnectProxy}. */
export interface ConnectProxyOptions {
  /** `user:password` the proxy requires; without it any client is accepted. */
  auth?: string;
  /** Refuse every tunnel with `403 Forbidden`. */
  refuse?: boolean;
}

/** Starts the proxy (see the module). */
export async function startConnectProxy(options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const requests: string[] = [];
  const credentials: string[] = [];
  const sockets = new Set<Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > 16_384) client.destroy();
        return;
      }
      client.off("data", onData);
      const lines = head.subarray(0, end).toString("latin1").split("\r\n");
      const rest = head.subarray(end + 4);
      const requestLine = lines[0];
      requests.push(requestLine);
      const auth = lines.find((l) => /^proxy-authorization:/i.test(l));
      const decoded = auth
        ? Buffer.from(auth.replace(/^[^:]*:\s*Basic\s+/i, ""), "base64").toString()
        : "";
      if (auth) credentials.push(decoded);
      const [method, target] = requestLine.split(" ");
      const answer = (status: string) => {
        client.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\n\r\n`);
      };
      if (method !== "CONNECT") return answer("405 Method Not Allowed");
      if (options.auth !== undefined && decoded !== options.auth) {
        return answer("407 Proxy Authentication Required");
      }
      if (options.refuse) return answer("403 Forbidden");
      const colon = target.lastIndexOf(":");
      const upstream = net.connect(Number(target.slice(colon + 1)), target.slice(0, colon));
      sockets.add(upstream);
      upstream.on("close", () => sockets.delete(upstream));
      upstream.on("error", () => client.destroy());
      upstream.on("connect", () => {
        client.write("HTTP/1.1 200 Connection established\r\n\r\n");
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      client.on("close", () => upstream.destroy());
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    credentials,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
