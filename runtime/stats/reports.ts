/**
 * What `functions()`, `getFunction()` and `stats()` answer, read from the pools, the scaling
 * monitor's decisions and pressure gauge, and the readings window this owns (stats-window.ts).
 * @module
 */

import type { ResolvedOptions } from '../options.ts';
import type { FunctionPool } from '../pool/pool.ts';
import type { ScalingMonitor } from '../scaling/monitor.ts';
import type { FunctionInfo, FunctionStats, PoolStats } from '../types.ts';
import { StatsWindow } from './stats-window.ts';

export const functionInfo = (pool: FunctionPool): FunctionInfo => {
  const info: FunctionInfo = {
    name: pool.name,
    status: pool.status,
    ...pool.config,
    activeWorkers: pool.workerCount,
    queueSize: pool.queueSize,
    activeTasks: pool.activeTasks,
  };
  if (pool.error !== undefined) info.error = pool.error;
  const exports = pool.exports;
  if (exports) info.exports = { default: exports.default, fetch: exports.fetch };
  return info;
};

/** One pool's counters and gauges. */
export const functionStats = (pool: FunctionPool): FunctionStats => {
  const c = pool.counters;
  const stats: FunctionStats = {
    activeWorkers: pool.workerCount,
    queueSize: pool.queueSize,
    activeTasks: pool.activeTasks,
    minWorkers: pool.config.minWorkers,
    maxWorkers: pool.config.maxWorkers,
    tasksCompleted: c.completed,
    tasksFailed: c.failed,
    tasksCancelled: c.cancelled,
    avgTaskTime: c.avgTaskTime,
    coldStarts: c.coldStarts,
    loadRatio: loadRatio(pool),
  };
  if (c.lastColdStartMs !== undefined) stats.lastColdStartMs = c.lastColdStartMs;
  return stats;
};

// (active + waiting) / (workers × concurrency); with no worker (scaled to zero, or starting from
// zero) what one worker would carry.
const loadRatio = (pool: FunctionPool): number => {
  const { concurrency } = pool.config;
  const capacity = pool.workerCount * concurrency;
  const ratio = (pool.activeTasks + pool.waiting) / (capacity || concurrency);
  return Math.round(ratio * 100) / 100;
};

/** `stats()`: every pool's counters and gauges, and the process's readings over the window. */
export class StatsReports {
  #window: StatsWindow;
  #monitor: ScalingMonitor;
  #o: ResolvedOptions;

  constructor(monitor: ScalingMonitor, o: ResolvedOptions) {
    this.#monitor = monitor;
    this.#o = o;
    this.#window = new StatsWindow(monitor.gauge, o.clock);
  }

  /** Open the readings window (at start-up). */
  start(): void {
    this.#window.start();
  }

  stats(pools: Iterable<FunctionPool>): PoolStats {
    const functions: Record<string, FunctionStats> = {};
    let activeWorkers = 0;
    let queueSize = 0;
    let activeTasks = 0;
    let completed = 0;
    let failed = 0;
    let weightedTime = 0;
    for (const pool of pools) {
      const s = functionStats(pool);
      const utilization = this.#window.utilization(pool);
      if (utilization !== undefined) s.eventLoopUtilization = utilization;
      functions[pool.name] = s;
      activeWorkers += s.activeWorkers;
      queueSize += s.queueSize;
      activeTasks += s.activeTasks;
      completed += s.tasksCompleted;
      failed += s.tasksFailed;
      weightedTime += s.avgTaskTime * (s.tasksCompleted + s.tasksFailed);
    }
    const finished = completed + failed;
    const pressure = this.#window.readings();
    return {
      activeWorkers,
      queueSize,
      activeTasks,
      minWorkers: this.#o.minWorkers,
      maxWorkers: this.#o.maxWorkers,
      performanceMetrics: {
        tasksCompleted: completed,
        tasksFailed: failed,
        avgTaskTime: finished === 0 ? 0 : weightedTime / finished,
        cpuUsage: percent(pressure.cpu),
        memoryUsage: percent(pressure.memory),
        eventLoopUtilization: pressure.elu ?? 0,
        eventLoopLagMs: Math.round(pressure.lagMs * 10) / 10,
      },
      functions,
      scalingEvents: this.#monitor.events(),
    };
  }
}

/** A 0-1 share as 0-100 with one decimal; 0 where the host cannot measure it. */
const percent = (share: number | undefined): number =>
  share === undefined ? 0 : Math.round(share * 1000) / 10;
