/**
 * Time and timers for the in-memory backend, injectable so tests drive them without sleeping.
 * @module
 */
import { type Clock, systemClock } from '../../time/clock.ts';
import { MAX_TIMER_MS, unrefTimer } from '../../time/timers.ts';

/** The core's `Clock` (a `ManualClock` passes), plus what lets a retry timer not hold the process. */
export interface BackendClock extends Clock {
  /** Let a background timer not keep the process alive (real timers only). */
  unref?(timer: unknown): void;
}

export const REAL_CLOCK: BackendClock = { ...systemClock, unref: unrefTimer };

/**
 * Call `fn` after `ms` (any length: timers stop at 2^31 - 1 ms, so a longer one is armed in
 * steps). Returns what cancels it.
 */
export const after = (clock: BackendClock, ms: number, fn: () => void): (() => void) => {
  let timer: unknown;
  const arm = (left: number) => {
    timer = clock.setTimeout(
      () => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()),
      Math.min(left, MAX_TIMER_MS),
    );
  };
  arm(ms);
  return () => clock.clearTimeout(timer);
};
