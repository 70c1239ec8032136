/**
 * What the scaler decides on: a sampling window opened on every pool's busy workers, then each
 * pool read at its end (workers by state, load, how many of its busy workers burned CPU).
 * @module
 */
import type { FunctionPool } from '../pool/pool.ts';
import type { WorkerHandle } from '../pool/worker-handle.ts';
import type { Snapshot } from './pressure.ts';
import type { PoolSample, Samples } from './scaler.ts';

export interface Window {
  trigger: Samples['trigger'];
  base: Snapshot;
  /** Busy time of each worker busy when the window opened. */
  busy: Map<WorkerHandle, number>;
}

/** A worker's busy time in ms where the host measures it. */
export const busyTime = (worker: WorkerHandle): number | undefined => {
  try {
    return worker.worker.busyTimeMs?.();
  } catch {
    return undefined;
  }
};

/** Open a window: note the busy time of every worker busy now. */
export const openWindow = (
  pools: Iterable<FunctionPool>,
  trigger: Samples['trigger'],
  base: Snapshot,
): Window => {
  const busy = new Map<WorkerHandle, number>();
  for (const pool of pools) {
    for (const worker of pool.workers) {
      // Only workers busy for the whole window tell what their tasks do (a start-up or an
      // idle stretch inside the window would blur it).
      if (worker.state !== 'ready' || worker.load === 0) continue;
      const value = busyTime(worker);
      if (value !== undefined) busy.set(worker, value);
    }
  }
  return { trigger, base, busy };
};

/** Read one pool at the end of `window` (`wall` ms long). */
export const samplePool = (
  pool: FunctionPool,
  window: Window,
  wall: number,
  cpuBoundUtilization: number,
): PoolSample => {
  let workers = 0;
  let starting = 0;
  let idle = 0;
  let active = 0;
  let measured: number | undefined;
  let cpuBusy: number | undefined;
  const idleSince: number[] = [];
  for (const worker of pool.workers) {
    // Retiring workers leave with their tasks: the load is what stays.
    if (pool.isRetiring(worker) || worker.state === 'stopping' || worker.state === 'dead') {
      continue;
    }
    active += worker.load;
    workers++;
    if (worker.state === 'starting') starting++;
    else if (worker.load === 0) {
      idle++;
      idleSince.push(worker.idleSince);
    } else {
      const base = window.busy.get(worker);
      const busy = busyTime(worker);
      if (base === undefined || busy === undefined || wall <= 0) continue;
      measured = (measured ?? 0) + 1;
      const utilization = (busy - base) / wall;
      cpuBusy = (cpuBusy ?? 0) + (utilization >= cpuBoundUtilization ? 1 : 0);
    }
  }
  const sample: PoolSample = {
    name: pool.name,
    workers,
    starting,
    idle,
    active,
    queued: pool.waiting,
    minWorkers: pool.config.minWorkers,
    maxWorkers: pool.config.maxWorkers,
    concurrency: pool.config.concurrency,
    avgTaskMs: pool.counters.avgTaskTime,
    idleSince,
  };
  if (measured !== undefined) {
    sample.measured = measured;
    sample.cpuBusy = cpuBusy ?? 0;
  }
  const coldStartMs = pool.counters.lastColdStartMs;
  if (coldStartMs !== undefined) sample.coldStartMs = coldStartMs;
  return sample;
};
