/**
 * Retries, the task listing and replay over a real runtime: functions that fail a set number of
 * times (counted in files), time out or crash, so attempts, backoff and dead letters are the real
 * backend's. Their validation and error statuses are tested on a fake runtime beside the routes.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderSource } from '../runtime/host/fs-source.ts';
import type { Runtime } from '../runtime/index.ts';
import { startApi } from './fixtures/api-app.ts';

const RETRY_FUNCTIONS = fileURLToPath(new URL('./fixtures/retry-functions/', import.meta.url));

let app: Hono;
let runtime: Runtime;

beforeAll(async () => {
  ({ app, runtime } = await startApi({ source: folderSource(RETRY_FUNCTIONS) }));
});
afterAll(async () => {
  await runtime.close({ drainTimeoutMs: 0 });
  for (const used of keys) rmSync(join(tmpdir(), 'ebbflow-flaky', used), { force: true });
});

interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field.
  body: any;
}

const call = async (path: string, init: RequestInit = {}): Promise<Answer> => {
  const res = await app.request(path, init);
  return { status: res.status, headers: res.headers, body: await res.json() };
};

const post = (path: string, body?: unknown) =>
  call(path, {
    method: 'POST',
    body: body === undefined ? '' : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
  });

/** Submit and wait (long-polls) for the task's end. */
const run = async (fn: string, body: unknown) => {
  const accepted = await post(`/functions/${fn}/tasks`, body);
  expect(accepted.status).toBe(202);
  for (;;) {
    const polled = await call(`/tasks/${accepted.body.id}?wait=30000`);
    if (polled.body.status !== 'queued' && polled.body.status !== 'running') return polled.body;
  }
};

/** A key of the flaky functions' run counts (a file each), new on each test run. */
const keys: string[] = [];
const key = (name: string) => {
  keys.push(`${name}-${crypto.randomUUID()}`);
  return keys.at(-1) as string;
};

const ids = (answer: Answer): string[] => answer.body.tasks.map((t: { id: string }) => t.id);

describe('retries', () => {
  it('Should run a task that fails twice a third time, and complete it there', async () => {
    const record = await run('flaky', {
      args: [key('third-time'), 2],
      retry: { attempts: 3, backoffMs: 10 },
    });
    expect(record).toMatchObject({ status: 'completed', result: 3, attempt: 3, attempts: 3 });
  });

  it('Should retry an invoke the same way and answer 200 with the last run', async () => {
    const a = await post('/functions/flaky/invoke', {
      args: [key('invoked'), 1],
      retry: { attempts: 2, backoffMs: 0 },
    });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ status: 'completed', result: 2, attempt: 2 });
  });

  it('Should retry a run that timed out, or whose worker exited, on a new worker', async () => {
    expect(
      await run('stall-once', {
        args: [key('stalled')],
        timeoutMs: 300,
        retry: { attempts: 2, backoffMs: 0 },
      }),
    ).toMatchObject({ status: 'completed', result: 2, attempt: 2 });
    expect(
      await run('crash-once', { args: [key('crashed')], retry: { attempts: 2, backoffMs: 0 } }),
    ).toMatchObject({ status: 'completed', result: 2, attempt: 2 });
    const timedOut = await run('stall-once', { args: [key('stalled')], timeoutMs: 300 });
    expect(timedOut).toMatchObject({ status: 'failed', errorCode: 'timed_out', attempt: 1 });
  });

  it("Should take the function's config.retry unless the task sets its own", async () => {
    expect((await call('/functions/flaky-config')).body.retry).toEqual({
      attempts: 3,
      backoffMs: 10,
    });
    expect(await run('flaky-config', { args: [key('by-config'), 2] })).toMatchObject({
      status: 'completed',
      attempt: 3,
    });
    expect(
      await run('flaky-config', { args: [key('by-task'), 2], retry: { attempts: 1 } }),
    ).toMatchObject({ status: 'failed', attempt: 1, attempts: 1, errorCode: 'function_threw' });
  });

  it('Should fail for good once the attempts are spent, and list it as a dead letter', async () => {
    const record = await run('boom', { retry: { attempts: 2, backoffMs: 10 } });
    expect(record).toMatchObject({
      status: 'failed',
      attempt: 2,
      attempts: 2,
      error: 'boom',
      errorCode: 'function_threw',
    });
    const dead = await call('/tasks?status=failed');
    expect(dead.status).toBe(200);
    expect(ids(dead)).toContain(record.id);
    expect(dead.body.tasks.every((t: { status: string }) => t.status === 'failed')).toBe(true);
  });

  it('Should make a function with a bad config.retry unavailable, saying why', async () => {
    const info = (await call('/functions/bad-retry')).body;
    expect(info.status).toBe('unavailable');
    expect(info.error).toContain('config.retry.attempts must be an integer from 1 to 10, got 11');
  });
});

