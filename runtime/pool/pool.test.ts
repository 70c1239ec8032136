/**
 * The pool driven in-process with a manual clock (test/support/in-process.ts): dispatch, a dead
 * worker's tasks, late outcomes, every kind of cancel, reclaiming room across pools and serving
 * a second function beside a backlog. No threads and no sleeps: the test decides when each
 * function ends, when a worker dies and when time passes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { flush, Gates, startInProcess, until } from '../../test/support/in-process.ts';
import type { Runtime } from '../types.ts';
import { AWAKE_MS } from './dispatch.ts';

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.close({ drainTimeoutMs: 0 });
  runtime = undefined;
});

const status = async (id: string) => (await runtime?.result(id))?.status;

/** Resolves once task `id` has `wanted` status (the store answers asynchronously). */
const statusBecomes = async (id: string, wanted: string): Promise<void> => {
  for (let i = 0; i < 2000; i++) {
    if ((await status(id)) === wanted) return;
    await flush(1);
  }
  throw new Error(`task ${id} never became ${wanted}`);
};

/** A function that ends when the test says, or at once for `quick` (which teaches the pool that
 * its tasks are short, so it sends them in batches). */
const gatedModule = (gates: Gates) => ({
  default: (key: string) => (key === 'quick' ? key : gates.open(key)),
});

// Batch sizing follows a moving average of run times (weight 0.1): 60 quick runs make it short
// even if the first, cold, run was slow on a loaded machine.
const WARM_UP = 60;
const warmUp = async (rt: Runtime) => {
  for (let i = 0; i < WARM_UP; i++) await rt.call('gated', ['quick']);
};

