/**
 * What one function's pool has counted: runs ended by outcome, run times (their mean for stats
 * and a moving average that sizes batches), and cold starts.
 * @module
 */
import { nextRecentTaskMs } from './batching.ts';

export class PoolCounters {
  #completed = 0;
  #failed = 0;
  #cancelled = 0;
  #runTimeTotal = 0;
  #runTimeCount = 0;
  #recentTaskMs: number | undefined;
  #coldStarts = 0;
  #lastColdStartMs: number | undefined;

  get completed(): number {
    return this.#completed;
  }
  /** Failed runs, retried ones included. */
  get failed(): number {
    return this.#failed;
  }
  get cancelled(): number {
    return this.#cancelled;
  }
  get coldStarts(): number {
    return this.#coldStarts;
  }
  get lastColdStartMs(): number | undefined {
    return this.#lastColdStartMs;
  }
  /** Mean run time of finished runs in ms (0 before the first). */
  get avgTaskTime(): number {
    return this.#runTimeCount === 0 ? 0 : this.#runTimeTotal / this.#runTimeCount;
  }
  /** Moving average of one run's time in the worker, for batch sizing (unknown after a timeout). */
  get recentTaskMs(): number | undefined {
    return this.#recentTaskMs;
  }

  /** A run the worker finished (with a result or a throw), `ms` long. */
  ran(ms: number): void {
    this.#runTimeTotal += ms;
    this.#runTimeCount++;
    this.#recentTaskMs = nextRecentTaskMs(this.#recentTaskMs, ms);
  }

  /** A run overstayed its timeout: what short tasks taught batching no longer holds. */
  timedOut(): void {
    this.#recentTaskMs = undefined;
  }

  ended(status: 'completed' | 'failed'): void {
    if (status === 'completed') this.#completed++;
    else this.#failed++;
  }

  /** The backend dropped an ending counted here: the task was cancelled meanwhile. */
  dropped(status: 'completed' | 'failed'): void {
    if (status === 'completed') this.#completed--;
    else this.#failed--;
  }

  cancelledOne(): void {
    this.#cancelled++;
  }

  /** Take over what an earlier version of the function counted (a deploy keeps the totals). */
  carryOver(earlier: PoolCounters): void {
    this.#completed += earlier.#completed;
    this.#failed += earlier.#failed;
    this.#cancelled += earlier.#cancelled;
    this.#runTimeTotal += earlier.#runTimeTotal;
    this.#runTimeCount += earlier.#runTimeCount;
  }

  coldStart(ms: number): void {
    this.#coldStarts++;
    this.#lastColdStartMs = ms;
  }
}
