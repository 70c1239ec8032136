import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../time/manual-clock.ts';
import type { NewTask, TaskEnding, TaskRecord } from '../../types.ts';
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

const task = (overrides: Partial<NewTask> = {}): NewTask => ({
  function: 'f',
  args: [1],
  timeoutMs: 1000,
  retry: { attempts: 1, backoffMs: 0 },
  maxQueue: 100,
  ...overrides,
});

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

describe('MemoryTaskBackend: submit and claim', () => {
  it('Should accept a task as queued, on attempt 1 of its attempts', async () => {
    const { backend, clock } = setup();
    const record = await backend.submit(task({ id: 'a', retry: { attempts: 3, backoffMs: 10 } }));
    expect(record).toEqual({
      id: 'a',
      function: 'f',
      status: 'queued',
      submittedAt: clock.now(),
      attempt: 1,
      attempts: 3,
    });
    expect((await backend.submit(task())).id).toMatch(/^[0-9a-f-]{36}$/);
    expect(backend.queued('f')).toBe(2);
  });

  it('Should refuse a live id and a full queue with their codes', async () => {
    const { backend } = setup();
    backend.submitNow(task({ id: 'a', maxQueue: 2 }));
    await expect(backend.submit(task({ id: 'a' }))).rejects.toMatchObject({ code: 'duplicate_id' });
    backend.submitNow(task({ maxQueue: 2 }));
    expect(codeOf(() => backend.submitNow(task({ maxQueue: 2 })))).toBe('queue_full');
    expect(backend.submitNow(task({ function: 'g', maxQueue: 2 })).status).toBe('queued');
  });

  it('Should hand out the oldest tasks first, at most max, as running on the worker', async () => {
    const { backend } = setup();
    for (const id of ['a', 'b', 'c']) backend.submitNow(task({ id, args: [id] }));
    const claimed = await backend.claim('f', 2, 4);
    expect(claimed.map((t) => [t.id, t.args, t.attempt])).toEqual([
      ['a', ['a'], 1],
      ['b', ['b'], 1],
    ]);
    expect(backend.readNow('a')).toMatchObject({ status: 'running', workerId: 4 });
    expect(backend.queued('f')).toBe(1);
    expect(backend.claimNow('f', 5, 4).map((t) => t.id)).toEqual(['c']);
    expect(backend.claimNow('f', 5, 4)).toEqual([]);
    expect(backend.claimNow('nothing', 5, 4)).toEqual([]);
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

describe('MemoryTaskBackend: finish', () => {
  it('Should complete a task with what the worker reported', async () => {
    const { backend, clock } = setup();
    backend.submitNow(task({ id: 'a' }));
    backend.claimNow('f', 1, 7);
    await backend.finish('a', {
      ...completed(42),
      version: 3,
      logs: [{ at: 6, level: 'log', message: 'hi' }],
    });
    expect(backend.readNow('a')).toEqual({
      id: 'a',
      function: 'f',
      status: 'completed',
      submittedAt: clock.now(),
      startedAt: 5,
      completedAt: 10,
      result: 42,
      executionTime: 5,
      workerId: 7,
      version: 3,
      attempt: 1,
      attempts: 1,
      logs: [{ at: 6, level: 'log', message: 'hi' }],
    });
    expect(codeOf(() => backend.replayNow('a', 100))).toBe('not_retryable');
  });

  it('Should fail a task with its code, and mark a timeout as timedOut', () => {
    const { backend } = setup();
    backend.submitNow(task({ id: 'a' }));
    backend.claimNow('f', 1, 1);
    backend.finishNow('a', {
      status: 'failed',
      error: 'timed out after 5 ms',
      errorCode: 'timed_out',
      endedAt: 9,
    });
    expect(backend.readNow('a')).toMatchObject({
      status: 'failed',
      failedAt: 9,
      error: 'timed out after 5 ms',
      errorCode: 'timed_out',
      timedOut: true,
    });
    expect(backend.queued('f')).toBe(0);
  });

  it('Should put a task that never began back at the front, without spending an attempt', () => {
    const { backend } = setup();
    const available: string[] = [];
    backend.onAvailable((fn) => available.push(fn));
    for (const id of ['a', 'b', 'c']) backend.submitNow(task({ id }));
    backend.claimNow('f', 2, 1);
    backend.finishNow('b', { status: 'unstarted' });
    backend.finishNow('a', { status: 'unstarted' });
    expect(backend.readNow('a')).toMatchObject({ status: 'queued', attempt: 1 });
    expect(backend.readNow('a')?.workerId).toBeUndefined();
    expect(available).toEqual(['f', 'f', 'f', 'f', 'f']);
    expect(backend.claimNow('f', 3, 2).map((t) => [t.id, t.attempt])).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 1],
    ]);
  });

  it('Should ignore an ending for a task that is not running', () => {
    const { backend } = setup();
    backend.submitNow(task({ id: 'a' }));
    backend.finishNow('a', completed());
    backend.finishNow('nobody', completed());
    expect(backend.readNow('a')?.status).toBe('queued');
  });
});

describe('MemoryTaskBackend: retries', () => {
  const retrying = () => {
    const s = setup({ random: () => 0.5 });
    const available: string[] = [];
    s.backend.onAvailable((fn) => available.push(fn));
    s.backend.submitNow(task({ id: 'a', retry: { attempts: 3, backoffMs: 100 } }));
    available.length = 0;
    return { ...s, available };
  };

  it('Should requeue a retryable failure after backoff × 2^(n-1) plus jitter, queued meanwhile', () => {
    const { backend, clock, available } = retrying();
    backend.claimNow('f', 1, 1);
    backend.finishNow('a', threw());
    // Retry 1: 100 ms + 10 % (random 0.5 of the 20 % jitter).
    expect(backend.readNow('a')).toMatchObject({
      status: 'queued',
      attempt: 2,
      attempts: 3,
      error: 'boom',
      errorCode: 'function_threw',
    });
    expect(backend.queued('f')).toBe(1);
    expect(backend.claimable('f')).toBe(0);
    clock.advance(109);
    expect(backend.claimNow('f', 1, 1)).toEqual([]);
    expect(available).toEqual([]);
    clock.advance(1);
    expect(available).toEqual(['f']);
    expect(backend.claimNow('f', 1, 2).map((t) => t.attempt)).toEqual([2]);
    backend.finishNow('a', threw());
    // Retry 2: 200 ms + 10 %.
    clock.advance(219);
    expect(backend.claimable('f')).toBe(0);
    clock.advance(1);
    expect(backend.claimNow('f', 1, 3).map((t) => t.attempt)).toEqual([3]);
    backend.finishNow('a', completed('third time'));
    expect(backend.readNow('a')).toMatchObject({
      status: 'completed',
      attempt: 3,
      result: 'third time',
    });
    expect(backend.readNow('a')?.error).toBeUndefined();
  });

  it('Should fail for good once the attempts are spent (a dead letter)', () => {
    const { backend, clock } = retrying();
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(backend.claimNow('f', 1, 1).map((t) => t.attempt)).toEqual([attempt]);
      backend.finishNow('a', threw());
      clock.advance(10_000);
    }
    expect(backend.readNow('a')).toMatchObject({
      status: 'failed',
      attempt: 3,
      errorCode: 'function_threw',
    });
    expect(backend.listNow({ status: 'failed', limit: 10 }).tasks.map((t) => t.id)).toEqual(['a']);
    expect(clock.pending).toBe(0);
  });

  it('Should not retry a failure that would fail again the same way', () => {
    const { backend } = retrying();
    backend.claimNow('f', 1, 1);
    backend.finishNow('a', threw('result_not_serializable'));
    expect(backend.readNow('a')).toMatchObject({ status: 'failed', attempt: 1 });
  });

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
});

