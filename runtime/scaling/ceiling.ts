/**
 * The worker ceiling as pools see it: every pool takes its room here (a lease from budget.ts) and
 * says here when work waits or a worker is gone; this object decides who gets room outside the
 * scaler's evaluations. Warm minimums are dealt while there is room, a function with work and no
 * worker at all gets room at once (another's worker retires for it), and room a worker gave back
 * goes to queued work first, then to minimums. (The scaler's own share rules, idle workers taken
 * for a loaded pool included, are in scaler.ts; monitor.ts applies them.)
 * @module
 */

import type { Lease } from '../pool/lease.ts';
import type { Ceiling, FunctionPool } from '../pool/pool.ts';
import type { WorkerHandle } from '../pool/worker-handle.ts';
import type { Clock } from '../time/clock.ts';
import { unrefTimer } from '../time/timers.ts';
import { type RoomTaker, WorkerBudget } from './budget.ts';

/** How soon a pool that found no worker to take looks again. */
const RECLAIM_RETRY_MS = 50;

/** The pools room is shared among (the registry's). */
export interface PoolView {
  /** The current pool of each function, by name, placeholders of functions still loading left out. */
  serving(): FunctionPool[];
  /** Every pool that holds workers or tasks: the current ones and ended versions still finishing. */
  all(): Iterable<FunctionPool>;
}

const NO_POOLS: PoolView = { serving: () => [], all: () => [] };

export class WorkerCeiling implements Ceiling {
  #budget: WorkerBudget;
  #clock: Clock;
  #pools: PoolView = NO_POOLS;
  #draining = false;
  #backlog: () => void = () => {};

  constructor(max: number, clock: Clock) {
    this.#budget = new WorkerBudget(max);
    this.#clock = clock;
  }

  /** The pools to share room among, given once by whoever owns them (the runtime, at start). */
  shareAmong(pools: PoolView): void {
    this.#pools = pools;
  }

  /** Who is told when work waits for a worker (the monitor, to evaluate before its tick). */
  onBacklog(listener: () => void): void {
    this.#backlog = listener;
  }

  get max(): number {
    return this.#budget.max;
  }

  get used(): number {
    return this.#budget.used;
  }

  lease(): Lease | undefined {
    return this.#budget.tryAcquire();
  }

  /** Be handed the next room a worker gives back, after those who asked before (budget.ts). */
  whenRoom(taker: RoomTaker): void {
    this.#budget.whenRoom(taker);
  }

  backlog(): void {
    this.#backlog();
  }

  /** The runtime drains: minimums are no longer dealt (queued work still gets room). */
  drain(): void {
    this.#draining = true;
  }

  /**
   * Deal warm workers round-robin in name order, one per function per round, until each has its
   * minimum or the ceiling is reached: when the minimums together pass the ceiling, every
   * function gets some before any gets many. Minimums are warm targets only while there is room:
   * nothing is dealt while some pool (an ended version still finishing what it accepted
   * included) has queued work it could grow into.
   */
  warm(): void {
    if (this.#draining) return;
    for (const pool of this.#pools.all()) if (pool.wantsRoom) return;
    const pools = this.#pools.serving();
    let grew = true;
    while (grew && this.#budget.available > 0) {
      grew = false;
      for (const pool of pools) {
        if (pool.workerCount < pool.config.minWorkers && pool.grow(1) > 0) grew = true;
      }
    }
  }

  /**
   * A worker is gone and its room is back. It goes first to a current version with work and no
   * worker (the scaler may be holding, and no donor was there to take room from); then
   * minimums the ceiling held back, or a reclaim took, are met again.
   */
  workerGone(): void {
    for (const pool of this.#pools.serving()) {
      if (pool.workerCount === 0 && pool.waiting > 0) pool.wake();
    }
    this.warm();
  }

  /**
   * `pool` has work, no worker and the ceiling is reached: the longest idle worker of any other
   * pool stops at once (even below that pool's minimum); with none idle, a worker of the biggest
   * pool retires once its tasks end. Either way its room comes to `pool`. When every other
   * worker is still starting, none can go yet: look again shortly, or the pool's queued tasks
   * would wait for ever.
   */
  reclaim(pool: FunctionPool): void {
    const donors = this.#pools
      .serving()
      .filter((other) => other !== pool && other.workerCount > 0)
      .sort((a, b) => b.workerCount - a.workerCount);
    if (donors.length === 0) return;
    this.#budget.whenRoom((lease) => {
      if (pool.workerCount === 0 && pool.waiting > 0 && pool.growOn(lease)) return;
      // It found a worker meanwhile, or has nothing left to run: the room goes on.
      lease.release();
      pool.wake();
    });
    let idlest: WorkerHandle | undefined;
    for (const donor of donors) {
      const idle = donor.longestIdle();
      if (idle && (!idlest || idle.idleSince < idlest.idleSince)) idlest = idle;
    }
    if (idlest) {
      void idlest.stop('the worker was retired to make room for queued work of another function');
      return;
    }
    for (const donor of donors) if (donor.retire(1, 0) > 0) return;
    unrefTimer(this.#clock.setTimeout(() => pool.wake(), RECLAIM_RETRY_MS));
  }
}
