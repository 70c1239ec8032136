/**
 * The task routes over a fake runtime: submit, invoke, read and long-poll, cancel, list and
 * replay, each success and each error status. What the runtime does with a task is the fake's;
 * what reaches it, and how its answers and refusals become HTTP, is the routes'.
 */
import { describe, expect, it } from 'vitest';
import { expectError, fakeApp, Latch } from '../../test/support/fake-app.ts';

const hold = () => new Promise(() => {});

const setup = () => {
  const latch = new Latch();
  const served = fakeApp({
    echo: { run: (...args) => args },
    boom: {
      run: () => {
        throw new Error('boom');
      },
    },
    broken: { loadError: 'broken on purpose' },
    later: { run: latch.run },
    hold: { run: hold, config: { maxQueue: 1 } },
  });
  return { ...served, latch };
};

describe('POST /functions/:name/tasks', () => {
  it('Should accept a task with 202 and Location, then long-poll its result', async () => {
    const { call, post } = setup();
    const a = await post('/functions/echo/tasks', { args: [1, 'two', { three: 3 }] });
    expect(a.status).toBe(202);
    expect(a.body).toMatchObject({ function: 'echo', status: 'queued', attempt: 1 });
    expect(a.headers.get('Location')).toBe(`/tasks/${a.body.id}`);
    const done = await call(`${a.headers.get('Location')}?wait=5000`);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'completed', result: [1, 'two', { three: 3 }] });
  });

  it('Should treat an empty body as {} and default args to []', async () => {
    const { call, post } = setup();
    const empty = await call('/functions/echo/tasks', { method: 'POST' });
    expect(empty.status).toBe(202);
    const noArgs = await post('/functions/echo/tasks', {});
    expect(noArgs.status).toBe(202);
    for (const id of [empty.body.id, noArgs.body.id]) {
      expect((await call(`/tasks/${id}?wait=5000`)).body.result).toEqual([]);
    }
  });

  it('Should hand the id, timeout and retry policy to the runtime', async () => {
    const { call, post } = setup();
    const a = await post('/functions/hold/tasks', {
      id: 'job-1.a:b_2',
      timeoutMs: 20,
      retry: { attempts: 2, backoffMs: 0 },
    });
    expect(a.status).toBe(202);
    expect(a.body).toMatchObject({ id: 'job-1.a:b_2', attempts: 2 });
    expect(a.headers.get('Location')).toBe('/tasks/job-1.a:b_2');
    const done = await call('/tasks/job-1.a:b_2?wait=5000');
    expect(done.body).toMatchObject({ status: 'failed', errorCode: 'timed_out', attempt: 2 });
  });

  it('Should answer 409 for an id already used', async () => {
    const { post } = setup();
    expect((await post('/functions/echo/tasks', { id: 'once' })).status).toBe(202);
    expectError(await post('/functions/echo/tasks', { id: 'once' }), 409, 'duplicate_id');
  });

  it('Should answer 400 naming the field for each bad input', async () => {
    const { post } = setup();
    const cases: Array<[unknown, string]> = [
      [{ args: 'x' }, 'args'],
      [{ args: { 0: 1 } }, 'args'],
      [{ id: '...' }, 'id'],
      [{ id: 'a b' }, 'id'],
      [{ id: '' }, 'id'],
      [{ id: 'x'.repeat(129) }, 'id'],
      [{ id: 5 }, 'id'],
      [{ timeoutMs: 0 }, 'timeoutMs'],
      [{ timeoutMs: -5 }, 'timeoutMs'],
      [{ timeoutMs: 1.5 }, 'timeoutMs'],
      [{ timeoutMs: '100' }, 'timeoutMs'],
      [{ timeoutMs: 2 ** 31 }, 'timeoutMs'],
      [{ arg: [1] }, 'arg'],
    ];
    for (const [body, field] of cases) {
      const a = await post('/functions/echo/tasks', body);
      expectError(a, 400, 'invalid_body');
      expect(a.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    for (const body of ['[]', 'null', '"text"', '42']) {
      expectError(await post('/functions/echo/tasks', body), 400, 'invalid_body', 'JSON object');
    }
  });

  it('Should refuse a bad retry field by name', async () => {
    const { post } = setup();
    const bad: Array<[unknown, string, string]> = [
      [{ attempts: 0 }, 'retry.attempts', 'at least 1'],
      [{ attempts: 11 }, 'retry.attempts', 'at most 10'],
      [{ attempts: 1.5 }, 'retry.attempts', 'integer'],
      [{ attempts: '3' }, 'retry.attempts', 'integer'],
      [{}, 'retry.attempts', 'required'],
      [{ attempts: 2, backoffMs: -1 }, 'retry.backoffMs', 'at least 0'],
      [{ attempts: 2, backoffMs: 2 ** 31 }, 'retry.backoffMs', 'at most 2147483647'],
      [{ attempts: 2, delay: 5 }, 'retry.delay', 'allowed: attempts, backoffMs'],
      [3, 'retry', 'must be an object'],
      [[2], 'retry', 'must be an object'],
    ];
    for (const [retry, field, message] of bad) {
      const a = await post('/functions/echo/tasks', { retry });
      expectError(a, 400, 'invalid_body', message);
      expect(a.body.error.details[0].field).toBe(field);
    }
  });

  it('Should answer 400 for malformed JSON', async () => {
    const { post } = setup();
    for (const body of ['{"args": [1', '{args: []}', "{'a': 1}", '{"a":1}x']) {
      expectError(await post('/functions/echo/tasks', body), 400, 'invalid_json');
    }
  });

  it('Should answer 404 for an unknown function, before reading the body', async () => {
    const { post } = setup();
    expectError(await post('/functions/nope/tasks', {}), 404, 'unknown_function', '"nope"');
    expectError(await post('/functions/nope/tasks', '{'), 404, 'unknown_function');
    const bad = await post('/functions/..%2Fecho/tasks', {});
    expectError(bad, 400, 'invalid_name');
    expect(bad.body.error.details[0]).toEqual({ field: 'name', message: 'got "../echo"' });
  });

  it('Should answer 429 with Retry-After when the queue is full', async () => {
    const { post } = setup();
    expect((await post('/functions/hold/tasks', {})).status).toBe(202);
    // The first runs at once; the second waits in the queue.
    expect((await post('/functions/hold/tasks', {})).status).toBe(202);
    const full = await post('/functions/hold/tasks', {});
    expectError(full, 429, 'queue_full', 'is full');
    expect(full.headers.get('Retry-After')).toBe('1');
    const invoke = await post('/functions/hold/invoke', {});
    expectError(invoke, 429, 'queue_full');
    expect(invoke.headers.get('Retry-After')).toBe('1');
  });

  it('Should answer 503 while draining', async () => {
    const { post, runtime } = setup();
    await runtime.close();
    expectError(await post('/functions/echo/tasks', {}), 503, 'draining');
    expectError(await post('/functions/echo/invoke', {}), 503, 'draining');
  });

  it('Should accept a task of an unavailable function and fail it with the loader message', async () => {
    const { call, post } = setup();
    const a = await post('/functions/broken/tasks', {});
    expect(a.status).toBe(202);
    const done = await call(`/tasks/${a.body.id}?wait=1000`);
    expect(done.body).toMatchObject({ status: 'failed', errorCode: 'load_failed' });
    expect(done.body.error).toContain('broken on purpose');
  });
});

