/**
 * The client against the app in the same process: `createApp` over a fake runtime, reached
 * through the client's `fetch` option (`app.request`), so every call crosses the real routes,
 * validation and error shapes with no socket and no thread.
 */
import { describe, expect, it } from 'vitest';
import type { ScalingEvent } from '../runtime/index.ts';
import { type FakeFunction, fakeApp, Latch } from '../test/support/fake-app.ts';
import { createClient, EbbflowClientError } from './index.ts';

type Functions = {
  add: { args: [number, number]; result: number };
  later: { args: unknown[]; result: unknown };
};

const setup = (options: { token?: string; adminToken?: string } = {}) => {
  const latch = new Latch();
  const functions: Record<string, FakeFunction> = {
    add: { run: (a, b) => (a as number) + (b as number) },
    boom: {
      run: () => {
        throw new Error('boom');
      },
    },
    later: { run: latch.run },
    hold: { run: () => new Promise(() => {}), config: { maxQueue: 1 } },
    web: { fetch: (request) => new Response(`${request.method} ${new URL(request.url).pathname}`) },
  };
  const served = fakeApp(functions, options);
  const client = createClient<Functions>({
    baseUrl: 'http://ebbflow.test/',
    token: options.token,
    fetch: served.app.request,
  });
  return { ...served, client, latch };
};

/** The error a call rejects with. */
const failure = async (call: Promise<unknown>): Promise<EbbflowClientError> => {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EbbflowClientError);
  return error as EbbflowClientError;
};

describe('invoke', () => {
  it('Should resolve with the result', async () => {
    const { client } = setup();
    const sum: number = await client.invoke('add', [2, 3]);
    expect(sum).toBe(5);
  });

  it('Should throw the failed or timed-out task with its code and status', async () => {
    const { client } = setup();
    const thrown = await failure(client.invoke('boom' as 'add', [1, 2]));
    expect(thrown).toMatchObject({ status: 500, code: 'function_threw', message: 'boom' });
    expect(thrown.task).toMatchObject({ function: 'boom', status: 'failed' });
    const late = await failure(client.invoke('hold' as 'add', [1, 2], { timeoutMs: 20 }));
    expect(late).toMatchObject({ status: 504, code: 'timed_out' });
    expect(late.task?.timedOut).toBe(true);
  });

  it("Should throw the server's refusals with their code, details included", async () => {
    const { client } = setup();
    expect(await failure(client.invoke('nope' as 'add', [1, 2]))).toMatchObject({
      status: 404,
      code: 'unknown_function',
      message: 'no function named "nope"',
    });
    const bad = await failure(client.invoke('add', [1, 2], { timeoutMs: 0 }));
    expect(bad).toMatchObject({ status: 400, code: 'invalid_body' });
    expect(bad.details).toEqual([{ field: 'timeoutMs', message: 'timeoutMs must be at least 1' }]);
  });
});

