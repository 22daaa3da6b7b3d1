/**
 * The fixed facts the outside world relies on: the metrics port and its HTTP paths, the state
 * directory in containers, the shutdown timeout and the signals that stop the collector. The
 * Dockerfile, the Kubernetes manifests and the systemd unit under `deploy/` are checked against
 * these values by `tests/distribution_test.ts`, so change them here and there together.
 * @module
 */

/** TCP port of the metrics and health endpoints when `globals.metrics.listen` names none. */
export const METRICS_DEFAULT_PORT = 9464;

/** Liveness path: answers 200 while the process and its loops are alive. */
export const HEALTH_PATH = "/healthz";

/** Readiness path: answers 200 once inputs and outputs are started, 503 while stopping. */
export const READY_PATH = "/readyz";

/** Prometheus text exposition of the counters. */
export const METRICS_PATH = "/metrics";

/**
 * State directory in the container image and under systemd (`StateDirectory=seclake`); the
 * example configurations set `globals.persistence.directory_name` to it.
 */
export const STATE_DIR_CONTAINER = "/var/lib/seclake";

/**
 * Seconds the collector gives work in flight to finish after a stop signal before it exits
 * (`shutdown_timeout_seconds`). Supervisors must wait longer than this before killing it.
 */
export const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 25;

/**
 * Signals that stop the collector cleanly on Linux and macOS (`src/cli/main.ts` listens to
 * them); container and service managers must send one of these.
 */
export const SHUTDOWN_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM"];
