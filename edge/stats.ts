/**
 * `/stats` at the edge, from the shards' counts: real queue, running and outcome figures per
 * function and in total, and the fields that do not apply here (workers, scaling, pressure)
 * marked as such instead of invented.
 * @module
 */
import type { FunctionStats, PoolStats, ResolvedFunctionConfig } from '../runtime/types.ts';
import type { ShardCosts } from './costs.ts';
import type { EdgeDefaults } from './env.ts';
import { noOutcomes } from './outcome-table.ts';
import type { ShardCounts } from './task-object.ts';

/** What `/stats` says about workers at the edge, where the platform runs and scales isolates. */
export const WORKERS_NOTE =
  'Cloudflare Workers runs each function in isolates that the platform starts, places and scales; ebbflow keeps no worker pools here, so worker counts read 0. maxWorkers × concurrency is how many tasks of a function run at once, over all task shards.';

/** Pool readings that workerd does not expose (no CPU, memory or event-loop figures). */
const UNMEASURED = ['cpuUsage', 'memoryUsage', 'eventLoopUtilization', 'eventLoopLagMs'];

export interface EdgeStats extends PoolStats {
  platform: 'workers';
  workers: string;
  shards: number;
  /** What the shards' work cost so far: object calls by name and SQL statements (`costs.ts`). */
  costs: ShardCosts;
  performanceMetrics: PoolStats['performanceMetrics'] & { unmeasured: string[] };
}

/** Every shard's counts added up, per function. */
export const mergeCounts = (shards: ShardCounts[]): ShardCounts => {
  const merged: ShardCounts = {};
  for (const counts of shards) {
    for (const [fn, c] of Object.entries(counts)) {
      const m = merged[fn] ?? { queued: 0, running: 0, ...noOutcomes() };
      merged[fn] = m;
      m.queued += c.queued;
      m.running += c.running;
      m.completed += c.completed;
      m.failed += c.failed;
      m.timedOut += c.timedOut;
      m.cancelled += c.cancelled;
      m.runMs += c.runMs;
      m.runs += c.runs;
      c.buckets.forEach((n, i) => {
        m.buckets[i] = (m.buckets[i] ?? 0) + n;
      });
    }
  }
  return merged;
};

/** The PoolStats shape for the functions listed in `configs` (in that order). */
export const edgeStats = (
  configs: ReadonlyMap<string, ResolvedFunctionConfig>,
  counts: ShardCounts,
  defaults: EdgeDefaults,
  shards: number,
  costs: ShardCosts = { calls: {}, statements: 0 },
): EdgeStats => {
  const functions: Record<string, FunctionStats> = {};
  let queueSize = 0;
  let activeTasks = 0;
  let completed = 0;
  let failed = 0;
  let runMs = 0;
  let runs = 0;
  for (const [name, config] of configs) {
    const c = counts[name] ?? { queued: 0, running: 0, ...noOutcomes() };
    // Timeouts count as failures, as on every host.
    const fails = c.failed + c.timedOut;
    functions[name] = {
      activeWorkers: 0,
      queueSize: c.queued,
      activeTasks: c.running,
      minWorkers: config.minWorkers,
      maxWorkers: config.maxWorkers,
      tasksCompleted: c.completed,
      tasksFailed: fails,
      tasksCancelled: c.cancelled,
      avgTaskTime: c.runs > 0 ? c.runMs / c.runs : 0,
      coldStarts: 0,
      loadRatio: 0,
    };
    queueSize += c.queued;
    activeTasks += c.running;
    completed += c.completed;
    failed += fails;
    runMs += c.runMs;
    runs += c.runs;
  }
  return {
    platform: 'workers',
    workers: WORKERS_NOTE,
    shards,
    costs,
    activeWorkers: 0,
    queueSize,
    activeTasks,
    minWorkers: defaults.minWorkers,
    maxWorkers: defaults.maxWorkers,
    performanceMetrics: {
      tasksCompleted: completed,
      tasksFailed: failed,
      avgTaskTime: runs > 0 ? runMs / runs : 0,
      cpuUsage: 0,
      memoryUsage: 0,
      eventLoopUtilization: 0,
      eventLoopLagMs: 0,
      unmeasured: UNMEASURED,
    },
    functions,
    scalingEvents: [],
  };
};