describe.each(['memory', 'async'] as const)('the pool, in process (%s backend)', (kind) => {
  /** One gated function, one worker at the most. */
  const startGated = async () => {
    const gates = new Gates();
    const started = await startInProcess(
      { gated: gatedModule(gates) },
      { minWorkers: 1, maxWorkers: 1 },
      kind,
    );
    return { gates, started };
  };

  it('Should run at most concurrency tasks at once on a worker and start the next as one ends', async () => {
    const { gates, started } = await startGated();
    runtime = started.runtime;
    const ids: string[] = [];
    for (const key of ['a', 'b', 'c']) ids.push((await runtime.submit('gated', [key])).id);
    await until('a to begin', () => gates.begun.length === 1);
    await flush();
    expect(gates.begun).toEqual(['a']);
    gates.resolve('a');
    await until('b to begin', () => gates.begun.length === 2);
    expect(await runtime.result(ids[0] as string)).toMatchObject({
      status: 'completed',
      result: 'a',
      workerId: expect.any(Number),
    });
    gates.resolve('b');
    await until('c to begin', () => gates.begun.length === 3);
    gates.resolve('c');
    await until('c to complete', () => runtime?.stats().functions.gated?.tasksCompleted === 3);
    expect(gates.begun).toEqual(['a', 'b', 'c']);
  });

  it('Should fail the running task of a dead worker and requeue the ones it had not begun', async () => {
    const { gates, started } = await startGated();
    runtime = started.runtime;
    const { host, clock } = started;
    await warmUp(runtime);
    // Submitted together: they go out in one batch, and b waits behind a inside the worker.
    const [a, b] = await Promise.all([
      runtime.submit('gated', ['a']),
      runtime.submit('gated', ['b']),
    ]);
    await until('a to begin', () => gates.begun.length === 1);
    expect(await status(b.id)).toBe('running');
    const first = host.workers.find((w) => w.alive);
    first?.crash('the worker exited with code 9');
    clock.advance(10);
    await until('a to fail', () => runtime?.stats().functions.gated?.tasksFailed === 1);
    expect(await runtime.result(a.id)).toMatchObject({
      status: 'failed',
      errorCode: 'worker_exited',
      error: 'the worker exited with code 9',
    });
    // b never began: it runs on the replacement, from the start.
    await until('b to begin on a new worker', () => gates.begun.includes('b'));
    gates.resolve('b');
    await until(
      'b to complete',
      () => runtime?.stats().functions.gated?.tasksCompleted === WARM_UP + 1,
    );
    const record = await runtime.result(b.id);
    expect(record?.status).toBe('completed');
    expect(record?.workerId).not.toBe(first?.id);
    // Never begun, so never attempted: the run on the new worker is still the first.
    expect(record?.attempt).toBe(1);
  });

  it('Should take an outcome posted just before the worker died', async () => {
    const started = await startInProcess(
      {
        late: {
          // Posts its result, then the worker dies before the pool has read it.
          default: () => {
            queueMicrotask(() => started.host.workers.find((w) => w.alive)?.crash());
            return 'made it';
          },
        },
      },
      { minWorkers: 1, maxWorkers: 1 },
      kind,
    );
    runtime = started.runtime;
    const { id } = await runtime.submit('late', []);
    await until('the worker to die', () => started.host.workers.some((w) => !w.alive));
    started.clock.advance(5_000);
    await until('the task to end', () => {
      const s = runtime?.stats().functions.late;
      return (s?.tasksCompleted ?? 0) + (s?.tasksFailed ?? 0) === 1;
    });
    const record = await runtime.result(id);
    // Either the result arrived in time, or the pool says exactly that it was lost.
    if (record?.status === 'failed') {
      expect(record).toMatchObject({ errorCode: 'worker_exited' });
      expect(record.error).toMatch(/^the task finished but its result was lost: /);
    } else {
      expect(record).toMatchObject({ status: 'completed', result: 'made it' });
    }
  });

  it('Should cancel a queued task so it never runs', async () => {
    const { gates, started } = await startGated();
    runtime = started.runtime;
    await runtime.submit('gated', ['first']);
    await until('first to begin', () => gates.begun.length === 1);
    // The only worker is busy and one task is less than a batch: it waits in the queue.
    const { id } = await runtime.submit('gated', ['never']);
    expect(await status(id)).toBe('queued');
    expect((await runtime.cancel(id)).status).toBe('cancelled');
    gates.resolve('first');
    await until('first to end', () => runtime?.stats().functions.gated?.tasksCompleted === 1);
    await flush();
    expect(gates.begun).toEqual(['first']);
    expect(await runtime.result(id)).toMatchObject({
      status: 'cancelled',
      error: 'cancelled before it started',
    });
  });

  it('Should withdraw a cancelled task waiting in a batch without touching the one running', async () => {
    const { gates, started } = await startGated();
    runtime = started.runtime;
    await warmUp(runtime);
    const [a, b] = await Promise.all([
      runtime.submit('gated', ['a']),
      runtime.submit('gated', ['b']),
    ]);
    await until('a to begin', () => gates.begun.length === 1);
    const live = started.host.workers.filter((w) => w.alive);
    expect(await status(b.id)).toBe('running');
    expect((await runtime.cancel(b.id)).status).toBe('cancelled');
    await flush(); // the withdrawal reaches the worker before a ends
    gates.resolve('a');
    await until(
      'a to complete',
      () => runtime?.stats().functions.gated?.tasksCompleted === WARM_UP + 1,
    );
    await flush();
    expect(gates.begun).toEqual(['a']);
    expect(live.every((w) => w.alive)).toBe(true);
    expect((await runtime.result(a.id))?.status).toBe('completed');
  });

  it('Should stop and replace the worker of a cancelled running task', async () => {
    const { gates, started } = await startGated();
    runtime = started.runtime;
    const a = await runtime.submit('gated', ['a']);
    await until('a to begin', () => gates.begun.length === 1);
    const first = started.host.workers.find((w) => w.alive);
    expect((await runtime.cancel(a.id)).status).toBe('cancelled');
    await until('the worker to stop', () => first?.alive === false);
    started.clock.advance(10);
    const b = await runtime.submit('gated', ['b']);
    await until('b to begin', () => gates.begun.includes('b'));
    gates.resolve('b');
    await until('b to end', () => runtime?.stats().functions.gated?.tasksCompleted === 1);
    expect((await runtime.result(b.id))?.workerId).not.toBe(first?.id);
    // A late result of the cancelled task changes nothing.
    expect(() => gates.resolve('a')).not.toThrow();
    await flush();
    expect(await runtime.result(a.id)).toMatchObject({ status: 'cancelled' });
  });

  it('Should give a function with no worker the longest idle worker of another, even below its minimum', async () => {
    const started = await startInProcess(
      { busy: { default: () => 'x' }, lazy: { default: () => 'y', config: { minWorkers: 0 } } },
      { minWorkers: 2, maxWorkers: 2 },
      kind,
    );
    runtime = started.runtime;
    expect(runtime.stats().functions.busy?.activeWorkers).toBe(2);
    const live = started.host.workers.filter((w) => w.alive);
    const call = runtime.call('lazy', []);
    await until('an idle worker of busy to stop', () => live.some((w) => !w.alive));
    started.clock.advance(10);
    expect(await call).toMatchObject({ status: 'completed', result: 'y' });
    expect(runtime.stats().functions.busy?.activeWorkers).toBe(1);
    expect(runtime.stats().activeWorkers).toBeLessThanOrEqual(2);
  });

  it('Should serve a second function while the first has a backlog on every worker', async () => {
    const gates = new Gates();
    const started = await startInProcess(
      {
        gated: { default: gates.open },
        other: { default: () => 'served', config: { minWorkers: 0 } },
      },
      { minWorkers: 2, maxWorkers: 2 },
      kind,
    );
    runtime = started.runtime;
    for (let i = 0; i < 20; i++) await runtime.submit('gated', [`t${i}`]);
    await until('both workers busy', () => gates.begun.length === 2);
    const live = started.host.workers.filter((w) => w.alive);
    const other = runtime.call('other', []);
    // No worker is idle: one of gated's retires once its task ends, and other gets the room.
    await until(
      'a gated worker to retire',
      () => runtime?.stats().functions.gated?.activeWorkers === 1,
    );
    gates.resolve(gates.begun[0] as string);
    gates.resolve(gates.begun[1] as string);
    await until('a gated worker to stop', () => live.some((w) => !w.alive));
    started.clock.advance(10);
    expect(await other).toMatchObject({ status: 'completed', result: 'served' });
    expect(runtime.stats().functions.gated?.queueSize).toBeGreaterThan(0);
  });

  it('Should give short tasks to the worker at work, and wake another once it shows no progress for AWAKE_MS', async () => {
    const gates = new Gates();
    const started = await startInProcess(
      { gated: gatedModule(gates) },
      { minWorkers: 2, maxWorkers: 2 },
      kind,
    );
    runtime = started.runtime;
    await warmUp(runtime);
    const a = await runtime.submit('gated', ['a']);
    await until('a to begin', () => gates.begun.length === 1);
    // A short task arriving now goes to the worker that just took a (behind it), not to the one
    // asleep.
    const held = await runtime.submit('gated', ['quick']);
    await statusBecomes(held.id, 'running');
    await flush();
    // Past AWAKE_MS with no outcome from that worker, the next one wakes the other.
    started.clock.advance(AWAKE_MS + 1);
    const next = await runtime.call('gated', ['quick']);
    expect(next).toMatchObject({ status: 'completed', result: 'quick' });
    expect(await status(held.id)).toBe('running');
    gates.resolve('a');
    await statusBecomes(held.id, 'completed');
    const busy = (await runtime.result(a.id))?.workerId;
    expect((await runtime.result(held.id))?.workerId).toBe(busy);
    expect(next.workerId).not.toBe(busy);
  });
});
