import { StoreError } from "./errors.ts";

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseMs: number;
  readonly maxBackoffMs: number;
  /** Called before each sleep, for the progress log. */
  readonly onRetry?: (err: StoreError, attempt: number, sleepMs: number) => void;
}

/** Full-jitter exponential backoff (AWS architecture blog): sleep U(0, min(cap, base·2^n)). */
export function backoffMs(
  attempt: number,
  baseMs: number,
  capMs: number,
  rand = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (rand() * ceiling) / 2);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Run `fn` until it succeeds, a non-retryable StoreError is thrown, or attempts run out.
 * Only StoreErrors marked retryable (5xx, throttling, resets, short reads) are retried;
 * anything else is a bug or bad input and surfaces at once.
 */
export async function withRetry<T>(policy: RetryPolicy, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof StoreError) || !err.retryable || attempt >= policy.maxAttempts)
        throw err;
      const ms = backoffMs(attempt - 1, policy.baseMs, policy.maxBackoffMs);
      policy.onRetry?.(err, attempt, ms);
      await sleep(ms);
    }
  }
}
