/**
 * Starts and stops a real moto server (S3, SQS and the rest of AWS, in Python) on a free
 * loopback port, for integration tests that use the real `@aws-sdk` clients.
 * @module
 */
import { delay, freePort, spawnDaemon } from "./_util.ts";

/** A running moto server; stop it with `stop()` or `await using`. */
export interface MotoServer extends AsyncDisposable {
  /** Base URL for the SDK's `endpoint` option, e.g. `http://127.0.0.1:40123`. */
  readonly endpoint: string;
  /** The loopback port moto listens on. */
  readonly port: number;
  /** Terminates moto (SIGTERM, then SIGKILL after 2 s) and waits for it to exit; idempotent. */
  stop(): Promise<void>;
}

let python: Promise<string> | undefined;

/**
 * The Python that has moto: `$MOTO_PYTHON` when set, else the first `python3` on `PATH` that
 * can import it. Launchers such as `npx` put their own folder (often `/usr/bin`) first on
 * `PATH`, which can hide the Python moto was installed for (pyenv, a virtualenv).
 */
export function motoPython(): Promise<string> {
  return python ??= (async () => {
    const fromEnv = Deno.env.get("MOTO_PYTHON");
    if (fromEnv) return fromEnv;
    const sep = Deno.build.os === "windows" ? ";" : ":";
    const dirs = (Deno.env.get("PATH") ?? "").split(sep).filter((d) => d);
    const home = Deno.env.get("HOME");
    if (home) dirs.push(`${home}/.pyenv/shims`);
    const seen = new Set<string>();
    for (const dir of dirs) {
      const candidate = `${dir}/python3`;
      if (seen.has(candidate)) continue;
      seen.add(candidate);
      try {
        const out = await new Deno.Command(candidate, {
          args: ["-c", "import moto"],
          stdout: "null",
          stderr: "null",
        }).output();
        if (out.success) return candidate;
      } catch {
        // not there
      }
    }
    return "python3";
  })();
}

/** Options for {@link startMoto}. */
export interface StartMotoOptions {
  /** How long to wait for moto to answer HTTP, in milliseconds. Default 30000. */
  readyTimeoutMs?: number;
}

/**
 * Spawns `python3 -m moto.server -H 127.0.0.1 -p PORT` on a free loopback port and resolves
 * once it answers `GET /moto-api/` (any HTTP status counts). Its stdout is discarded and the
 * tail of its stderr is kept only to explain a failed start, so the child can never block on a
 * full pipe. Rejects with an error naming the port and moto's last output when it exits early
 * or does not answer within `readyTimeoutMs`; in that case the process is already stopped.
 */
export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const port = freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const daemon = spawnDaemon(await motoPython(), [
    "-m",
    "moto.server",
    "-H",
    "127.0.0.1",
    "-p",
    String(port),
  ]);
  const stop = () => daemon.stop();

  try {
    const deadline = Date.now() + readyTimeoutMs;
    while (true) {
      if (daemon.exited) {
        throw new Error(`moto exited before answering on port ${port}: ${daemon.stderrTail()}`);
      }
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 2_000);
      try {
        const res = await fetch(`${endpoint}/moto-api/`, { signal: abort.signal });
        await res.body?.cancel();
        break;
      } catch {
        // not answering yet
      } finally {
        clearTimeout(timer);
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `moto did not answer on port ${port} within ${readyTimeoutMs} ms: ${daemon.stderrTail()}`,
        );
      }
      await delay(100);
    }
  } catch (e) {
    await stop();
    throw e;
  }

  return { endpoint, port, stop, [Symbol.asyncDispose]: stop };
}

/**
 * Environment variables for a process (for example the `aws` CLI or the collector) that talks
 * to moto: moto's fake credentials (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` both
 * `testing`) and the region `us-east-1` as both `AWS_REGION` (the JavaScript SDK) and
 * `AWS_DEFAULT_REGION` (aws CLI v1 reads only this one). The endpoint itself is deliberately not included
 * (no `AWS_ENDPOINT_URL`), so a test still proves that the endpoint it configured is the one used;
 * `endpoint` is taken only so call sites read `motoEnv(moto.endpoint)`.
 */
export function motoEnv(_endpoint: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
  };
}
