/**
 * One pool on its own, over in-process workers, a manual clock and a ceiling that only counts:
 * where it is in its life (`loading`, `ready`, `ending`, `unavailable`, `closed`) changes only
 * through its methods, and each state decides what it may start and run.
 */
import { describe, expect, it } from 'vitest';
import { flush, until } from '../../test/support/in-process.ts';
import { MemoryTaskBackend } from '../backend/memory/backend.ts';
import { inProcessHost } from '../host/in-process.ts';
import { resolveFunctionConfig } from '../options.ts';
import { ManualClock } from '../time/manual-clock.ts';
import { Lease } from './lease.ts';
import { type Ceiling, FunctionPool, type PoolDeps } from './pool.ts';
import { taskSource } from './task-source.ts';

const setup = () => {
  const clock = new ManualClock();
  const host = inProcessHost({ load: async () => ({ default: (x: unknown) => x }) });
  const room = { leased: 0, returned: 0, gone: 0 };
  const ceiling: Ceiling = {
    lease: () => {
      room.leased++;
      return new Lease(() => room.returned++);
    },
    reclaim: () => {},
    backlog: () => {},
    workerGone: () => room.gone++,
  };
  const backend = new MemoryTaskBackend({ ttlMs: 60_000, maxFinished: 100, clock });
  const deps: PoolDeps = {
    host,
    clock,
    source: taskSource(backend, () => {}, clock),
    ceiling,
    nextWorkerId: (() => {
      let id = 0;
      return () => ++id;
    })(),
    ended: () => {},
    log: () => {},
  };
  const config = resolveFunctionConfig(
    { minWorkers: 1, maxWorkers: 2 },
    { minWorkers: 1, maxWorkers: 4, taskTimeoutMs: 1_000, maxQueue: 10, memoryLimitMb: 64 },
  );
  const module = {
    prepared: { entry: { name: 'echo', url: 'memory:echo' } },
    exports: { default: true, fetch: false },
  };
  const ready = () => new FunctionPool('echo', config, module, deps);
  const placeholder = () => new FunctionPool('echo', config, undefined, deps);
  return { clock, host, room, ready, placeholder };
};

describe("a pool's lifecycle", () => {
  it('Should queue as a placeholder, start nothing, and hand what waits to its successor', async () => {
    const { room, ready, placeholder } = setup();
    const waiting = placeholder();
    expect([waiting.state, waiting.status]).toEqual(['loading', 'ready']);
    expect(waiting.grow(2)).toBe(0);
    const run = waiting.runEphemeral(['early']);
    expect(waiting.queueSize).toBe(1);
    const next = ready();
    let gone = 0;
    waiting.end({ claims: () => false, successor: next, gone: () => gone++ });
    // No worker to wait for: it is gone at once.
    expect([waiting.state, gone, room.leased]).toEqual(['ending', 1, 0]);
    expect(next.grow(1)).toBe(1);
    expect(await run).toMatchObject({ status: 'completed', result: 'early' });
  });

  it('Should retire its workers once ending, and say it is gone when the last one is', async () => {
    const { clock, host, room, ready } = setup();
    const pool = ready();
    expect(pool.state).toBe('ready');
    expect(pool.grow(5)).toBe(2);
    await pool.serving();
    await pool.started();
    let gone = 0;
    pool.end({ claims: () => false, gone: () => gone++ });
    expect(pool.state).toBe('ending');
    // Idle, and nothing left to take: both stop; each gives its room back once.
    await until('both workers to stop', () => host.workers.every((w) => !w.alive));
    await flush();
    expect([room.returned, gone]).toEqual([2, 0]);
    clock.advance(10);
    expect([gone, room.returned, room.gone]).toEqual([1, 2, 2]);
    // An ended version starts nothing for what it no longer claims.
    expect(pool.grow(1)).toBe(0);
    pool.end({ claims: () => true, gone: () => gone++ });
    expect(gone).toBe(1);
  });

  it('Should fail what it is asked to run once unavailable, and once closed', async () => {
    const { ready } = setup();
    const broken = ready();
    await broken.markUnavailable('it broke');
    expect([broken.state, broken.status, broken.error]).toEqual([
      'unavailable',
      'unavailable',
      'it broke',
    ]);
    expect(broken.grow(1)).toBe(0);
    expect(await broken.runEphemeral([1])).toMatchObject({
      status: 'failed',
      errorCode: 'load_failed',
      error: 'it broke',
    });
    const closing = ready();
    await closing.close('the runtime shut down');
    expect(closing.state).toBe('closed');
    expect(closing.grow(1)).toBe(0);
    expect(await closing.runEphemeral([1])).toMatchObject({
      status: 'failed',
      errorCode: 'shutdown',
    });
    // Closed is the last state: ending it changes nothing.
    closing.end({ claims: () => true, gone: () => {} });
    expect(closing.state).toBe('closed');
  });
});
