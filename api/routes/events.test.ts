/**
 * Live events over a fake runtime: `GET /events` with its filters, and one task's stream from
 * `GET /tasks/:id` with `Accept: text/event-stream`, read with the client's SSE parser.
 */
import { describe, expect, it } from 'vitest';
import type { ScalingEvent, TaskRecord } from '../../runtime/index.ts';
import { callers, expectError, fakeApp, Latch } from '../../test/support/fake-app.ts';
import { collectUntil, readSse } from '../../test/support/sse.ts';

const STREAM = { headers: { Accept: 'text/event-stream' } };

const setup = () => {
  const latch = new Latch();
  const served = fakeApp({
    echo: { run: (...args) => args },
    other: { run: () => 'other' },
    later: { run: latch.run },
  });
  /** Open `/events?<query>` and resolve once the server listens to the runtime. */
  const open = async (query = '') => {
    const response = await served.app.request(`/events${query}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toContain('text/event-stream');
    await expect.poll(() => served.runtime.listening).toBe(1);
    return readSse(response);
  };
  return { ...served, latch, open };
};

const scale: ScalingEvent = { at: 1, function: 'echo', action: 'up', from: 0, to: 1, reason: 'r' };

describe('GET /events', () => {
  it('Should send each change of a task, without its result, as task events', async () => {
    const { post, open } = setup();
    const events = await open();
    const invoked = await post('/functions/echo/invoke', { args: [1] });
    const seen = await collectUntil(events, (e) => (e.data as TaskRecord).status === 'completed');
    expect(seen.map((e) => e.event)).toEqual(['task', 'task', 'task']);
    expect(seen.map((e) => (e.data as TaskRecord).status)).toEqual([
      'queued',
      'running',
      'completed',
    ]);
    expect(seen.every((e) => (e.data as TaskRecord).id === invoked.body.id)).toBe(true);
    expect(seen.at(-1)?.data).not.toHaveProperty('result');
  });

  it('Should filter by function and by event type', async () => {
    const { post, open, runtime } = setup();
    const events = await open('?function=other&types=task,scale');
    await post('/functions/echo/invoke', {});
    runtime.emit({ type: 'scale', data: scale });
    runtime.emit({ type: 'log', data: { function: 'other', at: 1, level: 'log', message: 'x' } });
    runtime.emit({ type: 'scale', data: { ...scale, function: 'other' } });
    await post('/functions/other/invoke', {});
    const seen = await collectUntil(events, (e) => (e.data as TaskRecord).status === 'completed');
    expect(seen.map((e) => `${e.event} ${(e.data as { function: string }).function}`)).toEqual([
      'scale other',
      'task other',
      'task other',
      'task other',
    ]);
  });

  it('Should pass stats through a function filter, and end when the runtime shuts down', async () => {
    const { open, runtime } = setup();
    const events = await open('?function=echo&types=stats');
    runtime.emit({ type: 'stats', data: runtime.stats() });
    expect((await events.next()).value).toMatchObject({ event: 'stats' });
    await runtime.close();
    expect(await events.next()).toEqual({ done: true, value: undefined });
  });

  it('Should answer 400 for a bad filter, naming it', async () => {
    const { call } = setup();
    const types = await call('/events?types=task,nope');
    expectError(types, 400, 'invalid_query', 'types must be a comma-separated list');
    expect(types.body.error.details[0].field).toBe('types');
    expectError(await call('/events?function=a.b'), 400, 'invalid_query', 'function');
  });
});

describe('GET /tasks/:id as an event stream', () => {
  it('Should send the record now and at each change, ending with the whole terminal one', async () => {
    const { app, post, latch } = setup();
    const accepted = await post('/functions/later/tasks', { args: [7] });
    await expect.poll(() => latch.waiting).toBe(1);
    const response = await app.request(`/tasks/${accepted.body.id}`, STREAM);
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toContain('text/event-stream');
    const events = readSse(response);
    const now = (await events.next()).value;
    expect(now).toMatchObject({ event: 'task', data: { status: 'running' } });
    expect(now?.data).not.toHaveProperty('result');
    latch.open();
    expect(await collectUntil(events, () => false)).toEqual([
      { event: 'task', data: expect.objectContaining({ status: 'completed', result: [7] }) },
    ]);
  });

  it('Should send a terminal record at once and end', async () => {
    const { app, post } = setup();
    const done = await post('/functions/echo/invoke', { args: [2] });
    const events = await collectUntil(
      readSse(await app.request(`/tasks/${done.body.id}`, STREAM)),
      () => false,
    );
    expect(events).toEqual([
      { event: 'task', data: expect.objectContaining({ status: 'completed', result: [2] }) },
    ]);
  });

  it('Should answer 404 for an unknown id and 400 for a bad one, as JSON', async () => {
    const { call, runtime } = setup();
    expectError(await call('/tasks/unknown-id', STREAM), 404, 'unknown_task');
    expect(runtime.listening).toBe(0);
    expectError(await call('/tasks/a%20b', STREAM), 400, 'invalid_id');
    // A stream takes no wait: a bad one is not read.
    expectError(await call('/tasks/unknown-id?wait=x', STREAM), 404, 'unknown_task');
  });
});

describe('HEAD on the stream routes', () => {
  it('Should answer HEAD /events with the headers only, and hold no reader', async () => {
    const { app, runtime } = setup();
    const head = await app.request('/events?types=task', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('Content-Type')).toContain('text/event-stream');
    expect(head.body).toBeNull();
    expect((await app.request('/events?types=nope', { method: 'HEAD' })).status).toBe(400);
    // A reader left by the HEAD would keep the server listening after the real one is gone.
    const events = await app.request('/events');
    await expect.poll(() => runtime.listening).toBe(1);
    await events.body?.cancel();
    await expect.poll(() => runtime.listening).toBe(0);
    expect(await openStreams(app)).toBe(0);
  });

  it("Should answer HEAD on a task's stream, and on a long-poll, at once and holding nothing", async () => {
    const { app, post, runtime, latch } = setup();
    const { body } = await post('/functions/later/tasks', {});
    await expect.poll(() => latch.waiting).toBe(1);
    const head = await app.request(`/tasks/${body.id}`, { method: 'HEAD', ...STREAM });
    expect(head.status).toBe(200);
    expect(head.headers.get('Content-Type')).toContain('text/event-stream');
    expect(runtime.listening).toBe(0);
    const unknown = await app.request('/tasks/nope', { method: 'HEAD', ...STREAM });
    expect(unknown.status).toBe(404);
    // The task runs on: a HEAD that waited would not answer within the test's time.
    const poll = await app.request(`/tasks/${body.id}?wait=60000`, { method: 'HEAD' });
    expect(poll.status).toBe(200);
    expect(await openStreams(app)).toBe(0);
    latch.open();
  });
});

describe('EBBFLOW_MAX_STREAMS', () => {
  const limited = (maxStreams: number) => {
    const latch = new Latch();
    return { ...fakeApp({ later: { run: latch.run } }, { maxStreams }), latch };
  };

  it('Should refuse a stream past the bound with 503 too_many_streams and Retry-After', async () => {
    const { app, call } = limited(2);
    const held = [await app.request('/events'), await app.request('/events')];
    expect(held.map((r) => r.status)).toEqual([200, 200]);
    const refused = await call('/events');
    expectError(refused, 503, 'too_many_streams', 'EBBFLOW_MAX_STREAMS');
    expect(refused.headers.get('Retry-After')).toBe('5');
    expect(refused.headers.get('Access-Control-Expose-Headers')).toContain('Retry-After');
    expect(await openStreams(app)).toBe(2);
    for (const response of held) await response.body?.cancel();
    await expect.poll(() => openStreams(app)).toBe(0);
  });

  it('Should give a slot back when its client goes: mid-stream, and in a long-poll', async () => {
    const { app, post, runtime, latch } = limited(1);
    const { body } = await post('/functions/later/tasks', {});
    await expect.poll(() => latch.waiting).toBe(1);
    // A task's stream, dropped after its first event.
    for (let round = 0; round < 3; round++) {
      const response = await app.request(`/tasks/${body.id}`, STREAM);
      expect(response.status).toBe(200);
      const events = readSse(response);
      expect((await events.next()).value).toMatchObject({ data: { status: 'running' } });
      await events.return(undefined);
      await expect.poll(() => openStreams(app)).toBe(0);
      expect(runtime.listening).toBe(0);
    }
    // A long-poll holds the slot while it waits, and gives it back when its client goes.
    for (let round = 0; round < 3; round++) {
      const client = new AbortController();
      const polling = app.request(`/tasks/${body.id}?wait=60000`, { signal: client.signal });
      await expect.poll(() => openStreams(app)).toBe(1);
      expectError(await callOf(app, '/events'), 503, 'too_many_streams');
      client.abort();
      await polling;
      await expect.poll(() => openStreams(app)).toBe(0);
    }
    // One that ends with its task gives it back too.
    const polling = app.request(`/tasks/${body.id}?wait=60000`);
    await expect.poll(() => openStreams(app)).toBe(1);
    latch.open();
    expect(await (await polling).json()).toMatchObject({ status: 'completed' });
    expect(await openStreams(app)).toBe(0);
  });

  it('Should not count a read without a wait, nor a zero wait', async () => {
    const { app, post } = limited(1);
    const { body } = await post('/functions/later/tasks', {});
    const held = await app.request('/events');
    expect((await app.request(`/tasks/${body.id}`)).status).toBe(200);
    expect((await app.request(`/tasks/${body.id}?wait=0`)).status).toBe(200);
    await held.body?.cancel();
  });
});

type App = ReturnType<typeof setup>['app'];

/** The event streams and long-polls the app holds now, as `/metrics` tells. */
const openStreams = async (app: App): Promise<number> => {
  const text = await (await app.request('/metrics')).text();
  return Number(/^ebbflow_open_streams (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
};

const callOf = (app: App, path: string) => callers(app).call(path);

describe('A host that learns a client went only when a write fails (clientProbeMs)', () => {
  const probed = () => {
    const latch = new Latch();
    return {
      ...fakeApp({ later: { run: latch.run } }, { maxStreams: 1, clientProbeMs: 50 }),
      latch,
    };
  };

  it('Should begin a long-poll that lasts past the probe, write spaces, then the record', async () => {
    const { app, post, latch } = probed();
    const { body } = await post('/functions/later/tasks', {});
    await expect.poll(() => latch.waiting).toBe(1);
    const response = await app.request(`/tasks/${body.id}?wait=60000`);
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toContain('application/json');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    // Its first bytes are the probe's spaces, written while the task runs.
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^ +$/);
    expect(await openStreams(app)).toBe(1);
    latch.open();
    let text = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      text += new TextDecoder().decode(chunk.value);
    }
    expect(JSON.parse(text)).toMatchObject({ id: body.id, status: 'completed' });
    expect(await openStreams(app)).toBe(0);
  });

  it('Should answer as usual when the wait ends within the probe: 404 for no such task', async () => {
    const { app, post } = probed();
    expectError(await callOf(app, '/tasks/nobody?wait=60000'), 404, 'unknown_task');
    const { body } = await post('/functions/later/tasks', {});
    expect((await app.request(`/tasks/${body.id}?wait=1`)).status).toBe(200);
    expect(await openStreams(app)).toBe(0);
  });

  it('Should give the slot back when the client drops a begun long-poll, with no signal', async () => {
    const { app, post, latch } = probed();
    const { body } = await post('/functions/later/tasks', {});
    await expect.poll(() => latch.waiting).toBe(1);
    for (let round = 0; round < 3; round++) {
      // No signal reaches the app: the client is gone when the body is cancelled.
      const response = await app.request(`/tasks/${body.id}?wait=60000`);
      expect(response.status).toBe(200);
      expect(await openStreams(app)).toBe(1);
      await response.body?.cancel();
      await expect.poll(() => openStreams(app)).toBe(0);
    }
  });

  it("Should write a keep-alive on a quiet task's stream every probe", async () => {
    const { app, post, latch } = probed();
    const { body } = await post('/functions/later/tasks', {});
    await expect.poll(() => latch.waiting).toBe(1);
    const response = await app.request(`/tasks/${body.id}`, STREAM);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes(': keep-alive')) {
      text += new TextDecoder().decode((await reader.read()).value);
    }
    await reader.cancel();
    await expect.poll(() => openStreams(app)).toBe(0);
    latch.open();
    // Without the probe the first keep-alive comes after 15 s, past this test's deadline.
  }, 10_000);
});
