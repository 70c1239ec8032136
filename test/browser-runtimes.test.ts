/**
 * The browser-facing features on a real server started as the README says, on Node, Deno and
 * Bun: HTTP-handler functions (methods, paths, binary bodies, 500, 504, 404), task logs kept
 * apart under concurrency, live events through to a terminal state, and the pages.
 */
import { expect, it } from 'vitest';
import { describeEachRuntime, ROOT, serverForSuite } from './support/server.ts';
import { collectUntil, readSse } from './support/sse.ts';

const TOKEN = 'runtimes-secret';
const auth = { Authorization: `Bearer ${TOKEN}` };

describeEachRuntime('handlers, logs and events', (runtime) => {
  const suite = serverForSuite(
    runtime,
    {
      EBBFLOW_FUNCTIONS: `${ROOT}test/fixtures/browser`,
      EBBFLOW_MIN_WORKERS: '0',
      EBBFLOW_MAX_WORKERS: '4',
      EBBFLOW_TOKEN: TOKEN,
    },
    { headers: auth },
  );
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${suite.server.url}${path}`, { ...init, headers: { ...auth, ...init.headers } });

  it('Should route any method and path to fetch, with the query, headers and body', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      const hasBody = method !== 'GET';
      const res = await call('/fn/echo/a/b?x=1', {
        method,
        headers: { 'X-Custom': method },
        body: hasBody ? new Uint8Array([1, 2, 3]) : undefined,
      });
      expect(res.status, method).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(await res.json()).toEqual({
        method,
        path: '/a/b',
        query: { x: '1' },
        authorization: null,
        custom: method,
        bytes: hasBody ? 3 : 0,
        first: hasBody ? 1 : null,
        last: hasBody ? 3 : null,
      });
    }
    expect((await call('/fn/echo/created', { method: 'POST' })).status).toBe(201);
  });

  it('Should carry binary bodies both ways', async () => {
    const body = new Uint8Array(200_000).map((_, i) => (i * 7 + 3) % 256);
    const res = await call('/fn/bytes', { method: 'POST', body });
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const back = new Uint8Array(await res.arrayBuffer());
    expect(back.length).toBe(body.length);
    expect(Buffer.from(back).equals(Buffer.from(body.reverse()))).toBe(true);
  });

  it('Should answer 500, 504 and 404 in the error shape', async () => {
    const thrown = await call('/fn/fails/throw');
    expect([
      thrown.status,
      ((await thrown.json()) as { error: { code: string } }).error.code,
    ]).toEqual([500, 'handler_failed']);
    const slow = await call('/fn/fails/slow');
    expect([slow.status, ((await slow.json()) as { error: { code: string } }).error.code]).toEqual([
      504,
      'handler_timed_out',
    ]);
    const none = await call('/fn/plain/anything');
    expect([none.status, ((await none.json()) as { error: { code: string } }).error.code]).toEqual([
      404,
      'no_fetch_handler',
    ]);
    expect((await call('/fn/fails/fine')).status).toBe(200);
  }, 60_000);

  it('Should keep each task its own logs when one worker runs eight at once', async () => {
    const tags = Array.from({ length: 16 }, (_, i) => `${runtime.name}-${i}`);
    const answers = await Promise.all(
      tags.map((tag) => suite.api.post('/functions/chatty/invoke', { args: [tag, 2] })),
    );
    for (const { status, body } of answers) {
      expect(status).toBe(200);
      const tag = body.result as string;
      expect(body.logs.map((l: { message: string }) => l.message)).toEqual([
        `${tag} line 0`,
        JSON.stringify({ tag, i: 0 }),
        `${tag} line 1`,
        JSON.stringify({ tag, i: 1 }),
        `${tag} done`,
      ]);
    }
    expect(new Set(answers.map((a) => a.body.workerId)).size).toBe(1);
  });

  it('Should stream events through to the terminal state', async () => {
    const stream = readSse(await call('/events?types=task,log&function=chatty'));
    const { body } = await suite.api.post('/functions/chatty/tasks', { args: ['streamed', 1] });
    const seen = await collectUntil(
      stream,
      (e) => e.event === 'task' && (e.data as { status: string }).status === 'completed',
    );
    const mine = seen.filter((e) => (e.data as { id?: string; taskId?: string }).id === body.id);
    expect(mine.map((e) => (e.data as { status: string }).status)).toEqual([
      'queued',
      'running',
      'completed',
    ]);
    expect(seen.filter((e) => e.event === 'log').length).toBe(3);
    const task = readSse(
      await call(`/tasks/${body.id}`, { headers: { Accept: 'text/event-stream' } }),
    );
    const records = [];
    for await (const event of task) records.push(event.data as { status: string; result: string });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 'completed', result: 'streamed' });
  });

  it('Should serve the dashboard, the reference and the OpenAPI document without a token', async () => {
    for (const path of [
      '/',
      '/dashboard/uplot.js',
      '/docs',
      '/docs/swagger-ui.js',
      '/openapi.json',
    ]) {
      const res = await fetch(`${suite.server.url}${path}`);
      expect(res.status, path).toBe(200);
      await res.arrayBuffer();
    }
  });
});