describe('submit, result and cancel', () => {
  it('Should queue a task with its options, then long-poll its result', async () => {
    const { client, latch } = setup();
    const queued = await client.submit('later', [1], {
      id: 'job:1',
      retry: { attempts: 2, backoffMs: 0 },
    });
    expect(queued).toMatchObject({ id: 'job:1', status: 'queued', attempts: 2 });
    await expect.poll(() => latch.waiting).toBe(1);
    expect((await client.result('job:1')).status).toBe('running');
    const done = client.result('job:1', { wait: 5000 });
    latch.open();
    expect(await done).toMatchObject({ status: 'completed', result: [1] });
    expect(await failure(client.submit('later', [], { id: 'job:1' }))).toMatchObject({
      status: 409,
      code: 'duplicate_id',
    });
  });

  it('Should answer 404 for an unknown task and 400 for a bad wait', async () => {
    const { client } = setup();
    expect(await failure(client.result('gone'))).toMatchObject({
      status: 404,
      code: 'unknown_task',
    });
    expect(await failure(client.result('gone', { wait: -1 }))).toMatchObject({
      status: 400,
      code: 'invalid_query',
    });
  });

  it('Should cancel a task, then refuse to cancel it again', async () => {
    const { client } = setup();
    const task = await client.submit('later', []);
    expect(await client.cancel(task.id)).toMatchObject({ id: task.id, status: 'cancelled' });
    expect(await failure(client.cancel(task.id))).toMatchObject({
      status: 409,
      code: 'already_terminal',
    });
  });

  it('Should throw 429 with the code when the queue is full', async () => {
    const { client } = setup();
    await client.submit('hold' as 'later', []);
    await client.submit('hold' as 'later', []);
    expect(await failure(client.submit('hold' as 'later', []))).toMatchObject({
      status: 429,
      code: 'queue_full',
      retryAfter: expect.any(Number),
    });
  });

  it('Should throw 503 too_many_streams with Retry-After when the server holds its bound', async () => {
    const served = fakeApp({ later: { run: new Latch().run } }, { maxStreams: 1 });
    const client = createClient({ baseUrl: 'http://ebbflow.test', fetch: served.app.request });
    const watching = new AbortController();
    const events = client.events({ signal: watching.signal });
    const first = events.next();
    await expect
      .poll(async () => (await served.app.request('/metrics')).text())
      .toContain('ebbflow_open_streams 1');
    const refused = await failure(client.events().next());
    expect(refused).toMatchObject({ status: 503, code: 'too_many_streams', retryAfter: 5 });
    watching.abort();
    await first.catch(() => {});
  });
});

describe('list and retry', () => {
  it('Should list the newest first, filtered and paged', async () => {
    const { client } = setup();
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push((await client.submit('add', [n, n])).id);
    await client.invoke('boom' as 'add', [0, 0]).catch(() => {});
    const page = await client.list({ function: 'add', limit: 2 });
    expect(page.tasks.map((t) => t.id)).toEqual([ids[2], ids[1]]);
    expect(page.next).toBe(ids[1]);
    const rest = await client.list({ function: 'add', before: page.next });
    expect(rest.tasks.map((t) => t.id)).toEqual([ids[0]]);
    const failed = await client.list({ status: 'failed' });
    expect(failed.tasks.map((t) => t.function)).toEqual(['boom']);
    expect(await failure(client.list({ limit: 0 }))).toMatchObject({
      status: 400,
      code: 'invalid_query',
    });
  });

  it('Should run a failed task again as a new one, and refuse a completed one', async () => {
    const { client } = setup();
    const thrown = await failure(client.invoke('boom' as 'add', [1, 2]));
    const again = await client.retry(thrown.task?.id as string);
    expect(again).toMatchObject({ function: 'boom', retryOf: thrown.task?.id });
    const done = await client.submit('add', [1, 1]);
    await client.result(done.id, { wait: 5000 });
    expect(await failure(client.retry(done.id))).toMatchObject({
      status: 409,
      code: 'not_retryable',
    });
  });
});