describe('POST /functions/:name/invoke', () => {
  it('Should answer 200 with the completed record', async () => {
    const { post } = setup();
    const a = await post('/functions/echo/invoke', { args: ['hi'] });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ status: 'completed', result: ['hi'] });
  });

  it('Should answer 500 with the failed record, 504 with the timed-out one', async () => {
    const { post } = setup();
    const failed = await post('/functions/boom/invoke', {});
    expect(failed.status).toBe(500);
    expect(failed.body).toMatchObject({ status: 'failed', error: 'boom' });
    const unavailable = await post('/functions/broken/invoke', {});
    expect(unavailable.status).toBe(500);
    expect(unavailable.body.error).toContain('broken on purpose');
    const late = await post('/functions/hold/invoke', { timeoutMs: 20 });
    expect(late.status).toBe(504);
    expect(late.body).toMatchObject({ status: 'failed', errorCode: 'timed_out', timedOut: true });
  });

  it('Should answer 409 with the record when the task is cancelled while it waits', async () => {
    const { call, post, latch } = setup();
    const invoked = post('/functions/later/invoke', { id: 'waited-on' });
    await expect.poll(() => latch.waiting).toBe(1);
    expect((await call('/tasks/waited-on', { method: 'DELETE' })).status).toBe(200);
    const a = await invoked;
    expect(a.status).toBe(409);
    expect(a.body).toMatchObject({ id: 'waited-on', status: 'cancelled' });
  });

  it('Should answer the errors of /tasks', async () => {
    const { post } = setup();
    expectError(await post('/functions/nope/invoke', {}), 404, 'unknown_function');
    expectError(await post('/functions/a.b/invoke', {}), 400, 'invalid_name');
    expectError(await post('/functions/echo/invoke', '{'), 400, 'invalid_json');
    expectError(await post('/functions/echo/invoke', { args: 1 }), 400, 'invalid_body');
    expect((await post('/functions/echo/invoke', { id: 'inv' })).status).toBe(200);
    expectError(await post('/functions/echo/invoke', { id: 'inv' }), 409, 'duplicate_id');
  });
});