describe('MemoryTaskBackend: cancel', () => {
  it('Should cancel a queued task, which no claim then takes', async () => {
    const { backend } = setup();
    backend.submitNow(task({ id: 'a' }));
    backend.submitNow(task({ id: 'b' }));
    const record = await backend.cancel('a');
    expect(record).toMatchObject({ status: 'cancelled', error: 'cancelled before it started' });
    expect(record.cancelledAt).toBeTypeOf('number');
    expect(backend.queued('f')).toBe(1);
    expect(backend.claimNow('f', 5, 1).map((t) => t.id)).toEqual(['b']);
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

  it('Should tell onCancel about a running task and drop its late ending', () => {
    const { backend } = setup();
    const stopped: string[] = [];
    backend.onCancel((id) => stopped.push(id));
    backend.submitNow(task({ id: 'a' }));
    backend.claimNow('f', 1, 1);
    expect(backend.cancelNow('a')).toMatchObject({
      status: 'cancelled',
      error: 'cancelled while running',
    });
    expect(stopped).toEqual(['a']);
    backend.finishNow('a', completed());
    expect(backend.readNow('a')?.status).toBe('cancelled');
  });

  it('Should refuse to cancel an ended or unknown task', async () => {
    const { backend } = setup();
    backend.submitNow(task({ id: 'a' }));
    backend.cancelNow('a');
    await expect(backend.cancel('a')).rejects.toMatchObject({ code: 'already_terminal' });
    await expect(backend.cancel('zz')).rejects.toMatchObject({ code: 'unknown_task' });
  });
});

describe('MemoryTaskBackend: wait', () => {
  it('Should resolve as soon as the task ends, for every waiter', async () => {
    const { backend } = setup();
    backend.submitNow(task({ id: 'a' }));
    const forever = backend.wait('a', Number.POSITIVE_INFINITY);
    const bounded = backend.wait('a', 5000);
    backend.claimNow('f', 1, 1);
    backend.finishNow('a', completed('done'));
    const [x, y] = await Promise.all([forever, bounded]);
    expect(x).toMatchObject({ status: 'completed', result: 'done' });
    expect(y).toEqual(x);
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

  it('Should answer at once for an ended, unknown or zero wait', async () => {
    const { backend } = setup();
    backend.submitNow(task({ id: 'a' }));
    expect((await backend.wait('a', 0))?.status).toBe('queued');
    expect(await backend.wait('zz', 1000)).toBeUndefined();
    backend.cancelNow('a');
    expect((await backend.wait('a', 1000))?.status).toBe('cancelled');
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
});

describe('MemoryTaskBackend: records kept', () => {
  it('Should expire finished records after the TTL and keep live ones', async () => {
    const { backend, clock } = setup({ ttlMs: 100 });
    backend.submitNow(task({ id: 'live' }));
    backend.submitNow(task({ id: 'a' }));
    backend.cancelNow('a');
    clock.advance(99);
    expect(backend.readNow('a')).toBeDefined();
    clock.advance(1);
    expect(await backend.read('a')).toBeUndefined();
    expect(codeOf(() => backend.replayNow('a', 100))).toBe('unknown_task');
    // Once expired, the id can be used again.
    expect(backend.submitNow(task({ id: 'a' })).status).toBe('queued');
    expect(backend.readNow('live')?.status).toBe('queued');
  });

  it('Should keep at most maxFinished ended records, dropping the oldest finished first', async () => {
    const { backend } = setup({ maxFinished: 2 });
    for (const id of ['old-live', 'a', 'b', 'c']) backend.submitNow(task({ id }));
    for (const id of ['a', 'b', 'c']) backend.cancelNow(id);
    expect(['old-live', 'a', 'b', 'c'].map((id) => backend.readNow(id) !== undefined)).toEqual([
      true,
      false,
      true,
      true,
    ]);
    await backend.expire(Number.MAX_SAFE_INTEGER);
    expect(backend.readNow('b')).toBeUndefined();
    expect(backend.readNow('old-live')).toBeDefined();
  });
});

describe('MemoryTaskBackend: list', () => {
  const filled = () => {
    const s = setup({ maxFinished: 2 });
    for (const [id, fn] of [
      ['t1', 'f'],
      ['t2', 'g'],
      ['t3', 'f'],
      ['t4', 'f'],
      ['t5', 'g'],
    ] as const)
      s.backend.submitNow(task({ id, function: fn }));
    s.backend.cancelNow('t3');
    return s;
  };

  it('Should list the newest first, with filters', async () => {
    const { backend } = filled();
    const ids = (page: { tasks: TaskRecord[] }) => page.tasks.map((t) => t.id);
    expect(ids(await backend.list({ limit: 100 }))).toEqual(['t5', 't4', 't3', 't2', 't1']);
    expect(ids(backend.listNow({ limit: 100, function: 'f' }))).toEqual(['t4', 't3', 't1']);
    expect(ids(backend.listNow({ limit: 100, status: 'cancelled' }))).toEqual(['t3']);
    expect(ids(backend.listNow({ limit: 100, function: 'g', status: 'cancelled' }))).toEqual([]);
  });

  it('Should page with next and before, and give no next on the last page', () => {
    const { backend } = filled();
    const first = backend.listNow({ limit: 2 });
    expect(first.tasks.map((t) => t.id)).toEqual(['t5', 't4']);
    expect(first.next).toBe('t4');
    const second = backend.listNow({ limit: 2, before: first.next });
    expect(second.tasks.map((t) => t.id)).toEqual(['t3', 't2']);
    const third = backend.listNow({ limit: 2, before: second.next });
    expect(third).toEqual({ tasks: [expect.objectContaining({ id: 't1' })] });
    expect(backend.listNow({ limit: 3, function: 'f' }).next).toBeUndefined();
  });

  it('Should refuse a cursor that names no live task', async () => {
    const { backend } = filled();
    await expect(backend.list({ limit: 2, before: 'nope' })).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringContaining('before'),
    });
  });

  it('Should leave out expired records, however many came and went', () => {
    const { backend } = setup({ maxFinished: 10 });
    backend.submitNow(task({ id: 'first' }));
    for (let i = 0; i < 5000; i++) backend.cancelNow(backend.submitNow(task()).id);
    const page = backend.listNow({ limit: 1000 });
    expect(page.tasks).toHaveLength(11);
    expect(page.tasks.at(-1)?.id).toBe('first');
    expect(page.tasks.slice(0, 10).every((t) => t.status === 'cancelled')).toBe(true);
  });
});

describe('MemoryTaskBackend: replay', () => {
  it('Should run a failed or cancelled task again as a new one with the same args', async () => {
    const { backend } = setup();
    backend.submitNow(task({ id: 'a', args: [1, { x: 2 }], retry: { attempts: 2, backoffMs: 5 } }));
    backend.cancelNow('a');
    const replay = await backend.replay('a', 100);
    expect(replay).toMatchObject({ status: 'queued', retryOf: 'a', function: 'f', attempts: 2 });
    expect(replay.id).not.toBe('a');
    const [claimed] = backend.claimNow('f', 1, 1);
    expect(claimed?.args).toEqual([1, { x: 2 }]);
    backend.finishNow(replay.id, threw('result_not_serializable'));
    expect(backend.replayNow(replay.id, 100).retryOf).toBe(replay.id);
  });

  it('Should refuse to replay a task that is not failed or cancelled, or is unknown', async () => {
    const { backend } = setup();
    backend.submitNow(task({ id: 'a', maxQueue: 1 }));
    await expect(backend.replay('a', 100)).rejects.toMatchObject({ code: 'not_retryable' });
    await expect(backend.replay('zz', 100)).rejects.toMatchObject({ code: 'unknown_task' });
    backend.submitNow(task({ id: 'b', function: 'g' }));
    backend.cancelNow('b');
    backend.submitNow(task({ function: 'g' }));
    expect(codeOf(() => backend.replayNow('b', 1))).toBe('queue_full');
  });
});

describe('MemoryTaskBackend: listeners and shutdown', () => {
  it('Should tell subscribers every state change until they unsubscribe', () => {
    const { backend, clock } = setup();
    const seen: string[] = [];
    const stop = backend.subscribe((r) => seen.push(`${r.id}:${r.status}:${r.attempt}`));
    backend.submitNow(task({ id: 'a', retry: { attempts: 2, backoffMs: 1 } }));
    backend.claimNow('f', 1, 1);
    backend.finishNow('a', threw());
    clock.advance(10);
    backend.claimNow('f', 1, 1);
    backend.finishNow('a', completed());
    stop();
    backend.submitNow(task({ id: 'b' }));
    expect(seen).toEqual([
      'a:queued:1',
      'a:running:1',
      'a:queued:2',
      'a:running:2',
      'a:completed:2',
    ]);
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

  it('Should log a listener that throws and carry on', () => {
    const { backend, logged } = setup();
    backend.subscribe(() => {
      throw new Error('listener bug');
    });
    expect(backend.submitNow(task({ id: 'a' })).status).toBe('queued');
    expect(logged).toEqual(['a task backend listener threw: listener bug']);
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

  it('Should stop its retry timers on close', async () => {
    const { backend, clock } = setup();
    backend.submitNow(task({ id: 'a', retry: { attempts: 2, backoffMs: 100 } }));
    backend.claimNow('f', 1, 1);
    backend.finishNow('a', threw());
    await backend.close();
    expect(clock.pending).toBe(0);
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
