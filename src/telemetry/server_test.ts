/**
 * The metrics endpoint against real sockets on loopback: a client that sends a partial request
 * head, or nothing, is disconnected, and connections beyond the cap are closed at once, while
 * ordinary requests keep being answered. Every wait is bounded by `closedWithin`, so a server
 * that never closes fails the test instead of hanging it.
 */
import assert from "node:assert/strict";
import { startMetricsServer } from "./server.ts";
import type { MetricsServerOptions } from "./server.ts";

const source = {
  live: () => ({ ok: true, reason: "loops turning" }),
  ready: () => ({ ok: true, reason: "ready" }),
  metrics: () => "seclake_up 1\n",
};

/**
 * Whether the server closed `conn` within `ms`: reads (and drops) whatever arrives until the end
 * of the stream or an error (closed), or until `ms` pass (still open).
 */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => timer = setTimeout(() => r(false), ms));
  const closed = (async () => {
    const buf = new Uint8Array(1024);
    try {
      while ((await conn.read(buf)) !== null) { /* drain */ }
    } catch {
      // reset: closed as well
    }
    return true as const;
  })();
  try {
    return await Promise.race([closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function withServer(
  options: MetricsServerOptions,
  fn: (port: number, server: { connections: number }) => Promise<void>,
): Promise<void> {
  // deno-lint-ignore no-explicit-any
  const start = startMetricsServer as (l: string, s: typeof source, o: any) => ReturnType<
    typeof startMetricsServer
  >;
  const server = await start("127.0.0.1:0", source, options);
  try {
    await fn(server.port, server);
  } finally {
    await server.close();
  }
}

async function get(port: number, path: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return `${r.status} ${await r.text()}`;
}

Deno.test("metrics server: a request head that never ends is cut off at the header timeout", async () => {
  await withServer({ headerTimeoutMs: 300, idleTimeoutMs: 10_000 }, async (port) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
      // Trickle a header byte now and then: the connection is never idle, only slow.
      let trickling = true;
      const trickle = (async () => {
        while (trickling) {
          await new Promise((r) => setTimeout(r, 50));
          await conn.write(new TextEncoder().encode("X")).catch(() => trickling = false);
        }
      })();
      const closed = await closedWithin(conn, 8_000);
      trickling = false;
      await trickle;
      assert.ok(closed, "the slow request head was still open after 8 s");
    } finally {
      conn.close();
    }
    assert.equal(await get(port, "/metrics"), "200 seclake_up 1\n");
  });
});

Deno.test("metrics server: a connection that sends nothing is closed at the idle timeout", async () => {
  await withServer({ headerTimeoutMs: 60_000, idleTimeoutMs: 300 }, async (port, server) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      assert.ok(await closedWithin(conn, 8_000), "the silent connection was still open after 8 s");
    } finally {
      conn.close();
    }
    assert.equal(await get(port, "/healthz"), '200 {"status":"ok","reason":"loops turning"}\n');
    assert.equal(server.connections, 0);
  });
});

Deno.test("metrics server: connections beyond the cap are closed at once; the others are served", async () => {
  await withServer({ headerTimeoutMs: 60_000, idleTimeoutMs: 60_000, maxConnections: 3 }, async (
    port,
    server,
  ) => {
    const held: Deno.Conn[] = [];
    try {
      for (let i = 0; i < 3; i++) held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      // Wait until the server has accepted the three (bounded).
      for (let i = 0; i < 400 && server.connections < 3; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(server.connections, 3);
      const extra = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        assert.ok(await closedWithin(extra, 8_000), "a fourth connection was kept open");
      } finally {
        extra.close();
      }
      // One held connection asks and is answered.
      await held[0]!.write(new TextEncoder().encode("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"));
      const buf = new Uint8Array(4096);
      let text = "";
      for (;;) {
        const n = await held[0]!.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(text, /\r\nconnection: close\r\n/);
      assert.match(text, /\{"status":"ok","reason":"ready"\}\n$/);
    } finally {
      for (const c of held) c.close();
    }
    // Once they are gone, new clients are served again.
    for (let i = 0; i < 400 && server.connections > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(await get(port, "/metrics"), "200 seclake_up 1\n");
  });
});

Deno.test("metrics server: only GET and HEAD, heads of at most 8 KiB", async () => {
  await withServer({}, async (port) => {
    const ask = async (request: string) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(new TextEncoder().encode(request));
        const buf = new Uint8Array(4096);
        let text = "";
        for (;;) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) break;
          text += new TextDecoder().decode(buf.subarray(0, n));
        }
        return text.split("\r\n")[0];
      } finally {
        conn.close();
      }
    };
    assert.equal(await ask("POST /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 405 Method Not Allowed");
    assert.equal(await ask("garbage\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    assert.equal(
      await ask(`GET /metrics HTTP/1.1\r\nX: ${"a".repeat(9000)}\r\n\r\n`),
      "HTTP/1.1 431 Request Header Fields Too Large",
    );
    assert.equal(await ask("HEAD /healthz HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK");
  });
});
