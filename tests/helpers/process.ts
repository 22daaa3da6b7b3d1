/**
 * A collector process a test can watch and signal mid-run: `main.ts` under the binary's
 * permission set (`-P=seclake`), started in the background with its output collected as it
 * comes, so the test can wait for a log line, send SIGTERM or SIGKILL at a chosen moment, and
 * read the exit code.
 * @module
 */
import { REPO } from "./collector.ts";
import { V8_FLAGS_OPTION } from "../../scripts/compile.ts";

/** How a collector process ended. */
export interface ProcessExit {
  /** Exit code; 128 + signal number when killed by a signal. */
  readonly code: number;
  readonly signal: Deno.Signal | null;
  /** Milliseconds from start to exit. */
  readonly ms: number;
}

/** A running collector process. `await using` kills it (SIGKILL) if it is still running. */
export interface CollectorProcess extends AsyncDisposable {
  readonly pid: number;
  /** Standard error so far (the log). */
  readonly stderr: string;
  /** Standard output so far. */
  readonly stdout: string;
  /** Resolves when the process exited and its output is drained. */
  readonly exited: Promise<ProcessExit>;
  /** Whether it has exited. */
  readonly done: boolean;
  /** Sends `signal`; ignored when the process already exited. */
  kill(signal: Deno.Signal): void;
  /**
   * Resolves with the first match of `pattern` in the log; rejects after `timeoutMs` (default
   * 60000) or when the process exits first, quoting the log's tail.
   */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/** Options for {@link spawnCollector}. */
export interface SpawnOptions {
  env?: Record<string, string>;
  /** SIGKILL after this long, so a hung collector cannot hang the test. Default 120000 ms. */
  timeoutMs?: number;
}

/** Starts `main.ts ARGS` (cwd: the repository root) in the background. */
export function spawnCollector(args: string[], options: SpawnOptions = {}): CollectorProcess {
  const t0 = Date.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=seclake", V8_FLAGS_OPTION, "--quiet", "main.ts", ...args],
    cwd: REPO,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  let stdout = "";
  let done = false;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of listeners) l();
  };
  const drain = async (stream: ReadableStream<Uint8Array>, add: (s: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      add(decoder.decode(chunk, { stream: true }));
      notify();
    }
  };
  const drained = Promise.all([
    drain(child.stderr, (s) => stderr += s),
    drain(child.stdout, (s) => stdout += s),
  ]).catch(() => {});
  const guard = setTimeout(() => signal("SIGKILL"), options.timeoutMs ?? 120_000);
  const exited = (async () => {
    const status = await child.status;
    await drained;
    clearTimeout(guard);
    done = true;
    notify();
    return { code: status.code, signal: status.signal, ms: Date.now() - t0 };
  })();
  function signal(s: Deno.Signal) {
    try {
      child.kill(s);
    } catch {
      // already exited
    }
  }
  const tail = () => stderr.slice(-3000);
  return {
    pid: child.pid,
    get stderr() {
      return stderr;
    },
    get stdout() {
      return stdout;
    },
    exited,
    get done() {
      return done;
    },
    kill: signal,
    waitForLog(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = stderr.match(pattern);
          if (m) return finish(() => resolve(m));
          if (done) {
            finish(() =>
              reject(new Error(`Collector exited before logging ${pattern}:\n${tail()}`))
            );
          }
        };
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(
                new Error(`Collector did not log ${pattern} within ${timeoutMs} ms:\n${tail()}`),
              )
            ),
          timeoutMs,
        );
        const finish = (f: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
    async [Symbol.asyncDispose]() {
      if (!done) signal("SIGKILL");
      await exited;
    },
  };
}

/**
 * Polls `condition` every `intervalMs` (default 100) until it returns true; rejects with
 * `what` after `timeoutMs` (default 60000).
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}
