/**
 * Start-up policy: which AWS refusals are worth waiting out, and for how long.
 *
 * A subscriber created minutes ago may be refused while IAM propagates its role, trust policy or
 * access key: AWS then says the credentials are invalid, the role cannot be assumed, or access is
 * denied. At start-up only, those refusals are tried again with a growing pause (2, 4, 8, 16,
 * then every 30 seconds) for at most `startup_auth_wait_seconds`; each pause is logged. Any other
 * error, or a refusal still there at the end, is thrown as it was.
 * @module
 */
import { sleep } from "../async.ts";
import { CollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";

/** Refusals that IAM propagation explains. */
const PROPAGATION: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "AWS_AUTH",
  "ASSUME_ROLE_FAILED",
  "SQS_FORBIDDEN",
  "S3_FORBIDDEN",
]);

/** Options for {@link waitOutPropagation}. */
export interface StartupRetryOptions {
  /** The longest time spent waiting, in milliseconds; 0 tries once. */
  budgetMs: number;
  /** Told before each pause: the error, the pause and when waiting ends. */
  onWait?: (error: CollectorError, pauseMs: number, until: Date) => void;
  signal?: AbortSignal;
  /** The clock (tests). Default `Date.now`. */
  now?: () => number;
  /** The first pause; each next one doubles, up to 30 s. Default 2,000 ms. */
  firstPauseMs?: number;
}

/** Whether `e` is a refusal IAM propagation can explain. */
export function isPropagationError(e: unknown): e is CollectorError {
  return e instanceof CollectorError && PROPAGATION.has(e.code);
}

/** Runs `fn`, trying it again while it fails with a propagation refusal (see the module). */
export async function waitOutPropagation<T>(
  fn: () => Promise<T>,
  options: StartupRetryOptions,
): Promise<T> {
  const now = options.now ?? Date.now;
  const end = now() + options.budgetMs;
  for (let attempt = 0;; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const pause = Math.min(30_000, (options.firstPauseMs ?? 2_000) * 2 ** attempt);
      if (!isPropagationError(e) || options.signal?.aborted || now() + pause > end) throw e;
      options.onWait?.(e, pause, new Date(end));
      await sleep(pause, options.signal);
      if (options.signal?.aborted) throw e;
    }
  }
}
