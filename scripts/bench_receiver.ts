/**
 * The Devo stand-in of the benchmark, meant to run in its own process so that its TLS and line
 * counting do not share an event loop (or a heap) with the process being measured: a
 * `node:tls` syslog server that requires a client certificate signed by the test CA (like
 * `tests/helpers/tls_receiver.ts`), counts lines and bytes without keeping them, and answers a
 * client's half-close by ending its own side, which is how the collector's output confirms a
 * batch.
 *
 * It prints one JSON line on stdout when it is listening (`{"port":N}`) and one each time a
 * connection ends (`{"lines":..,"bytes":..,"connections":..,"firstMs":..,"lastMs":..}`, times
 * in epoch milliseconds of the first and last byte), and exits on SIGTERM or SIGINT.
 *
 * Slow or absent output, for `bench.ts --slow-output`:
 * - `--down-ms N` — the port refuses connections for the first N ms (nothing listens on it);
 * - `--rate-bytes N` — reads at most N bytes per second in all, through a throttling TCP proxy
 *   in front of the TLS server, so the sender meets TCP backpressure.
 *
 * ```sh
 * deno run -A scripts/bench_receiver.ts --ca CA --cert CERT --key KEY [--port N] \
 *   [--down-ms N] [--rate-bytes N]
 * ```
 * @module
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { parseArgs } from "node:util";

/** A status line of the receiver. */
export interface ReceiverStatus {
  lines: number;
  bytes: number;
  connections: number;
  handshakeErrors: number;
  /** Epoch ms of the first byte received, 0 before any. */
  firstMs: number;
  /** Epoch ms of the last byte received, 0 before any. */
  lastMs: number;
  /**
   * Epoch ms at which the receiver last answered a sender's end-of-stream (the moment that
   * connection's batch counts as confirmed), 0 before any.
   */
  confirmedMs: number;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ca: { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
      port: { type: "string", default: "0" },
      "down-ms": { type: "string", default: "0" },
      "rate-bytes": { type: "string", default: "0" },
    },
  });
  if (!values.ca || !values.cert || !values.key) {
    console.error(
      "Usage: bench_receiver.ts --ca CA --cert CERT --key KEY [--port N] " +
        "[--down-ms N] [--rate-bytes N]",
    );
    return 2;
  }
  const downMs = Number(values["down-ms"]);
  const rate = Number(values["rate-bytes"]);
  const status: ReceiverStatus = {
    lines: 0,
    bytes: 0,
    connections: 0,
    handshakeErrors: 0,
    firstMs: 0,
    lastMs: 0,
    confirmedMs: 0,
  };
  const report = () => console.log(JSON.stringify(status));
  const server = tls.createServer({
    key: await Deno.readTextFile(values.key),
    cert: await Deno.readTextFile(values.cert),
    ca: [await Deno.readTextFile(values.ca)],
    requestCert: true,
    rejectUnauthorized: true,
    allowHalfOpen: true,
  });
  const sockets = new Set<net.Socket>();
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    status.connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.on("data", (chunk: Uint8Array) => {
      const now = Date.now();
      if (status.firstMs === 0) status.firstMs = now;
      status.lastMs = now;
      status.bytes += chunk.length;
      let at = chunk.indexOf(10);
      while (at >= 0) {
        status.lines++;
        at = chunk.indexOf(10, at + 1);
      }
    });
    socket.on("end", () => {
      socket.end(); // answer the half-close: the sender reads EOF and counts the batch confirmed
      status.confirmedMs = Date.now();
      report();
    });
  });
  server.on("tlsClientError", (_e: Error, socket: tls.TLSSocket) => {
    status.handshakeErrors++;
    socket.destroy();
  });

  let port = Number(values.port);
  if (port === 0) {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    port = (probe.addr as Deno.NetAddr).port;
    probe.close();
  }
  console.log(JSON.stringify({ port }));
  if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
  // With a rate limit the TLS server listens on a private port behind a throttling TCP proxy
  // (pausing a node:tls socket loses its end-of-stream in Deno's node compatibility layer).
  const tlsPort = rate > 0 ? 0 : port;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(tlsPort, "127.0.0.1", () => resolve());
  });
  let proxy: Deno.Listener | undefined;
  if (rate > 0) {
    proxy = Deno.listen({ hostname: "127.0.0.1", port });
    throttledProxy(proxy, (server.address() as net.AddressInfo).port, rate);
  }

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGTERM", stop);
    Deno.addSignalListener("SIGINT", stop);
  });
  for (const s of sockets) s.destroy();
  server.close();
  proxy?.close();
  report();
  return 0;
}

/**
 * Forwards each connection accepted on `listener` to 127.0.0.1:`target`, reading from the
 * client at most `rate` bytes per second in all (so the client meets TCP backpressure), and
 * passes each side's end-of-stream on as a half-close.
 */
async function throttledProxy(listener: Deno.Listener, target: number, rate: number) {
  let start = 0;
  let total = 0;
  for await (const client of listener) {
    (async () => {
      let upstream: Deno.TcpConn | undefined;
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
        const up = upstream;
        const down = (async () => {
          const buf = new Uint8Array(64 * 1024);
          while (true) {
            const n = await up.read(buf);
            if (n === null) break;
            await writeAll(client, buf.subarray(0, n));
          }
          await (client as Deno.TcpConn).closeWrite().catch(() => {});
        })();
        const buf = new Uint8Array(16 * 1024);
        while (true) {
          const n = await client.read(buf);
          if (n === null) break;
          const now = Date.now();
          if (start === 0) start = now;
          total += n;
          const ahead = start + (total / rate) * 1000 - now;
          if (ahead > 1) await new Promise((r) => setTimeout(r, ahead));
          await writeAll(up, buf.subarray(0, n));
        }
        await up.closeWrite().catch(() => {});
        await down;
      } catch {
        // a side closed abruptly
      } finally {
        try {
          client.close();
        } catch { /* closed */ }
        try {
          upstream?.close();
        } catch { /* closed */ }
      }
    })();
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array) {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

if (import.meta.main) Deno.exit(await main(Deno.args));
