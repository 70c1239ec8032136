/**
 * Sharing the worker ceiling outside the scaler's evaluations: warm minimums dealt while there
 * is room, and room found at once for a function that has work and no worker at all. (The
 * scaler's own share rules, idle workers taken for a loaded pool included, are in scaler.ts.)
 * @module
 */

import type { FunctionPool } from '../pool/pool.ts';
import type { WorkerHandle } from '../pool/worker-handle.ts';
import type { Clock } from '../time/clock.ts';
import { unrefTimer } from '../time/timers.ts';
import type { WorkerBudget } from './budget.ts';

/** How soon a pool that found no worker to take looks again. */
const RECLAIM_RETRY_MS = 50;

/**
 * Deal warm workers round-robin in name order, one per function per round, until each has its
 * minimum or the ceiling is reached: when the minimums together pass the ceiling, every function
 * gets some before any gets many. Minimums are warm targets only while there is room: nothing is
 * dealt while some pool has queued work it could grow into.
 */
export const warm = (pools: Iterable<FunctionPool>, budget: WorkerBudget): void => {
  const all = [...pools];
  if (all.some((pool) => pool.wantsRoom)) return;
  let grew = true;
  while (grew && budget.available > 0) {
    grew = false;
    for (const pool of all) {
      if (pool.workerCount < pool.config.minWorkers && pool.grow(1) > 0) grew = true;
    }
  }
};

/**
 * `pool` has work, no worker and the budget is spent: the longest idle worker of any other pool
 * stops at once (even below that pool's minimum); with none idle, a worker of the biggest pool
 * retires once its tasks end. When every other worker is still starting, none can go yet: look
 * again shortly, or the pool's queued tasks would wait for ever.
 */
export const reclaimFor = (
  pool: FunctionPool,
  pools: Iterable<FunctionPool>,
  budget: WorkerBudget,
  clock: Clock,
): void => {
  const donors = [...pools]
    .filter((other) => other !== pool && other.workerCount > 0)
    .sort((a, b) => b.workerCount - a.workerCount);
  if (donors.length === 0) return;
  budget.onRoom(() => pool.wake());
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
  unrefTimer(clock.setTimeout(() => pool.wake(), RECLAIM_RETRY_MS));
};
