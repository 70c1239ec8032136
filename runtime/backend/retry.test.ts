import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS } from '../time/timers.ts';
import { retryDelay, shouldRetry } from './retry.ts';

describe('retryDelay', () => {
  it('Should double from backoffMs with each retry, with no jitter at random 0', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(100, n, () => 0))).toEqual([100, 200, 400, 800]);
  });

  it('Should add less than 20 % jitter, never subtract', () => {
    expect(retryDelay(1000, 1, () => 0.999999)).toBe(1199);
    expect(retryDelay(1000, 2, () => 0.5)).toBe(2200);
  });

  it('Should stop at the longest timer', () => {
    expect(retryDelay(2_000_000_000, 9, () => 0.9)).toBe(MAX_TIMER_MS);
  });
});

describe('shouldRetry', () => {
  const policy = { attempts: 3, backoffMs: 10 };
  it('Should retry the failures that may pass next time while attempts are left', () => {
    expect(shouldRetry('function_threw', 1, policy)).toBe(true);
    expect(shouldRetry('timed_out', 2, policy)).toBe(true);
    expect(shouldRetry('worker_exited', 3, policy)).toBe(false);
    expect(shouldRetry('load_failed', 1, policy)).toBe(false);
    expect(shouldRetry('shutdown', 1, policy)).toBe(false);
  });
});
