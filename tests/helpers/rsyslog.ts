/**
 * A real rsyslog (with rsyslog-gnutls) as an independent mutual-TLS syslog receiver for tests,
 * run in the foreground from a private temporary directory with its own configuration.
 * @module
 */
import { join } from "node:path";
import { CLIENT_CN, type TestCerts } from "./certs.ts";
import { delay, freePort, spawnDaemon, waitForPort } from "./_util.ts";

/** A running rsyslogd; stop it with `stop()` or `await using`. */
export interface RsyslogServer extends AsyncDisposable {
  /** The loopback port its TLS syslog input listens on. */
  readonly port: number;
  /** File that receives each message exactly as it arrived (`%rawmsg%`), one per line. */
  readonly outputPath: string;
  /** File that receives rsyslog's own messages (errors, TLS failures), for debugging. */
  readonly errorLogPath: string;
  /** Lines written to `outputPath` so far (no trailing empty line); `[]` before the first. */
  readLines(): Promise<string[]>;
  /** Contents of `errorLogPath` so far; `""` before the first message. */
  readErrors(): Promise<string>;
  /**
   * Resolves with the output lines once at least `n` were written; rejects after `timeoutMs`
   * (default 30000) with the count seen and the tail of rsyslog's own log.
   */
  waitForLines(n: number, timeoutMs?: number): Promise<string[]>;
  /**
   * Terminates rsyslogd (SIGTERM, then SIGKILL after 2 s), waits for it to exit and removes its
   * temporary directory, output included; idempotent.
   */
  stop(): Promise<void>;
}

/** Options for {@link startRsyslogTls}. */
export interface StartRsyslogOptions {
  /** rsyslog's `maxMessageSize`; longer messages are truncated by rsyslog. Default `"1m"`. */
  maxMessageSize?: string;
  /** How long to wait for the TLS input to accept connections, in milliseconds. Default 15000. */
  readyTimeoutMs?: number;
}

const RSYSLOGD_CANDIDATES = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd", "/usr/local/sbin/rsyslogd"];

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function findRsyslogd(): Promise<string | undefined> {
  for (const path of RSYSLOGD_CANDIDATES) {
    if (await exists(path)) return path;
  }
  return undefined;
}

async function findGtlsModule(): Promise<string | undefined> {
  const dirs = ["/usr/lib/rsyslog", "/usr/lib64/rsyslog", "/usr/local/lib/rsyslog"];
  try {
    for await (const entry of Deno.readDir("/usr/lib")) {
      if (entry.isDirectory) dirs.push(join("/usr/lib", entry.name, "rsyslog"));
    }
  } catch {
    // no /usr/lib
  }
  for (const dir of dirs) {
    const path = join(dir, "lmnsd_gtls.so");
    if (await exists(path)) return path;
  }
  return undefined;
}

/**
 * Reports whether rsyslog can serve TLS here: `rsyslogd` is installed and the GnuTLS netstream
 * driver module `lmnsd_gtls.so` (package `rsyslog-gnutls`) is found in one of the usual module
 * directories. Tests that need {@link startRsyslogTls} use it as their `ignore` condition.
 */
export async function rsyslogAvailable(): Promise<boolean> {
  return (await findRsyslogd()) !== undefined && (await findGtlsModule()) !== undefined;
}

function config(dir: string, certs: TestCerts, port: number, maxMessageSize: string): string {
  return `# seclake test receiver: mutual TLS syslog on 127.0.0.1:${port}
global(
  maxMessageSize="${maxMessageSize}"
  processInternalMessages="on"
  parser.escapeControlCharactersOnReceive="off"
  workDirectory="${join(dir, "work")}"
  defaultNetstreamDriver="gtls"
  defaultNetstreamDriverCAFile="${certs.caCertPath}"
  defaultNetstreamDriverCertFile="${certs.serverCertPath}"
  defaultNetstreamDriverKeyFile="${certs.serverKeyPath}"
)
module(
  load="imtcp"
  streamDriver.name="gtls"
  streamDriver.mode="1"
  streamDriver.authMode="x509/name"
  permittedPeer=["${CLIENT_CN}"]
)
input(type="imtcp" address="127.0.0.1" port="${port}")

template(name="raw" type="string" string="%rawmsg%\\n")

if $inputname == "imtcp" then {
  action(type="omfile" file="${join(dir, "received.log")}" template="raw")
  stop
}
action(type="omfile" file="${join(dir, "rsyslogd.log")}")
`;
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  }
}

/**
 * Starts `rsyslogd -n -f CONF -i PIDFILE` in the foreground with a configuration of its own (no
 * system configuration) in a fresh temporary directory: an `imtcp` input on a free loopback port
 * using the `gtls` driver in TLS-only mode, trusting the test CA, presenting the server
 * certificate and admitting only peers named `seclake-test-client` (`x509/name`). Each received
 * message is written to `outputPath` exactly as received (`%rawmsg%` plus `\n`); rsyslog's own
 * messages go to `errorLogPath`. Resolves once the port accepts connections; rejects with
 * rsyslog's output when it exits or does not listen in time, having cleaned up.
 */
export async function startRsyslogTls(
  certs: TestCerts,
  options: StartRsyslogOptions = {},
): Promise<RsyslogServer> {
  const rsyslogd = await findRsyslogd();
  if (rsyslogd === undefined) throw new Error("Cannot start rsyslog: rsyslogd is not installed");
  const dir = await Deno.makeTempDir({ prefix: "seclake-rsyslog-" });
  await Deno.mkdir(join(dir, "work"));
  const port = freePort();
  const confPath = join(dir, "rsyslog.conf");
  const outputPath = join(dir, "received.log");
  const errorLogPath = join(dir, "rsyslogd.log");
  await Deno.writeTextFile(confPath, config(dir, certs, port, options.maxMessageSize ?? "1m"));

  const daemon = spawnDaemon(rsyslogd, ["-n", "-f", confPath, "-i", join(dir, "rsyslogd.pid")]);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await daemon.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
    return stopping;
  };

  const readLines = async (): Promise<string[]> => {
    const text = await readOrEmpty(outputPath);
    if (text === "") return [];
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    return lines;
  };
  const readErrors = () => readOrEmpty(errorLogPath);

  try {
    await waitForPort(port, "rsyslogd", {
      timeoutMs: options.readyTimeoutMs ?? 15_000,
      alive: () => !daemon.exited,
    });
  } catch (e) {
    const log = await readErrors().catch(() => "");
    await stop();
    throw new Error(
      `${(e as Error).message}; stderr: ${daemon.stderrTail()}; log: ${
        log.trim().slice(-2000) || "(none)"
      }`,
      { cause: e },
    );
  }

  const waitForLines = async (n: number, timeoutMs = 30_000): Promise<string[]> => {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const lines = await readLines();
      if (lines.length >= n) return lines;
      if (daemon.exited) {
        throw new Error(`rsyslogd exited with ${lines.length} of ${n} lines written`);
      }
      if (Date.now() >= deadline) {
        const log = (await readErrors()).trim().slice(-2000) || "(empty)";
        throw new Error(
          `rsyslogd wrote ${lines.length} of ${n} lines within ${timeoutMs} ms; its log: ${log}`,
        );
      }
      await delay(50);
    }
  };

  return {
    port,
    outputPath,
    errorLogPath,
    readLines,
    readErrors,
    waitForLines,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
