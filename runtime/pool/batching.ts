/**
 * How many tasks go to a worker at once: the pool's batch sizing as pure functions, so the rule
 * is tested without threads. Short tasks travel in batches of about `BATCH_TARGET_MS` of work, so
 * a worker is never starved by message latency; long ones go one per free concurrency slot, so
 * load stays balanced across workers.
 * @module
 */

/** Aim for about this much work (ms) per batch sent to a worker when tasks are short. */
export const BATCH_TARGET_MS = 1;

/** Weight of the newest run time in the moving average that sizes batches. */
const RECENT_WEIGHT = 0.1;

/** The moving average of one task's run time, given the next measured one. */
export const nextRecentTaskMs = (recent: number | undefined, measured: number): number =>
  recent === undefined ? measured : recent * (1 - RECENT_WEIGHT) + measured * RECENT_WEIGHT;

/** Tasks per message to one worker. `maxSlots` is how many a worker can hold in flight. */
export const batchLimit = (
  recentTaskMs: number | undefined,
  concurrency: number,
  maxSlots: number,
): number => {
  if (recentTaskMs === undefined || recentTaskMs >= BATCH_TARGET_MS) return concurrency;
  const batch = Math.floor(BATCH_TARGET_MS / Math.max(recentTaskMs, 0.01));
  return Math.max(concurrency, Math.min(batch, maxSlots / 2));
};

/** Tasks in flight per worker: two batches when batching (one runs while one travels). */
export const inflightWindow = (limit: number, concurrency: number, maxSlots: number): number =>
  limit > concurrency ? Math.min(2 * limit, maxSlots) : concurrency;
