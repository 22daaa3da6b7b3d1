/**
 * Starts and stops a real moto server (S3, SQS and the rest of AWS, in Python) on a free
 * loopback port, for integration tests that use the real `@aws-sdk` clients. moto speaks HTTPS,
 * as AWS does, with a server certificate (SAN `localhost` and `127.0.0.1`) from the tests' own
 * CA, which nothing trusts by default: a process that talks to it is given the CA explicitly
 * (`AWS_CA_BUNDLE` through {@link motoEnv}, or `ca_bundle`). Plain HTTP is there only for tests
 * about HTTP endpoints themselves.
 * @module
 */
import { join } from "node:path";
import { delay, freePort, spawnDaemon } from "./_util.ts";
import { makeCerts } from "./certs.ts";
import { FetchHandler } from "../../src/aws/http_handler.ts";
import { inputNetwork } from "../../src/aws/network.ts";
import type { TestCerts } from "./certs.ts";

/** A running moto server; stop it with `stop()` or `await using`. */
export interface MotoServer extends AsyncDisposable {
  /** Base URL for the SDK's `endpoint` option, e.g. `https://localhost:40123`. */
  readonly endpoint: string;
  /** The PEM file of the CA that signed moto's certificate (HTTPS only). */
  readonly caPath?: string;
  /** That CA's PEM text (HTTPS only). */
  readonly caPem?: string;
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
  /** Serve plain HTTP instead of HTTPS (only for tests about HTTP endpoints). Default false. */
  plainHttp?: boolean;
}

/**
 * Where the CA of this process's HTTPS moto servers is written once the first one starts: a
 * fixed name, known before any server runs, so that a test's environment constants can name it
 * (`AWS_CA_BUNDLE: MOTO_CA_FILE`). Removed when the process ends.
 */
export const MOTO_CA_FILE = join(
  Deno.env.get("TMPDIR") ?? "/tmp",
  `seclake-moto-ca-${crypto.randomUUID()}.pem`,
);
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(MOTO_CA_FILE);
  } catch {
    // never written
  }
});

let certs: Promise<TestCerts> | undefined;
/** The CA PEM file of each HTTPS endpoint started in this process. */
const caByEndpoint = new Map<string, { path: string; pem: string }>();

/** The CA a moto endpoint's certificate comes from, or undefined for plain HTTP. */
export function motoCa(endpoint: string): { path: string; pem: string } | undefined {
  return caByEndpoint.get(new URL(endpoint).origin);
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
  const tls = options.plainHttp !== true ? await (certs ??= makeCerts()) : undefined;
  const endpoint = tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`;
  const daemon = spawnDaemon(await motoPython(), [
    "-m",
    "moto.server",
    "-H",
    "127.0.0.1",
    "-p",
    String(port),
    ...(tls ? ["-c", tls.serverCertPath, "-k", tls.serverKeyPath] : []),
  ]);
  const client = tls ? Deno.createHttpClient({ caCerts: [tls.caCert] }) : undefined;
  const stop = async () => {
    client?.close();
    caByEndpoint.delete(endpoint);
    await daemon.stop();
  };

  try {
    const deadline = Date.now() + readyTimeoutMs;
    while (true) {
      if (daemon.exited) {
        throw new Error(`moto exited before answering on port ${port}: ${daemon.stderrTail()}`);
      }
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 2_000);
      try {
        const res = await fetch(`${endpoint}/moto-api/`, {
          signal: abort.signal,
          ...(client ? { client } : {}),
        });
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
  if (tls) {
    await Deno.writeTextFile(MOTO_CA_FILE, tls.caCert);
    caByEndpoint.set(endpoint, { path: MOTO_CA_FILE, pem: tls.caCert });
  }

  return {
    endpoint,
    port,
    ...(tls ? { caPath: MOTO_CA_FILE, caPem: tls.caCert } : {}),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Environment variables for a process (for example the `aws` CLI or the collector) that talks
 * to moto: moto's fake credentials (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` both
 * `testing`), the region `us-east-1` as both `AWS_REGION` (the JavaScript SDK) and
 * `AWS_DEFAULT_REGION` (aws CLI v1 reads only this one), and for an HTTPS endpoint
 * `AWS_CA_BUNDLE` naming the test CA (for a plain HTTP one it is cleared, so the machine's own
 * setting cannot leak in). The endpoint itself is deliberately not included (no
 * `AWS_ENDPOINT_URL`), so a test still proves that the endpoint it configured is the one used.
 */
export function motoEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_CA_BUNDLE: motoCa(endpoint)?.path ?? "",
  };
}

const apiClients = new Map<string, Deno.HttpClient>();

/**
 * `fetch` of a path of moto's own API (`/moto-api/...`) at `endpoint`, trusting its CA. The
 * test process keeps one HTTP client per CA; nothing to close.
 */
export function motoFetch(endpoint: string, path: string, init: RequestInit = {}) {
  const ca = motoCa(endpoint);
  let client: Deno.HttpClient | undefined;
  if (ca) {
    client = apiClients.get(ca.pem);
    if (!client) apiClients.set(ca.pem, client = Deno.createHttpClient({ caCerts: [ca.pem] }));
  }
  return fetch(`${endpoint}${path}`, { ...init, ...(client ? { client } : {}) });
}

/** A request handler for SDK clients in the test process that trusts moto's CA. */
export function motoHandler(endpoint: string, service: "sqs" | "s3" | "sts" = "sts"): FetchHandler {
  const ca = motoCa(endpoint);
  return new FetchHandler({
    service,
    network: inputNetwork({}, () => undefined),
    ...(ca ? { caPem: ca.pem } : {}),
  });
}
