/**
 * The retry rule every backend shares (the contract's v2 "Retries"): which failures run again,
 * and how long the n-th retry waits.
 * @module
 */
import { type FailureCode, RETRYABLE, type RetryPolicy } from './types.ts';

/** The longest delay a timer can have (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_DELAY_MS = 2_147_483_647;

/** Share of the base delay added at most as jitter, so retries of a burst spread out. */
const JITTER = 0.2;

/** Whether a failure of the `attempt`-th run (from 1) is run again under `policy`. */
export const shouldRetry = (code: FailureCode, attempt: number, policy: RetryPolicy): boolean =>
  attempt < policy.attempts && RETRYABLE.has(code);

/**
 * How long the `retry`-th retry (from 1) waits: `backoffMs × 2^(retry-1)`, plus up to 20 %
 * jitter (never less), capped at the longest timer. `random` returns a number in [0, 1).
 */
export const retryDelay = (backoffMs: number, retry: number, random: () => number): number => {
  const base = backoffMs * 2 ** (retry - 1);
  return Math.min(MAX_DELAY_MS, base + Math.floor(random() * JITTER * base));
};
