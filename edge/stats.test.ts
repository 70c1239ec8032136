import { describe, expect, it } from 'vitest';
import { noOutcomes } from './outcome-table.ts';
import { edgeStats, mergeCounts, WORKERS_NOTE } from './stats.ts';

const config = {
  minWorkers: 1,
  maxWorkers: 4,
  timeoutMs: 30_000,
  maxQueue: 100,
  concurrency: 2,
  memoryLimitMb: 512,
  retry: { attempts: 1, backoffMs: 0 },
};
const defaults = {
  minWorkers: 2,
  maxWorkers: 20,
  taskTimeoutMs: 30_000,
  maxQueue: 10_000,
  memoryLimitMb: 512,
  resultTtlMs: 3_600_000,
  maxResults: 100_000,
  maxResultBytes: 4_194_304,
  idempotencyTtlMs: 86_400_000,
};

describe('edge stats', () => {
  it('Should add up the shards, histogram buckets included', () => {
    const a = {
      echo: { queued: 1, running: 2, ...noOutcomes(), completed: 3, runMs: 30, runs: 3 },
    };
    a.echo.buckets[0] = 3;
    const b = { echo: { queued: 4, running: 0, ...noOutcomes(), timedOut: 1, runMs: 10, runs: 1 } };
    b.echo.buckets[0] = 1;
    const merged = mergeCounts([a, b, {}]);
    expect(merged.echo).toMatchObject({ queued: 5, running: 2, completed: 3, timedOut: 1 });
    expect(merged.echo?.runMs).toBe(40);
    expect(merged.echo?.buckets[0]).toBe(4);
    // The inputs are left as they were.
    expect(a.echo.queued).toBe(1);
  });

  it('Should count timeouts as failures and say that workers do not apply', () => {
    const counts = {
      echo: { queued: 2, running: 1, ...noOutcomes(), completed: 6, failed: 1, timedOut: 1 },
    };
    counts.echo.runMs = 80;
    counts.echo.runs = 8;
    const stats = edgeStats(
      new Map([
        ['echo', config],
        ['idle', config],
      ]),
      counts,
      defaults,
      8,
    );
    expect(stats).toMatchObject({
      platform: 'workers',
      workers: WORKERS_NOTE,
      shards: 8,
      activeWorkers: 0,
      queueSize: 2,
      activeTasks: 1,
      minWorkers: 2,
      maxWorkers: 20,
      scalingEvents: [],
    });
    expect(stats.functions.echo).toMatchObject({
      tasksCompleted: 6,
      tasksFailed: 2,
      avgTaskTime: 10,
      maxWorkers: 4,
      activeWorkers: 0,
    });
    expect(stats.functions.idle).toMatchObject({ tasksCompleted: 0, avgTaskTime: 0, queueSize: 0 });
    expect(stats.performanceMetrics).toMatchObject({ tasksCompleted: 6, tasksFailed: 2 });
    expect(stats.performanceMetrics.unmeasured).toContain('cpuUsage');
  });
});