describe('GET /tasks/:id', () => {
  it('Should answer the record at once without wait, and when the wait ends if not finished', async () => {
    const { call, post, latch } = setup();
    const a = await post('/functions/later/tasks', {});
    const now = await call(`/tasks/${a.body.id}`);
    expect(now.status).toBe(200);
    expect(now.body).toMatchObject({ id: a.body.id, function: 'later' });
    await expect.poll(() => latch.waiting).toBe(1);
    expect((await call(`/tasks/${a.body.id}?wait=0`)).body.status).toBe('running');
    const short = await call(`/tasks/${a.body.id}?wait=30`);
    expect(short.status).toBe(200);
    expect(short.body.status).toBe('running');
    const polled = call(`/tasks/${a.body.id}?wait=99999999999999999999`);
    latch.open();
    expect((await polled).body).toMatchObject({ status: 'completed', result: [] });
  });

  it('Should answer 404 for an unknown id and 400 for an id outside the rule', async () => {
    const { call } = setup();
    expectError(await call('/tasks/unknown-id'), 404, 'unknown_task', '"unknown-id"');
    expectError(await call('/tasks/unknown-id?wait=10'), 404, 'unknown_task');
    expectError(await call('/tasks/...'), 400, 'invalid_id');
    const spaced = await call('/tasks/a%20b');
    expectError(spaced, 400, 'invalid_id');
    expect(spaced.body.error.details[0]).toEqual({ field: 'id', message: 'got "a b"' });
  });

  it('Should answer 400 for a bad wait', async () => {
    const { call } = setup();
    for (const wait of ['abc', '-1', '1.5', '', '1e3', '0x10', ' 5']) {
      const a = await call(`/tasks/unknown-id?wait=${encodeURIComponent(wait)}`);
      expectError(a, 400, 'invalid_query', 'wait must be an integer');
      expect(a.body.error.details[0].field).toBe('wait');
    }
  });
});

describe('DELETE /tasks/:id', () => {
  it('Should cancel a queued and a running task, then answer 409 for either', async () => {
    const { call, post, latch } = setup();
    const running = await post('/functions/later/tasks', {});
    const queued = await post('/functions/later/tasks', {});
    await expect.poll(() => latch.waiting).toBe(1);
    for (const id of [queued.body.id, running.body.id]) {
      const a = await call(`/tasks/${id}`, { method: 'DELETE' });
      expect(a.status).toBe(200);
      expect(a.body).toMatchObject({ id, status: 'cancelled' });
      expectError(await call(`/tasks/${id}`, { method: 'DELETE' }), 409, 'already_terminal');
    }
  });

  it('Should answer 404 for an unknown task and 400 for a bad id', async () => {
    const { call } = setup();
    expectError(await call('/tasks/no-such-task', { method: 'DELETE' }), 404, 'unknown_task');
    expectError(await call(`/tasks/${'x'.repeat(129)}`, { method: 'DELETE' }), 400, 'invalid_id');
  });
});

