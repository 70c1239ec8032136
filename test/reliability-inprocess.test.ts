/**
 * Reliability of the in-process API: memory stays bounded over 200,000 tasks, and racing
 * operations (cancel against completion, duplicate ids, wait against eviction) each end in one
 * consistent state.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { TaskRecord } from '../runtime/index.ts';
import { startCore } from './support/core-runtime.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapAfterGc = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return process.memoryUsage().heapUsed;
};

describe('memory', () => {
  it('Should return near its starting heap after 200,000 tasks once records are evicted', async () => {
    const runtime = await startCore({ maxResults: 1000, maxQueue: 50_000 });
    await Promise.all(Array.from({ length: 2000 }, (_, i) => runtime.call('add', [i])));
    const before = await heapAfterGc();
    let completed = 0;
    for (let round = 0; round < 20; round++) {
      const records = await Promise.all(
        Array.from({ length: 10_000 }, (_, i) => runtime.call('add', [i])),
      );
      completed += records.filter((r) => r.status === 'completed').length;
    }
    expect(completed).toBe(200_000);
    const after = await heapAfterGc();
    // 200,000 kept records would take well over 40 MB; the bound keeps 1,000.
    expect(after - before).toBeLessThan(8 * 1024 * 1024);
    expect(runtime.stats().performanceMetrics.tasksCompleted).toBe(202_000);
    await runtime.close();
  }, 120_000);
});

describe('races', () => {
  it('Should end every task once when cancels race completions', async () => {
    const runtime = await startCore({ maxQueue: 50_000 });
    const ids: string[] = [];
    const cancelled = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      ids.push((await runtime.submit('add', [i])).id);
      // Cancel at varying distances behind submission: some queued, some in flight, some done.
      if (i % 3 === 0) {
        const target = ids[Math.max(0, i - (i % 97))] as string;
        try {
          if ((await runtime.cancel(target)).status === 'cancelled') cancelled.add(target);
        } catch (error) {
          expect((error as { code: string }).code).toBe('already_terminal');
        }
      }
      if (i % 500 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const finals = (await Promise.all(ids.map((id) => runtime.wait(id, 10_000)))) as TaskRecord[];
    for (const record of finals) {
      expect(['completed', 'cancelled']).toContain(record.status);
      expect(record.status === 'cancelled').toBe(cancelled.has(record.id));
      if (record.status === 'completed') expect(record.result).toBeTypeOf('number');
      else expect(record.result).toBeUndefined();
    }
    const stats = runtime.stats().functions.add;
    expect((stats?.tasksCompleted ?? 0) + (stats?.tasksCancelled ?? 0)).toBe(3000);
    expect(stats?.tasksCancelled).toBe(cancelled.size);
    await runtime.close();
  });

  it('Should accept a contested id exactly once', async () => {
    const runtime = await startCore();
    const attempts = await Promise.allSettled(
      Array.from({ length: 50 }, () =>
        Promise.resolve().then(() => runtime.submit('add', [1], { id: 'contested' })),
      ),
    );
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
    expect(
      attempts
        .filter((a) => a.status === 'rejected')
        .map((a) => (a.reason as { code: string }).code),
    ).toEqual(new Array(49).fill('duplicate_id'));
    await runtime.close();
  });

  it('Should answer a waiter with the final record even if eviction follows at once', async () => {
    const runtime = await startCore({ maxResults: 1, maxQueue: 50_000 });
    const watched = await runtime.submit('faulty', ['sleep', 50]);
    const waited = runtime.wait(watched.id, 10_000);
    // Keep finishing other tasks before, during and after the watched one ends.
    const flood: Array<Promise<TaskRecord>> = [];
    for (const until = Date.now() + 300; Date.now() < until; ) {
      for (let i = 0; i < 20; i++) flood.push(runtime.call('add', [i]));
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await waited).toMatchObject({ id: watched.id, status: 'completed' });
    await Promise.all(flood);
    expect(await runtime.result(watched.id)).toBeUndefined();
    expect(await runtime.wait(watched.id, 100)).toBeUndefined();
    await runtime.close();
  });
});
