/**
 * The runtime's task lifecycle and failure handling with real workers on the Node host: every
 * failure kind is followed by a good call on the same function, which must still work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailureCode, Runtime, TaskRecord } from '../runtime/index.ts';
import { startCore } from './support/core-runtime.ts';
import { until } from './support/wait.ts';

let runtime: Runtime;
const warnings: string[] = [];

beforeAll(async () => {
  process.env.EBBFLOW_TEST_SECRET = 'server-only';
  runtime = await startCore({ maxWorkers: 12, log: (message) => warnings.push(message) });
});

afterAll(async () => {
  await runtime?.close({ drainTimeoutMs: 1000 });
});

/** Resolves once task `id` runs on a worker. */
const running = (id: string) => until(async () => (await runtime.result(id))?.status === 'running');

const expectOkAfter = async (name = 'faulty') => {
  const record = await runtime.call(name, ['ok', 'after']);
  expect(record.status).toBe('completed');
  expect(record.result).toEqual({ echo: 'after' });
};

const failedWith = async (
  mode: string,
  message: string | RegExp,
  code: FailureCode = 'function_threw',
): Promise<TaskRecord> => {
  const record = await runtime.call('faulty', [mode]);
  expect(record.status).toBe('failed');
  expect(record.errorCode).toBe(code);
  expect(record.error).toMatch(message);
  expect(record.failedAt).toBeGreaterThanOrEqual(record.submittedAt);
  expect(record.workerId).toBeTypeOf('number');
  await expectOkAfter();
  return record;
};

describe('registry', () => {
  it('Should list good modules as ready and bad ones as unavailable with the loader message', () => {
    const byName = Object.fromEntries(runtime.functions().map((f) => [f.name, f]));
    expect(Object.keys(byName).sort()).toEqual([
      'add',
      'bad-config',
      'faulty',
      'keeps-alive',
      'narrow',
      'no-default',
      'plain',
      'syntax-error',
      'throws-at-load',
    ]);
    for (const good of ['add', 'faulty', 'keeps-alive', 'narrow', 'plain']) {
      expect(byName[good]?.status).toBe('ready');
    }
    expect(byName['syntax-error']?.status).toBe('unavailable');
    expect(byName['syntax-error']?.error).toMatch(
      /the module failed to load: Expected .* \(line 2\)/,
    );
    expect(byName['throws-at-load']?.error).toMatch(/cannot start: missing setting/);
    expect(byName['no-default']?.error).toMatch(/no default export that is a function/);
    expect(byName['bad-config']?.error).toBe(
      "the module's config is invalid: option config.maxWorkers must be an integer >= 1, got -3",
    );
  });

  it('Should warn about files that are not function modules', () => {
    expect(
      warnings.some((w) => w.includes('bad name!.ts') && w.includes('not a valid function name')),
    ).toBe(true);
    expect(warnings.some((w) => w.includes('notes.txt'))).toBe(true);
  });

  it('Should apply a module config over the defaults', () => {
    expect(runtime.getFunction('narrow')).toMatchObject({
      minWorkers: 1,
      maxWorkers: 1,
      maxQueue: 2,
    });
    expect(runtime.getFunction('add')).toMatchObject({ concurrency: 1, timeoutMs: 30_000 });
    expect(runtime.getFunction('missing')).toBeUndefined();
  });

  it('Should fail tasks of an unavailable function with the loader message', async () => {
    const record = await runtime.call('throws-at-load', []);
    expect(record.status).toBe('failed');
    expect(record.errorCode).toBe('load_failed');
    expect(record.error).toMatch(/cannot start: missing setting/);
  });
});

describe('lifecycle', () => {
  it('Should record queued, then completed with timing and worker id', async () => {
    const submitted = await runtime.submit('add', [41], { id: 'lifecycle-1' });
    expect(submitted).toMatchObject({
      id: 'lifecycle-1',
      function: 'add',
      status: 'queued',
      submittedAt: expect.any(Number),
      attempt: 1,
      attempts: 1,
      version: 1,
    });
    const done = await runtime.wait('lifecycle-1', 5000);
    expect(done).toMatchObject({ status: 'completed', result: 42, workerId: expect.any(Number) });
    expect(done?.startedAt).toBeGreaterThanOrEqual(submitted.submittedAt);
    expect(done?.completedAt).toBeGreaterThanOrEqual(done?.startedAt as number);
    // The run's time is the span from its start to its end (each rounded to the ms).
    const span = (done?.completedAt as number) - (done?.startedAt as number);
    expect(Math.abs(span - (done?.executionTime as number))).toBeLessThanOrEqual(1);
    expect(await runtime.result('lifecycle-1')).toEqual(done);
  });

  it('Should show a task as running while it runs', async () => {
    const { id } = await runtime.submit('faulty', ['sleep', 300]);
    let seen: TaskRecord | undefined;
    await until(async () => {
      seen = await runtime.result(id);
      return seen?.status !== 'queued';
    });
    expect(seen).toMatchObject({ status: 'running', workerId: expect.any(Number) });
    expect(seen?.startedAt).toBeTypeOf('number');
    const done = await runtime.wait(id, 5000);
    expect(done?.status).toBe('completed');
    // It slept 300 ms in the worker.
    expect(done?.executionTime).toBeGreaterThanOrEqual(290);
  });

  it('Should run plain JavaScript modules', async () => {
    expect((await runtime.call('plain', ['a', 1])).result).toBe('a-1');
  });

  it('Should keep results and order right across thousands of concurrent tasks', async () => {
    const records = await Promise.all(
      Array.from({ length: 3000 }, (_, i) => runtime.call('add', [i])),
    );
    expect(records.every((r, i) => r.status === 'completed' && r.result === i + 1)).toBe(true);
    expect(new Set(records.map((r) => r.id)).size).toBe(3000);
  });

  it('Should wait until the time is up and answer the record as it is then', async () => {
    const { id } = await runtime.submit('faulty', ['sleep', 400]);
    const early = await runtime.wait(id, 50);
    expect(early?.status === 'queued' || early?.status === 'running').toBe(true);
    expect((await runtime.wait(id, 5000))?.status).toBe('completed');
    expect(await runtime.wait('no-such-task', 10)).toBeUndefined();
  });
});