describe('GET /tasks', () => {
  const listed = async () => {
    const served = setup();
    const ids: string[] = [];
    for (const fn of ['echo', 'boom', 'echo', 'boom', 'echo']) {
      ids.push((await served.post(`/functions/${fn}/invoke`, {})).body.id);
    }
    return { ...served, ids };
  };
  const idsOf = (body: { tasks: { id: string }[] }) => body.tasks.map((t) => t.id);

  it('Should list the newest first, filtered by function and status', async () => {
    const { call, ids } = await listed();
    const all = await call('/tasks');
    expect(all.status).toBe(200);
    expect(idsOf(all.body)).toEqual([...ids].reverse());
    expect(all.body.next).toBeUndefined();
    const failed = await call('/tasks?function=boom&status=failed');
    expect(idsOf(failed.body)).toEqual([ids[3], ids[1]]);
    expect(idsOf((await call('/tasks?status=completed&function=boom')).body)).toEqual([]);
  });

  it('Should page with limit, next and before', async () => {
    const { call, ids } = await listed();
    const first = await call('/tasks?limit=2');
    expect(idsOf(first.body)).toEqual([ids[4], ids[3]]);
    expect(first.body.next).toBe(ids[3]);
    const second = await call(`/tasks?limit=2&before=${first.body.next}`);
    expect(idsOf(second.body)).toEqual([ids[2], ids[1]]);
    const last = await call(`/tasks?limit=2&before=${second.body.next}`);
    expect(idsOf(last.body)).toEqual([ids[0]]);
    expect(last.body.next).toBeUndefined();
  });

  it('Should answer 400 for a bad limit, status, parameter or cursor', async () => {
    const { call } = setup();
    for (const query of ['limit=0', 'limit=1001', 'limit=1.5', 'limit=ten', 'limit=']) {
      const a = await call(`/tasks?${query}`);
      expectError(a, 400, 'invalid_query', 'limit must be an integer from 1 to 1000');
      expect(a.body.error.details[0].field).toBe('limit');
    }
    expectError(await call('/tasks?status=done'), 400, 'invalid_query', 'status must be one of');
    expectError(
      await call('/tasks?stauts=failed'),
      400,
      'invalid_query',
      'unknown query parameter stauts',
    );
    expectError(await call('/tasks?function=..%2Fx'), 400, 'invalid_query', 'function');
    expectError(await call('/tasks?before=gone'), 400, 'invalid_argument', 'before');
    expectError(await call('/tasks?before=a%20b'), 400, 'invalid_query', 'before must be');
  });
});

describe('POST /tasks/:id/retry', () => {
  it('Should run a failed or cancelled task again as a new task, with Location', async () => {
    const { call, post } = setup();
    const failed = await post('/functions/boom/invoke', { args: [1, 2] });
    const a = await post(`/tasks/${failed.body.id}/retry`);
    expect(a.status).toBe(202);
    expect(a.body).toMatchObject({ function: 'boom', status: 'queued', retryOf: failed.body.id });
    expect(a.body.id).not.toBe(failed.body.id);
    expect(a.headers.get('Location')).toBe(`/tasks/${a.body.id}`);
    const queued = await post('/functions/hold/tasks', { id: 'to-cancel' });
    await call(`/tasks/${queued.body.id}`, { method: 'DELETE' });
    const again = await post('/tasks/to-cancel/retry');
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ function: 'hold', retryOf: 'to-cancel' });
  });

  it('Should answer 409 for a task neither failed nor cancelled, 404 unknown, 400 bad id', async () => {
    const { post } = setup();
    const done = await post('/functions/echo/invoke', {});
    expectError(await post(`/tasks/${done.body.id}/retry`), 409, 'not_retryable', 'completed');
    expectError(await post('/tasks/no-such-task/retry'), 404, 'unknown_task');
    expectError(await post('/tasks/..../retry'), 400, 'invalid_id');
  });

  it('Should answer 429 when the queue of its function is full, 503 while draining', async () => {
    const { post, runtime } = setup();
    const first = await post('/functions/hold/tasks', {});
    await runtime.cancel(first.body.id);
    // One running and one queued: the queue of hold (1) is full.
    await post('/functions/hold/tasks', {});
    await post('/functions/hold/tasks', {});
    expectError(await post(`/tasks/${first.body.id}/retry`), 429, 'queue_full');
    await runtime.close();
    expectError(await post(`/tasks/${first.body.id}/retry`), 503, 'draining');
  });
});
