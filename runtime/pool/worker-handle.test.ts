/**
 * One worker's record on its own, over an in-process worker and a manual clock: how often it
 * tells its pool that it drained. Each `drained` makes the pool refill the worker and may retire
 * it, so it must come exactly once per result (and once per batch that could not be sent).
 */
import { describe, expect, it } from 'vitest';
import { flush, until } from '../../test/support/in-process.ts';
import { inProcessHost } from '../host/in-process.ts';
import { ManualClock } from '../time/manual-clock.ts';
import { Lease } from './lease.ts';
import { Task } from './task.ts';
import { type HandleEvents, WorkerHandle } from './worker-handle.ts';

/** A started worker of an `echo` module whose events are only counted. */
const startHandle = async (lease?: Lease) => {
  const host = inProcessHost({ load: async () => ({ default: (x: unknown) => x }) });
  const entry = { name: 'echo', url: 'memory:echo' };
  const count = { outcome: 0, unsendable: 0, drained: 0, dead: 0 };
  const events: HandleEvents = {
    outcome: () => count.outcome++,
    unsendable: () => count.unsendable++,
    drained: () => count.drained++,
    timedOut: () => {},
    dead: () => count.dead++,
  };
  const clock = new ManualClock();
  const handle = new WorkerHandle(
    1,
    host.spawn({ entry }, { workerId: 1, memoryLimitMb: 64 }),
    events,
    clock,
    lease,
  );
  await handle.start(4, 1_000);
  return { handle, count, clock, host };
};

const task = (n: number, args: unknown[] = [n]) =>
  new Task({ id: `t${n}`, function: 'echo', args, timeoutMs: 1_000, attempt: 1, submittedAt: 0 });

describe('a worker handle', () => {
  it('Should tell its pool it drained once per result', async () => {
    const { handle, count } = await startHandle();
    handle.send([task(1), task(2), task(3)]);
    await until('three outcomes', () => count.outcome === 3);
    await flush();
    expect(count.drained).toBe(3);
    handle.send([task(4)]);
    await until('the fourth outcome', () => count.outcome === 4);
    await flush();
    expect(count.drained).toBe(4);
    expect(handle.load).toBe(0);
    await handle.stop('done');
  });

  it('Should tell its pool it drained once for a batch that could not be sent', async () => {
    const { handle, count } = await startHandle();
    // A function cannot be cloned onto the port: the whole batch comes back unsent.
    handle.send([task(1, [() => 1]), task(2, [() => 2])]);
    expect(count.unsendable).toBe(2);
    expect(count.drained).toBe(1);
    expect(handle.load).toBe(0);
    await handle.stop('done');
  });

  it('Should give its lease back the moment it is gone, and only once', async () => {
    let returned = 0;
    const lease = new Lease(() => returned++);
    const { handle, count, clock, host } = await startHandle(lease);
    handle.send([task(1)]);
    await until('the outcome', () => count.outcome === 1);
    expect(returned).toBe(0);
    host.workers[0]?.crash();
    // Free at once, before the pool hears of the death (late outcomes may still come).
    expect([returned, lease.held, count.dead]).toEqual([1, false, 0]);
    clock.advance(10);
    expect(count.dead).toBe(1);
    await handle.stop('again');
    expect(returned).toBe(1);
  });
});