describe('failures', () => {
  it('Should fail with the thrown message and keep the worker', async () => {
    const before = runtime.getFunction('faulty')?.activeWorkers;
    const record = await failedWith('throw', 'asked to throw');
    const span = (record.failedAt as number) - (record.startedAt as number);
    expect(Math.abs(span - (record.executionTime as number))).toBeLessThanOrEqual(1);
    expect(runtime.getFunction('faulty')?.activeWorkers).toBe(before);
  });

  it('Should describe a rejection with a non-Error value', async () => {
    await failedWith('reject-non-error', 'the function failed with a non-Error value: 42');
  });

  it('Should time out a task that never resolves and replace its worker', async () => {
    const record = await failedWith('hang', 'timed out after 1500 ms', 'timed_out');
    expect(record.executionTime).toBeGreaterThanOrEqual(1400);
  });

  it('Should time out an infinite synchronous loop', async () => {
    await failedWith('spin', 'timed out after 1500 ms', 'timed_out');
  });

  it("Should let a task's timeoutMs win over the function's", async () => {
    const record = await runtime.call('faulty', ['hang'], { timeoutMs: 200 });
    expect(record.error).toBe('timed out after 200 ms');
    await expectOkAfter();
  });

  it('Should name the exit code when the worker exits', async () => {
    await failedWith('exit', 'the worker exited with code 3', 'worker_exited');
  });

  it('Should report a worker that ran out of memory', async () => {
    await failedWith('oom', 'the worker ran out of memory (limit 32 MiB)', 'out_of_memory');
  });

  it('Should count Buffers against memoryLimitMb: 256 MiB of them end a 32 MiB worker', async () => {
    const record = await runtime.call('faulty', ['hoard-buffers', 256]);
    expect(record).toMatchObject({ status: 'failed', errorCode: 'out_of_memory' });
    expect(record.error).toMatch(
      /^the worker ran out of memory \(limit 32 MiB\): its JavaScript heap and buffers used \d+ MiB$/,
    );
    await expectOkAfter();
    // Stopped near the limit, long before it held what it asked for.
    expect(Number(/used (\d+) MiB/.exec(record.error ?? '')?.[1])).toBeLessThan(128);
  });

  it('Should keep a throw that cannot be described a throw, the worker serving on', async () => {
    for (const mode of ['throw-unprintable', 'throw-proxy']) {
      const thrown = await runtime.call('faulty', [mode]);
      expect(thrown).toMatchObject({ status: 'failed', errorCode: 'function_threw' });
      expect(thrown.error).toMatch(/^the function failed with a (non-Error )?value/);
      // The same worker answers next: it did not die of it.
      const next = await runtime.call('faulty', ['ok', 'after'], {});
      expect(next.status).toBe('completed');
    }
  });

  it('Should fail results that cannot be sent as JSON, naming what is wrong', async () => {
    await failedWith(
      'return-function',
      /could not be serialised: the result is a function/,
      'result_not_serializable',
    );
    await failedWith('return-bigint', /the result\.big is a bigint/, 'result_not_serializable');
    await failedWith('return-symbol', /the result\[0\] is a symbol/, 'result_not_serializable');
    await failedWith(
      'return-map',
      /the result is a Map, not a plain object/,
      'result_not_serializable',
    );
  });

  it('Should requeue tasks that had not started when a batch-mate hung', async () => {
    // Warm the batch sizing with fast calls, then hide one spinning call among them.
    await Promise.all(Array.from({ length: 200 }, () => runtime.call('faulty', ['ok'])));
    const calls = Array.from({ length: 300 }, (_, i) =>
      runtime.call('faulty', i === 150 ? ['spin'] : ['ok', i]),
    );
    const records = await Promise.all(calls);
    const failed = records.filter((r) => r.status === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.errorCode).toBe('timed_out');
    expect(failed[0]?.error).toBe('timed out after 1500 ms');
    expect(records.filter((r) => r.status === 'completed')).toHaveLength(299);
  });

  it('Should not show the server environment to functions', async () => {
    const record = await runtime.call('faulty', ['env']);
    expect(record.result).toEqual({ secret: null, keys: 0 });
  });
});

