/**
 * The readings `stats()` shows: the process's CPU, memory and event loop, and each pool's mean
 * worker utilization, each over a window of one to two seconds (two marks kept at least a
 * second apart), so a reading never depends on how often someone asks.
 * @module
 */
import type { FunctionPool } from '../pool/pool.ts';
import type { WorkerHandle } from '../pool/worker-handle.ts';
import type { PressureGauge, Readings, Snapshot } from '../scaling/pressure.ts';
import { busyTime } from '../scaling/sampling.ts';
import type { Clock } from '../time/clock.ts';

/** Stats readings are taken over windows of at least this long. */
const STATS_WINDOW_MS = 1000;

interface Mark {
  at: number;
  busy: number;
}

export class StatsWindow {
  #gauge: PressureGauge;
  #clock: Clock;
  #base: [Snapshot, Snapshot] | undefined;
  #marks = new WeakMap<WorkerHandle, [Mark, Mark]>();

  /** The process's readings are windows of the gauge's own (real) time, as its CPU time is;
   * each worker's marks are on the runtime's clock, which its spawn time was read from. */
  constructor(gauge: PressureGauge, clock: Clock) {
    this.#gauge = gauge;
    this.#clock = clock;
  }

  /** Start the window now (at start-up). */
  start(): void {
    const base = this.#gauge.snapshot();
    this.#base = [base, base];
  }

  /** CPU, memory and event loop of the process, over the last second or so. */
  readings(): Readings {
    const now = this.#gauge.snapshot();
    this.#base = roll(this.#base, now, (s) => s.at);
    return this.#gauge.since(this.#base[0], now);
  }

  /** Mean event-loop utilization of a pool's ready workers over the last second or so. */
  utilization(pool: FunctionPool): number | undefined {
    let sum = 0;
    let n = 0;
    const at = this.#clock.now();
    for (const worker of pool.workers) {
      const busy = worker.state === 'ready' ? busyTime(worker) : undefined;
      if (busy === undefined) continue;
      // A worker's busy time counts from its spawn: its first reading needs no earlier mark.
      const first = { at: worker.spawnedAt, busy: 0 };
      const marks = roll(this.#marks.get(worker) ?? [first, first], { at, busy }, (m) => m.at);
      this.#marks.set(worker, marks);
      const wall = at - marks[0].at;
      if (wall <= 0) continue;
      sum += Math.min(1, (busy - marks[0].busy) / wall);
      n++;
    }
    return n === 0 ? undefined : sum / n;
  }
}

/** Keep two readings at least STATS_WINDOW_MS apart, so a window is 1-2 s long. */
const roll = <T>(pair: [T, T] | undefined, now: T, at: (t: T) => number): [T, T] => {
  if (!pair) return [now, now];
  if (at(now) - at(pair[1]) >= STATS_WINDOW_MS) return [pair[1], now];
  return pair;
};
