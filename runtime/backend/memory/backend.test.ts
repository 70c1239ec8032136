/**
 * What only the in-memory backend does: its synchronous twins and `callNow`, listeners called
 * inside the call, `onEnded`, `failQueued`, its timers, and bounds under churn. What every store
 * shares is in `../contract.test-suite.ts`, run over this backend by `../contract.test.ts`.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../time/manual-clock.ts';
import type { TaskEnding, TaskRecord } from '../../types.ts';
import { task } from '../contract.test-suite.ts';
import { MemoryTaskBackend } from './backend.ts';

const setup = (options: { ttlMs?: number; maxFinished?: number; random?: () => number } = {}) => {
  const clock = new ManualClock();
  const logged: string[] = [];
  const backend = new MemoryTaskBackend({
    ttlMs: options.ttlMs ?? 60_000,
    maxFinished: options.maxFinished ?? 1000,
    clock,
    random: options.random ?? (() => 0.5),
    log: (m) => logged.push(m),
  });
  return { clock, backend, logged };
};

const completed = (result: unknown = 'ok'): Extract<TaskEnding, { status: 'completed' }> => ({
  status: 'completed',
  result,
  startedAt: 5,
  endedAt: 10,
  executionTime: 5,
  workerId: 7,
});

const threw = (errorCode: 'function_threw' | 'result_not_serializable' = 'function_threw') =>
  ({ status: 'failed', error: 'boom', errorCode, endedAt: 10, startedAt: 5 }) as TaskEnding;

const codeOf = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
};

describe('MemoryTaskBackend: synchronous twins', () => {
  it('Should answer at once from its synchronous twins, and throw their refusals', () => {
    const { backend } = setup();
    expect(backend.submitNow(task({ id: 'a', maxQueue: 2 })).status).toBe('queued');
    expect(codeOf(() => backend.submitNow(task({ id: 'a' })))).toBe('duplicate_id');
    backend.submitNow(task({ maxQueue: 2 }));
    expect(codeOf(() => backend.submitNow(task({ maxQueue: 2 })))).toBe('queue_full');
    expect(codeOf(() => backend.replayNow('a', 100))).toBe('not_retryable');
    expect(backend.claimNow('f', 1, 3).map((t) => t.id)).toEqual(['a']);
    expect(backend.readNow('a')).toMatchObject({ status: 'running', workerId: 3 });
    backend.finishNow('a', completed(1));
    expect(codeOf(() => backend.cancelNow('a'))).toBe('already_terminal');
    expect(backend.listNow({ limit: 10, status: 'completed' }).tasks.map((t) => t.id)).toEqual([
      'a',
    ]);
    expect(codeOf(() => backend.replayNow('zz', 100))).toBe('unknown_task');
  });

  it('Should resolve callNow with the terminal record, and refuse as submit does', async () => {
    const { backend } = setup();
    const seen: string[] = [];
    backend.subscribe((r) => seen.push(r.status));
    const called = backend.callNow(task({ id: 'a' }));
    expect(() => backend.callNow(task({ id: 'a' }))).toThrow('already in use');
    backend.claimNow('f', 1, 1);
    backend.finishNow('a', completed(9));
    expect(await called).toMatchObject({ id: 'a', status: 'completed', result: 9 });
    expect(seen).toEqual(['queued', 'running', 'completed']);
  });

  it('Should tell onAvailable after a submit, with the queued record already made', () => {
    const { backend } = setup();
    const seen: string[] = [];
    backend.onAvailable((fn) => seen.push(`${fn}:${backend.claimNow(fn, 1, 1).length}`));
    const record = backend.submitNow(task({ id: 'a' }));
    expect(record.status).toBe('queued');
    expect(seen).toEqual(['f:1']);
    expect(backend.readNow('a')?.status).toBe('running');
  });
});

describe('MemoryTaskBackend: queues and timers', () => {
  const retrying = () => {
    const s = setup({ random: () => 0.5 });
    const available: string[] = [];
    s.backend.onAvailable((fn) => available.push(fn));
    s.backend.submitNow(task({ id: 'a', retry: { attempts: 3, backoffMs: 100 } }));
    available.length = 0;
    return { ...s, available };
  };

  it('Should keep a retry behind tasks that became claimable before it', () => {
    const { backend, clock } = retrying();
    backend.claimNow('f', 1, 1);
    backend.finishNow('a', threw());
    backend.submitNow(task({ id: 'b' }));
    clock.advance(110);
    backend.submitNow(task({ id: 'c' }));
    expect(backend.claimNow('f', 3, 1).map((t) => t.id)).toEqual(['b', 'a', 'c']);
  });

  it('Should cancel a task backing off and drop its timer', () => {
    const { backend, clock, available } = retrying();
    backend.claimNow('f', 1, 1);
    backend.finishNow('a', threw());
    expect(clock.pending).toBe(1);
    expect(backend.cancelNow('a')).toMatchObject({
      status: 'cancelled',
      error: 'cancelled while waiting for its next attempt',
    });
    expect(clock.pending).toBe(0);
    expect(backend.queued('f')).toBe(0);
    clock.advance(10_000);
    expect(available).toEqual([]);
    expect(backend.claimNow('f', 1, 1)).toEqual([]);
  });

  it('Should not grow without bound when tasks are submitted and cancelled with none claimed', () => {
    const { backend } = setup({ maxFinished: 10 });
    backend.submitNow(task({ id: 'first', maxQueue: 10 }));
    for (let i = 0; i < 5000; i++) backend.cancelNow(backend.submitNow(task({ maxQueue: 10 })).id);
    backend.submitNow(task({ id: 'last', maxQueue: 10 }));
    expect(backend.queued('f')).toBe(2);
    expect(backend.held('f')).toBeLessThan(2100);
    expect(backend.claimNow('f', 10, 1).map((t) => t.id)).toEqual(['first', 'last']);
    expect(backend.held('f')).toBe(0);
  });

  it('Should resolve after the wait with the record as it is, and drop its timer on an ending', async () => {
    const { backend, clock } = setup();
    backend.submitNow(task({ id: 'a' }));
    const waiting = backend.wait('a', 1000);
    expect(clock.pending).toBe(1);
    clock.advance(1000);
    expect(await waiting).toMatchObject({ status: 'queued' });
    const again = backend.wait('a', 1000);
    backend.cancelNow('a');
    expect(clock.pending).toBe(0);
    expect((await again)?.status).toBe('cancelled');
  });

  it('Should hold a wait longer than the longest timer in steps', async () => {
    const { backend, clock } = setup();
    backend.submitNow(task({ id: 'a' }));
    let done: TaskRecord | undefined;
    void backend.wait('a', 3_000_000_000).then((r) => {
      done = r;
    });
    clock.advance(2_147_483_647);
    await Promise.resolve();
    expect(done).toBeUndefined();
    clock.advance(3_000_000_000 - 2_147_483_647);
    await Promise.resolve();
    expect(done?.status).toBe('queued');
  });

  it('Should stop its retry timers on close', async () => {
    const { backend, clock } = setup();
    backend.submitNow(task({ id: 'a', retry: { attempts: 2, backoffMs: 100 } }));
    backend.claimNow('f', 1, 1);
    backend.finishNow('a', threw());
    await backend.close();
    expect(clock.pending).toBe(0);
  });
});

describe('MemoryTaskBackend: listing, endings and shutdown', () => {
  it('Should leave out expired records, however many came and went', () => {
    const { backend } = setup({ maxFinished: 10 });
    backend.submitNow(task({ id: 'first' }));
    for (let i = 0; i < 5000; i++) backend.cancelNow(backend.submitNow(task()).id);
    const page = backend.listNow({ limit: 1000 });
    expect(page.tasks).toHaveLength(11);
    expect(page.tasks.at(-1)?.id).toBe('first');
    expect(page.tasks.slice(0, 10).every((t) => t.status === 'cancelled')).toBe(true);
  });

  it('Should tell onEnded each terminal record once, sharing it with the waiters', async () => {
    const { backend } = setup();
    const ended: TaskRecord[] = [];
    const stop = backend.onEnded((r) => ended.push(r));
    backend.submitNow(task({ id: 'a' }));
    const waiting = backend.wait('a', Number.POSITIVE_INFINITY);
    backend.claimNow('f', 1, 1);
    backend.finishNow('a', completed(1));
    backend.submitNow(task({ id: 'b' }));
    backend.cancelNow('b');
    stop();
    backend.submitNow(task({ id: 'c' }));
    backend.cancelNow('c');
    expect(ended.map((r) => `${r.id}:${r.status}`)).toEqual(['a:completed', 'b:cancelled']);
    expect(await waiting).toBe(ended[0]);
  });

  it('Should fail every queued task of a function, backing-off ones included', async () => {
    const { backend, clock } = setup();
    backend.submitNow(task({ id: 'retrying', retry: { attempts: 2, backoffMs: 100 } }));
    backend.claimNow('f', 1, 1);
    backend.finishNow('retrying', threw());
    backend.submitNow(task({ id: 'queued' }));
    backend.submitNow(task({ id: 'other', function: 'g' }));
    const waiting = backend.wait('queued', Number.POSITIVE_INFINITY);
    backend.failQueued('f', 'the module failed to load: x', 'load_failed');
    expect(await waiting).toMatchObject({ status: 'failed', errorCode: 'load_failed' });
    expect(backend.readNow('retrying')).toMatchObject({
      status: 'failed',
      error: 'the module failed to load: x',
    });
    expect([backend.queued('f'), backend.queued('g'), clock.pending]).toEqual([0, 1, 0]);
  });
});

describe('MemoryTaskBackend: invariants under a random run', () => {
  it('Should keep queued counts equal to the queued records, and end every task once', () => {
    // A seeded generator: the same sequence on every run.
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const { backend, clock } = setup({ random, maxFinished: 100_000 });
    const ends = new Map<string, number>();
    backend.subscribe((r) => {
      if (r.status !== 'queued' && r.status !== 'running')
        ends.set(r.id, (ends.get(r.id) ?? 0) + 1);
    });
    const running: string[] = [];
    const fns = ['f', 'g'];
    for (let step = 0; step < 5000; step++) {
      const fn = fns[Math.floor(random() * 2)] as string;
      const roll = random();
      if (roll < 0.3) {
        backend.submitNow(
          task({ function: fn, retry: { attempts: 3, backoffMs: 5 }, maxQueue: 1e6 }),
        );
      } else if (roll < 0.5) {
        running.push(...backend.claimNow(fn, 3, 1).map((t) => t.id));
      } else if (roll < 0.75 && running.length > 0) {
        const id = running.splice(Math.floor(random() * running.length), 1)[0] as string;
        const kind = random();
        backend.finishNow(
          id,
          kind < 0.4 ? completed() : kind < 0.8 ? threw() : { status: 'unstarted' },
        );
      } else if (roll < 0.85) {
        const live = backend.listNow({
          limit: 5,
          status: random() < 0.5 ? 'queued' : 'running',
        }).tasks;
        const victim = live[Math.floor(random() * live.length)];
        if (victim) backend.cancelNow(victim.id);
      } else {
        clock.advance(Math.floor(random() * 20));
      }
      if (step % 500 === 0) {
        for (const name of fns) {
          const queued = backend.listNow({ function: name, status: 'queued', limit: 1000 }).tasks;
          expect(backend.queued(name)).toBe(queued.length);
        }
      }
    }
    expect([...ends.values()].every((n) => n === 1)).toBe(true);
    expect(ends.size).toBeGreaterThan(100);
  });
});
