/**
 * The metrics and health endpoint (`globals.metrics.listen`): Prometheus text at `/metrics`,
 * liveness at `/healthz` (the process and its loops are turning), readiness at `/readyz`
 * (configuration loaded, queue reachable, every output delivering). Each health path answers
 * 200 or 503 with a short JSON reason.
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
  close(): Promise<void>;
}

/** Starts the endpoint on `listen`. */
export function startMetricsServer(listen: string, source: HealthSource): Promise<MetricsServer> {
  const { hostname, port } = parseListen(listen);
  const json = (r: CheckResult) =>
    new Response(JSON.stringify({ status: r.ok ? "ok" : "unavailable", reason: r.reason }) + "\n", {
      status: r.ok ? 200 : 503,
      headers: { "content-type": "application/json" },
    });
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve({
        hostname,
        port,
        onListen: (addr) =>
          resolve({ port: (addr as Deno.NetAddr).port, close: () => server.shutdown() }),
      }, (req) => {
        const path = new URL(req.url).pathname;
        if (path === METRICS_PATH) {
          return new Response(source.metrics(), {
            headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
          });
        }
        if (path === HEALTH_PATH) return json(source.live());
        if (path === READY_PATH) return json(source.ready());
        return new Response("not found\n", { status: 404 });
      });
    } catch (e) {
      reject(e);
    }
  });
}
