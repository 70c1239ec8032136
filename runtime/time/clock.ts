/**
 * Time as the core reads it: the wall clock and one-shot timers. The runtime takes a `Clock`
 * so that tests drive time by hand (`ManualClock`) instead of sleeping.
 * @module
 */

/** A timer handle; opaque to callers. */
export type TimerId = unknown;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
}

/** The host's own clock and timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};
