/**
 * Retries, replay and ephemeral runs through the runtime, in process with a manual clock: the
 * backend's backoff timers move only when the test advances time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startInProcess, until } from '../test/support/in-process.ts';
import type { Runtime, TaskRecord } from './types.ts';

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.close({ drainTimeoutMs: 0 });
  runtime = undefined;
});

/** Throws until it has been called `failures` times for a key, then answers. */
const flaky = () => {
  const calls = new Map<string, number>();
  return {
    default: (key: string, failures: number) => {
      const n = (calls.get(key) ?? 0) + 1;
      calls.set(key, n);
      if (n <= failures) throw new Error(`${key} failed run ${n}`);
      return `${key} ok on run ${n}`;
    },
  };
};

const record = async (id: string): Promise<TaskRecord> => {
  const found = await runtime?.result(id);
  if (!found) throw new Error(`no record ${id}`);
  return found;
};

describe.each(['memory', 'async'] as const)('retries, in process (%s backend)', (kind) => {
  it('Should run a failed task again after its backoff and keep it queued in between', async () => {
    const started = await startInProcess({ flaky: flaky() }, {}, kind);
    runtime = started.runtime;
    const { id } = await runtime.submit('flaky', ['a', 1], {
      retry: { attempts: 3, backoffMs: 1000 },
    });
    await until('the first run to fail', () => runtime?.stats().functions.flaky?.tasksFailed === 1);
    expect(await record(id)).toMatchObject({ status: 'queued', attempt: 2, attempts: 3 });
    // Not before the backoff: 1000 ms plus up to 20 % jitter.
    started.clock.advance(999);
    expect((await record(id)).status).toBe('queued');
    started.clock.advance(201);
    await until(
      'the retry to complete',
      () => runtime?.stats().functions.flaky?.tasksCompleted === 1,
    );
    expect(await record(id)).toMatchObject({
      status: 'completed',
      result: 'a ok on run 2',
      attempt: 2,
      attempts: 3,
    });
  });

  it('Should fail for good once the attempts are spent, with the last error and its code', async () => {
    const started = await startInProcess({ flaky: flaky() }, { minWorkers: 1 }, kind);
    runtime = started.runtime;
    const { id } = await runtime.submit('flaky', ['b', 5], {
      retry: { attempts: 2, backoffMs: 100 },
    });
    await until('the first run to fail', () => runtime?.stats().functions.flaky?.tasksFailed === 1);
    started.clock.advance(120);
    await until(
      'the second run to fail',
      () => runtime?.stats().functions.flaky?.tasksFailed === 2,
    );
    expect(await record(id)).toMatchObject({
      status: 'failed',
      errorCode: 'function_threw',
      error: 'b failed run 2',
      attempt: 2,
      attempts: 2,
    });
    // A dead letter: listed among the failed.
    const page = await runtime.list({ status: 'failed', limit: 10 });
    expect(page.tasks.map((t) => t.id)).toContain(id);
  });

  it("Should take the function's config.retry, and never retry what cannot succeed", async () => {
    const started = await startInProcess(
      {
        configured: { ...flaky(), config: { retry: { attempts: 2, backoffMs: 50 } } },
        bad: { default: () => () => 'a function is no JSON', config: { retry: { attempts: 5 } } },
      },
      {},
      kind,
    );
    runtime = started.runtime;
    const ok = await runtime.submit('configured', ['c', 1]);
    expect(ok).toMatchObject({ attempts: 2 });
    await until('c to fail once', () => runtime?.stats().functions.configured?.tasksFailed === 1);
    started.clock.advance(60);
    expect((await runtime.wait(ok.id, 1_000))?.status).toBe('completed');
    const bad = await runtime.call('bad', []);
    expect(bad).toMatchObject({
      status: 'failed',
      errorCode: 'result_not_serializable',
      attempt: 1,
      attempts: 5,
    });
  });

  it('Should replay a failed task as a new one that names the old', async () => {
    const started = await startInProcess({ flaky: flaky() }, {}, kind);
    runtime = started.runtime;
    const first = await runtime.call('flaky', ['d', 1]);
    expect(first.status).toBe('failed');
    const again = await runtime.retry(first.id);
    expect(again).toMatchObject({ status: 'queued', retryOf: first.id, function: 'flaky' });
    expect(again.id).not.toBe(first.id);
    expect((await runtime.wait(again.id, 1_000))?.result).toBe('d ok on run 2');
    await expect(runtime.retry(again.id)).rejects.toMatchObject({ code: 'not_retryable' });
    await expect(runtime.retry('never-was')).rejects.toMatchObject({ code: 'unknown_task' });
  });
});

describe('ephemeral runs (no record)', () => {
  it('Should run through the pool and counters but leave no record', async () => {
    let hangBegun = false;
    const started = await startInProcess({
      echo: { default: (x: unknown) => x },
      boom: {
        default: () => {
          throw new TypeError('nope');
        },
      },
      hang: {
        default: () => {
          hangBegun = true;
          return new Promise(() => {});
        },
      },
    });
    runtime = started.runtime;
    const done = await runtime.runEphemeral('echo', [{ a: 1 }]);
    expect(done).toMatchObject({ status: 'completed', result: { a: 1 } });
    expect(runtime.stats().functions.echo?.tasksCompleted).toBe(1);
    expect((await runtime.list({ limit: 100 })).tasks).toEqual([]);
    expect(await runtime.runEphemeral('boom', [])).toMatchObject({
      status: 'failed',
      errorCode: 'function_threw',
      error: 'TypeError: nope',
    });
    const hung = runtime.runEphemeral('hang', [], { timeoutMs: 500 });
    // Begun in the worker, not only sent: its timeout counts from when it began.
    await until('the hang to begin', () => hangBegun);
    expect(runtime.stats().functions.hang?.activeTasks).toBe(1);
    started.clock.advance(600);
    expect(await hung).toMatchObject({ status: 'failed', errorCode: 'timed_out' });
    await expect(runtime.runEphemeral('nope', [])).rejects.toMatchObject({
      code: 'unknown_function',
    });
  });
});
