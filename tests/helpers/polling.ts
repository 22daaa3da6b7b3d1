/**
 * Small helpers for tests that watch a running collector: waiting for a condition, and reading
 * one sample from a Prometheus text page.
 * @module
 */

/**
 * Resolves once `ok()` holds, asking every 200 ms; rejects naming `what` when `timeoutMs` passes
 * first.
 */
export async function until(
  what: string,
  ok: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The value of the sample `name` (with its labels, as written) in Prometheus text; 0 if absent. */
export function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  if (!line) return 0;
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}
