/**
 * Loading a function in-process (test/support/in-process.ts): the worker that read the module's
 * config stays as the pool's first worker when the config asks for nothing it lacks, and is
 * stopped when it does; its room in the worker budget goes with it either way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startInProcess } from '../../test/support/in-process.ts';
import type { Runtime } from '../types.ts';

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.close({ drainTimeoutMs: 0 });
  runtime = undefined;
});

const echo = (x: unknown) => x;

describe('loading a function', () => {
  it('Should keep the worker that read the config as the first of the pool', async () => {
    const started = await startInProcess({ echo: { default: echo } }, { minWorkers: 2 });
    runtime = started.runtime;
    await runtime.loaded();
    // Spawned: the config reader, then one more for the minimum of 2; no third.
    await expect.poll(() => started.host.workers.filter((w) => w.alive).length).toBe(2);
    expect(started.host.workers.map((w) => w.id)).toEqual([1, 2]);
    const record = await runtime.call('echo', [7]);
    expect(record).toMatchObject({ status: 'completed', result: 7 });
    expect(runtime.stats().functions.echo?.activeWorkers).toBe(2);
    // Both count as starts of the pool, the kept one included.
    await expect.poll(() => runtime?.stats().functions.echo?.coldStarts).toBe(2);
  });

  it('Should stop it when the config changes what a worker starts with', async () => {
    const started = await startInProcess(
      {
        wide: { default: echo, config: { concurrency: 4 } },
        capped: { default: echo, config: { memoryLimitMb: 64 } },
        lazy: { default: echo, config: { minWorkers: 0 } },
      },
      { minWorkers: 1 },
    );
    runtime = started.runtime;
    await runtime.loaded();
    for (const name of ['wide', 'capped']) {
      const spawned = started.host.workers.filter((w) => w.function === name);
      // The reader stopped; a fresh worker with the config's limits serves.
      await expect.poll(() => spawned.map((w) => w.alive)).toEqual([false, true]);
      expect(await runtime.call(name, [name])).toMatchObject({ result: name });
    }
    // Scale to zero: the reader is not kept, so the first call is a cold start.
    const lazy = started.host.workers.filter((w) => w.function === 'lazy');
    expect(lazy.map((w) => w.alive)).toEqual([false]);
    expect(runtime.stats().functions.lazy?.activeWorkers).toBe(0);
    expect(await runtime.call('lazy', ['x'])).toMatchObject({ result: 'x' });
    expect(runtime.stats().functions.lazy?.coldStarts).toBe(1);
  });

  it('Should hand the room it holds to the pool, and back when the worker is gone', async () => {
    // A ceiling of one worker: the reader takes the only room, and the pool serves on it.
    const started = await startInProcess({ echo: { default: echo } }, { maxWorkers: 1 });
    runtime = started.runtime;
    await runtime.loaded();
    expect(started.host.workers.map((w) => w.alive)).toEqual([true]);
    expect(await runtime.call('echo', [1])).toMatchObject({ result: 1, workerId: 1 });
    // Its death gives the room back: a replacement starts within the same ceiling.
    started.host.workers[0]?.crash();
    started.clock.advance(10);
    await expect.poll(() => started.host.workers.filter((w) => w.alive).length).toBe(1);
    expect(await runtime.call('echo', [2])).toMatchObject({ result: 2, workerId: 2 });
    expect(started.host.workers.length).toBe(2);
  });
});
