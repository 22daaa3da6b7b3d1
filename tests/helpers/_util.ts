/**
 * Private helpers shared by the test-server helpers: free loopback ports, waiting for a port,
 * and a spawned daemon that can be stopped reliably.
 * @module
 */

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago: it binds a listener to port 0,
 * reads the port the operating system assigned, and closes the listener. Another process can
 * take the port between this call and the caller's bind, so callers that spawn a server on it
 * must fail clearly (not hang) when the server cannot bind.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}

/**
 * Resolves once a TCP connection to `127.0.0.1:port` succeeds, retrying every 50 ms, and
 * rejects with an `Error` naming `what` and the port when `timeoutMs` (default 30000) passes
 * first or when `alive()` reports that the server process already exited. Each probe
 * connection is closed at once.
 */
export async function waitForPort(
  port: number,
  what: string,
  options: { timeoutMs?: number; alive?: () => boolean } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (options.alive && !options.alive()) {
      throw new Error(`${what} exited before accepting connections on port ${port}`);
    }
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      // not listening yet
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what} did not accept connections on port ${port} within ${timeoutMs} ms`);
    }
    await delay(50);
  }
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A spawned long-running process whose stdout is discarded and stderr tail is kept. */
export interface Daemon {
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** The last 4000 characters the process wrote to stderr, trimmed (`"(no output)"` if none). */
  stderrTail(): string;
  /**
   * Sends SIGTERM, then SIGKILL if it is still running after `graceMs` (default 2000), and
   * resolves once it exited and its stderr pipe is drained; idempotent.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns `command args` with stdin and stdout bound to `/dev/null` and stderr drained in the
 * background into a bounded tail, so the child can never block on a full pipe and no resource
 * outlives `stop()`.
 */
export function spawnDaemon(command: string, args: string[]): Daemon {
  const child = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let tail = "";
  const drained = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4000);
    }
  })().catch(() => {});
  let exited = false;
  const status = child.status.then(() => {
    exited = true;
  });
  let stopping: Promise<void> | undefined;
  return {
    get exited() {
      return exited;
    },
    stderrTail: () => tail.trim() || "(no output)",
    stop(graceMs = 2_000) {
      stopping ??= (async () => {
        if (!exited) {
          signal(child, "SIGTERM");
          let timer: ReturnType<typeof setTimeout> | undefined;
          const grace = new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              signal(child, "SIGKILL");
              resolve();
            }, graceMs);
          });
          await Promise.race([status, grace]);
          clearTimeout(timer);
        }
        await status;
        await drained;
      })();
      return stopping;
    },
  };
}

function signal(child: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    child.kill(sig);
  } catch {
    // already exited
  }
}
