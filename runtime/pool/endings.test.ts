/**
 * The server's own bounds on what a worker reports: whatever a worker sends (a function that got
 * around the worker's checks, or a worker that lies), the ending the backend keeps has its error
 * cut and its logs bounded as the worker would have.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../time/manual-clock.ts';
import type { TaskEnding } from '../types.ts';
import { MAX_ERROR_CHARS } from '../worker/bounds.ts';
import { PoolCounters } from './counters.ts';
import { TaskEndings } from './endings.ts';
import { Task } from './task.ts';

const endingsKeeping = (cancelledMeanwhile = false) => {
  const kept = new Map<string, TaskEnding>();
  const counters = new PoolCounters();
  const endings = new TaskEndings({
    source: {
      shared: false,
      durable: false,
      claim: () => [],
      finish: (id, ending, dropped) => {
        // An async store that learned of a cancel after the run ended here drops the ending.
        if (cancelledMeanwhile) dropped?.();
        else kept.set(id, ending);
      },
      claimable: () => 0,
      queued: () => 0,
      failQueued: async () => 0,
    },
    counters,
    clock: new ManualClock(),
    requeueLocal: () => {},
    version: () => undefined,
    ended: () => {},
    maxResultBytes: 1_000,
  });
  return { endings, kept, counters };
};

const running = (id: string) => {
  const task = new Task({
    id,
    function: 'f',
    args: [],
    timeoutMs: 1_000,
    attempt: 1,
    submittedAt: 0,
  });
  task.markRunning(1, 0);
  return task;
};

describe('the endings of a worker that lies', () => {
  it('Should cut a failure of a million characters and bound 5,000 log lines of 1,000', () => {
    const { endings, kept } = endingsKeeping();
    const logs = Array.from({ length: 5_000 }, (_, i) => ({
      at: 0,
      level: 'log' as const,
      message: `${i}`.padEnd(1_000, '.'),
    }));
    endings.outcome(running('t1'), {
      ok: false,
      error: 'F'.repeat(1_000_000),
      code: 'function_threw',
      start: 0,
      time: 1,
      logs,
    });
    const ending = kept.get('t1') as Extract<TaskEnding, { status: 'failed' }>;
    expect(ending).toMatchObject({ status: 'failed', errorCode: 'function_threw' });
    expect(ending.error).toHaveLength(MAX_ERROR_CHARS);
    expect(ending.error).toContain('[cut: the message had 1000000 characters');
    const kept_logs = ending.logs ?? [];
    expect(kept_logs.length).toBeLessThanOrEqual(102);
    expect(kept_logs.reduce((sum, line) => sum + line.message.length, 0)).toBeLessThan(70_000);
    expect(kept_logs.at(-1)).toMatchObject({
      level: 'warn',
      message: expect.stringContaining('left out by the server'),
    });
  });

  it('Should fail a result over the limit that the worker sent anyway', () => {
    const { endings, kept } = endingsKeeping();
    endings.outcome(running('t2'), { ok: true, value: 'x'.repeat(5_000), start: 0, time: 1 });
    expect(kept.get('t2')).toMatchObject({ status: 'failed', errorCode: 'result_too_large' });
    expect(kept.get('t2')).not.toHaveProperty('result');
  });
});

describe('the endings a backend drops', () => {
  it('Should take back the count of an ending the backend dropped because the task was cancelled', () => {
    const { endings, counters } = endingsKeeping(true);
    endings.outcome(running('t3'), { ok: true, value: 1, start: 0, time: 1 });
    endings.outcome(running('t4'), {
      ok: false,
      error: 'boom',
      code: 'function_threw',
      start: 0,
      time: 1,
    });
    expect(counters.completed).toBe(0);
    expect(counters.failed).toBe(0);
  });
});