describe('submission rules', () => {
  it('Should refuse a duplicate id while the first is known', async () => {
    await runtime.submit('add', [1], { id: 'dup-1' });
    await expect(runtime.submit('add', [1], { id: 'dup-1' })).rejects.toThrow(
      expect.objectContaining({ code: 'duplicate_id' }),
    );
    await runtime.wait('dup-1', 5000);
    await expect(runtime.submit('add', [1], { id: 'dup-1' })).rejects.toThrow(/already in use/);
  });

  it('Should refuse bad ids, timeouts, arguments, retries and names with distinct codes', async () => {
    const code = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        return (error as { code?: string }).code;
      }
      return 'no error';
    };
    expect(await code(() => runtime.submit('nope', []))).toBe('unknown_function');
    expect(await code(() => runtime.submit('add', [1], { id: '...' }))).toBe('invalid_argument');
    expect(await code(() => runtime.submit('add', [1], { id: 'a/b' }))).toBe('invalid_argument');
    expect(await code(() => runtime.submit('add', [1], { id: 'x'.repeat(129) }))).toBe(
      'invalid_argument',
    );
    expect(await code(() => runtime.submit('add', [1], { timeoutMs: 0 }))).toBe('invalid_argument');
    expect(await code(() => runtime.submit('add', [1], { timeoutMs: 1.5 }))).toBe(
      'invalid_argument',
    );
    expect(await code(() => runtime.submit('add', [1], { timeoutMs: 2 ** 33 }))).toBe(
      'invalid_argument',
    );
    expect(await code(() => runtime.submit('add', [() => 1]))).toBe('invalid_argument');
    expect(await code(() => runtime.submit('add', 'x' as unknown as unknown[]))).toBe(
      'invalid_argument',
    );
    expect(await code(() => runtime.submit('add', [1], { retry: { attempts: 11 } }))).toBe(
      'invalid_argument',
    );
  });

  it('Should refuse tasks past the queue limit, and accept again once it drains', async () => {
    const first = await runtime.submit('narrow', [300]);
    // Running on narrow's only worker: the queue (maxQueue 2) is empty.
    await running(first.id);
    const queued = [await runtime.submit('narrow', [1]), await runtime.submit('narrow', [1])];
    await expect(runtime.submit('narrow', [1])).rejects.toThrow(
      expect.objectContaining({ code: 'queue_full' }),
    );
    for (const { id } of [first, ...queued])
      expect((await runtime.wait(id, 5000))?.status).toBe('completed');
    expect((await runtime.call('narrow', [1])).status).toBe('completed');
  });
});

describe('cancel', () => {
  it('Should cancel a queued task so it never runs', async () => {
    const blocker = await runtime.submit('narrow', [300]);
    const queued = await runtime.submit('narrow', [1]);
    const cancelled = await runtime.cancel(queued.id);
    expect(cancelled).toMatchObject({ status: 'cancelled', cancelledAt: expect.any(Number) });
    expect((await runtime.wait(blocker.id, 5000))?.status).toBe('completed');
    expect((await runtime.result(queued.id))?.status).toBe('cancelled');
    expect((await runtime.result(queued.id))?.startedAt).toBeUndefined();
  });

  it('Should cancel a running task, replace its worker and keep serving', async () => {
    const { id } = await runtime.submit('faulty', ['hang']);
    await running(id);
    expect((await runtime.cancel(id)).status).toBe('cancelled');
    await expectOkAfter();
    expect((await runtime.result(id))?.status).toBe('cancelled');
  });

  it('Should refuse to cancel a finished or unknown task', async () => {
    const done = await runtime.call('add', [1]);
    await expect(runtime.cancel(done.id)).rejects.toThrow(
      expect.objectContaining({ code: 'already_terminal' }),
    );
    await expect(runtime.cancel('never-was')).rejects.toThrow(
      expect.objectContaining({ code: 'unknown_task' }),
    );
  });
});

describe('stats', () => {
  it('Should count tasks per function and in total', async () => {
    const before = runtime.stats();
    await runtime.call('add', [1]);
    await runtime.call('faulty', ['throw']);
    const after = runtime.stats();
    expect(after.functions.add?.tasksCompleted).toBe(
      (before.functions.add?.tasksCompleted ?? 0) + 1,
    );
    expect(after.functions.faulty?.tasksFailed).toBe(
      (before.functions.faulty?.tasksFailed ?? 0) + 1,
    );
    expect(after.performanceMetrics.tasksCompleted).toBeGreaterThan(
      before.performanceMetrics.tasksCompleted,
    );
    expect(after.activeWorkers).toBeLessThanOrEqual(after.maxWorkers);
  });
});