describe('functions, stats, deploys and handlers', () => {
  it('Should read the functions and the stats', async () => {
    const { client } = setup();
    await client.invoke('add', [1, 1]);
    const names = (await client.functions()).map((f) => f.name);
    expect(names).toEqual(['add', 'boom', 'hold', 'later', 'web']);
    const stats = await client.stats();
    expect(stats.functions.add?.tasksCompleted).toBe(1);
    expect(stats.performanceMetrics.tasksCompleted).toBe(1);
  });

  it('Should deploy and remove with the admin token, and be refused with the invoke one', async () => {
    const admin = setup({ token: 'run', adminToken: 'admin' });
    const asAdmin = createClient({
      baseUrl: 'http://ebbflow.test',
      token: 'admin',
      fetch: admin.app.request,
    });
    const info = await asAdmin.deploy('twice', 'export default (n) => n * 2;', { language: 'js' });
    expect(info).toMatchObject({ name: 'twice', version: 1, status: 'ready' });
    expect(await asAdmin.invoke('twice', [4])).toBe(8);
    expect(await failure(admin.client.deploy('other', 'export default () => 1;'))).toMatchObject({
      status: 403,
      code: 'forbidden',
    });
    expect(await asAdmin.remove('twice')).toMatchObject({ status: 'deleted' });
  });

  it("Should call a function's fetch export and hand back its response", async () => {
    const { client } = setup();
    const response = await client.fetch('web', 'notes/7', { method: 'PUT', body: 'x' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('PUT /notes/7');
  });
});

describe('errors that are not answers', () => {
  it('Should throw 401 unauthorized without the token, and pass with it', async () => {
    const { app, client } = setup({ token: 'secret' });
    expect(await client.invoke('add', [1, 1])).toBe(2);
    const anonymous = createClient({ baseUrl: 'http://ebbflow.test', fetch: app.request });
    expect(await failure(anonymous.functions())).toMatchObject({
      status: 401,
      code: 'unauthorized',
    });
  });

  it('Should throw network_error when no answer comes, and aborted when the call was aborted', async () => {
    const down = createClient({
      baseUrl: 'http://ebbflow.test',
      fetch: () => Promise.reject(new TypeError('connection refused')),
    });
    const error = await failure(down.stats());
    expect(error).toMatchObject({ status: 0, code: 'network_error' });
    expect(error.message).toContain('connection refused');
    const controller = new AbortController();
    controller.abort();
    const aborted = createClient({
      baseUrl: 'http://ebbflow.test',
      fetch: (_url, init) => Promise.reject(init.signal?.reason),
    });
    expect(await failure(aborted.stats({ signal: controller.signal }))).toMatchObject({
      status: 0,
      code: 'aborted',
    });
  });

  it('Should name the status of an answer that is not in the error shape', async () => {
    const proxy = createClient({
      baseUrl: 'http://ebbflow.test',
      fetch: () => new Response('<html>bad gateway</html>', { status: 502 }),
    });
    expect(await failure(proxy.functions())).toMatchObject({ status: 502, code: 'http_502' });
  });
});

describe('events', () => {
  const scale: ScalingEvent = { at: 1, function: 'add', action: 'up', from: 0, to: 1, reason: 'r' };

  it('Should yield the live events parsed, filtered, until the signal aborts', async () => {
    const { client, runtime } = setup();
    const controller = new AbortController();
    const events = client.events({ types: ['task', 'scale'], signal: controller.signal });
    const first = events.next();
    await expect.poll(() => runtime.listening).toBe(1);
    runtime.emit({ type: 'log', data: { function: 'add', at: 1, level: 'log', message: 'x' } });
    runtime.emit({ type: 'scale', data: scale });
    expect((await first).value).toEqual({ type: 'scale', data: scale });
    await client.invoke('add', [1, 2]);
    const statuses: string[] = [];
    for await (const event of events) {
      if (event.type === 'task') statuses.push(event.data.status);
      if (statuses.length === 3) controller.abort();
    }
    expect(statuses).toEqual(['queued', 'running', 'completed']);
  });

  it("Should watch one task's record change until it ends, result included", async () => {
    const { client, latch } = setup();
    const task = await client.submit('later', [5]);
    await expect.poll(() => latch.waiting).toBe(1);
    const seen: string[] = [];
    const watching = (async () => {
      for await (const record of client.watch(task.id)) {
        seen.push(record.status);
        if (record.status === 'running') latch.open();
        if (record.status === 'completed') return record.result;
      }
      throw new Error('the stream ended before the task');
    })();
    expect(await watching).toEqual([5]);
    expect(seen).toEqual(['running', 'completed']);
  });

  it('Should throw the refusal of a stream as an error with its code', async () => {
    const { client } = setup();
    const events = client.events({ function: 'a.b' });
    expect(await failure(events.next())).toMatchObject({ status: 400, code: 'invalid_query' });
    expect(await failure(client.watch('gone').next())).toMatchObject({
      status: 404,
      code: 'unknown_task',
    });
  });
});