describe('GET /tasks', () => {
  const submitted: string[] = [];
  beforeAll(async () => {
    for (const name of ['l1', 'l2', 'l3']) {
      submitted.push((await run('flaky', { args: [key(name), 0] })).id);
    }
    submitted.push((await run('boom', {})).id);
  });

  it('Should list the newest first, invoked tasks included, with filters', async () => {
    const invoked = await post('/functions/flaky/invoke', { args: [key('l-invoked'), 0] });
    const all = await call('/tasks');
    expect(all.status).toBe(200);
    expect(ids(all).slice(0, 5)).toEqual([invoked.body.id, ...[...submitted].reverse()]);
    const flaky = await call('/tasks?function=flaky&status=completed');
    expect(ids(flaky).slice(0, 4)).toEqual([invoked.body.id, ...submitted.slice(0, 3).reverse()]);
    expect(flaky.body.tasks.every((t: { function: string }) => t.function === 'flaky')).toBe(true);
    expect(ids(await call('/tasks?function=hold'))).toEqual([]);
  });

  it('Should page with limit, next and before', async () => {
    const first = await call('/tasks?function=flaky&limit=2');
    expect(first.body.tasks).toHaveLength(2);
    expect(first.body.next).toBe(first.body.tasks[1].id);
    const second = await call(`/tasks?function=flaky&limit=2&before=${first.body.next}`);
    expect(second.body.tasks).toHaveLength(2);
    const whole = await call('/tasks?function=flaky&limit=1000');
    expect([...ids(first), ...ids(second)]).toEqual(ids(whole).slice(0, 4));
    expect(whole.body.next).toBeUndefined();
  });
});

describe('POST /tasks/:id/retry', () => {
  it('Should run a failed task again as a new task with the same function and args', async () => {
    const failed = await run('flaky', { args: [key('replayed'), 1] });
    expect(failed).toMatchObject({ status: 'failed', attempt: 1, errorCode: 'function_threw' });
    const a = await post(`/tasks/${failed.id}/retry`);
    expect(a.status).toBe(202);
    expect(a.body).toMatchObject({ function: 'flaky', status: 'queued', retryOf: failed.id });
    expect(a.body.id).not.toBe(failed.id);
    expect(a.headers.get('Location')).toBe(`/tasks/${a.body.id}`);
    const done = await call(`/tasks/${a.body.id}?wait=30000`);
    expect(done.body).toMatchObject({ status: 'completed', result: 2, retryOf: failed.id });
  });

  it('Should replay a cancelled task', async () => {
    const accepted = await post('/functions/hold/tasks', { args: [60_000, 'kept'] });
    const cancelled = await call(`/tasks/${accepted.body.id}`, { method: 'DELETE' });
    expect(cancelled.body.status).toBe('cancelled');
    const a = await post(`/tasks/${accepted.body.id}/retry`);
    expect(a.status).toBe(202);
    expect(a.body).toMatchObject({ function: 'hold', retryOf: accepted.body.id });
    expect(['queued', 'running']).toContain((await call(`/tasks/${a.body.id}`)).body.status);
    expect((await call(`/tasks/${a.body.id}`, { method: 'DELETE' })).body.status).toBe('cancelled');
  });
});
