/**
 * The retry rule every backend shares (the contract's v2 "Retries"): which failures run again,
 * and how long the n-th retry waits.
 * @module
 */

import { MAX_TIMER_MS } from '../time/timers.ts';
import { type FailureCode, RETRYABLE, type RetryPolicy } from '../types.ts';

/** Most runs a retry policy allows (the contract's 1-10). */
export const MAX_ATTEMPTS = 10;

/** The first retry's wait when a policy names no `backoffMs`. */
export const DEFAULT_BACKOFF_MS = 1000;

/** One run, no retry: the default policy. */
export const NO_RETRY: RetryPolicy = Object.freeze({ attempts: 1, backoffMs: DEFAULT_BACKOFF_MS });

/**
 * What is wrong with a retry policy a user gave (`{ attempts: 1-10, backoffMs?: 0-2147483647 }`),
 * naming the field under `name`; undefined when it is fine.
 */
export const retryProblem = (value: unknown, name: string): string | undefined => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `${name} must be an object like { "attempts": 3, "backoffMs": 1000 }, got ${show(value)}`;
  }
  for (const key of Object.keys(value)) {
    if (key !== 'attempts' && key !== 'backoffMs') {
      return `${name} has an unknown field ${show(key)}; allowed: attempts, backoffMs`;
    }
  }
  const { attempts, backoffMs } = value as Partial<RetryPolicy>;
  if (
    !Number.isInteger(attempts) ||
    (attempts as number) < 1 ||
    (attempts as number) > MAX_ATTEMPTS
  ) {
    return `${name}.attempts must be an integer from 1 to ${MAX_ATTEMPTS}, got ${show(attempts)}`;
  }
  if (
    backoffMs !== undefined &&
    (!Number.isInteger(backoffMs) || backoffMs < 0 || backoffMs > MAX_TIMER_MS)
  ) {
    return `${name}.backoffMs must be an integer from 0 to ${MAX_TIMER_MS}, got ${show(backoffMs)}`;
  }
  return undefined;
};

/** A checked policy with its defaults filled in. */
export const toRetryPolicy = (value: { attempts: number; backoffMs?: number }): RetryPolicy => ({
  attempts: value.attempts,
  backoffMs: value.backoffMs ?? DEFAULT_BACKOFF_MS,
});

const show = (value: unknown): string =>
  value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));

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
  return Math.min(MAX_TIMER_MS, base + Math.floor(random() * JITTER * base));
};
