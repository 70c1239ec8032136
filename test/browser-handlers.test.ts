/**
 * Functions as HTTP handlers and task logs, in process on Node's workers through `app.request()`
 * (the same checks run on real servers on Node, Deno and Bun in browser-runtimes.test.ts).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app.ts';
import { Metrics } from '../api/metrics.ts';
import type { Runtime, TaskRecord } from '../runtime/index.ts';
import { startNodeRuntime } from './support/node-runtime.ts';

const FUNCTIONS = fileURLToPath(new URL('./fixtures/browser/', import.meta.url));
const TOKEN = 'handler-secret';
const auth = { Authorization: `Bearer ${TOKEN}` };

describe('functions as HTTP handlers, and task logs', () => {
  let runtime: Runtime;
  let app: ReturnType<typeof createApp>;

  beforeAll(async () => {
    runtime = await startNodeRuntime(FUNCTIONS, { maxWorkers: 4 });
    app = createApp({ runtime, metrics: new Metrics(), token: TOKEN, log: () => {} });
  }, 60_000);
  afterAll(() => runtime.close({ drainTimeoutMs: 1000 }));

  it('Should pass method, path, query, headers and body, minus the server token', async () => {
    const res = await app.request('/fn/echo/created?x=1&y=two', {
      method: 'PUT',
      headers: { ...auth, 'X-Custom': 'yes', Origin: 'http://elsewhere.test' },
      body: new Uint8Array([7, 8, 9]),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-handled-by')).toBe('echo');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.json()).toEqual({
      method: 'PUT',
      path: '/created',
      query: { x: '1', y: 'two' },
      authorization: null,
      custom: 'yes',
      bytes: 3,
      first: 7,
      last: 9,
    });
  });

  it('Should give `/` for /fn/:name and keep GET, DELETE and PATCH', async () => {
    for (const method of ['GET', 'DELETE', 'PATCH']) {
      const res = await app.request('/fn/echo', { method, headers: auth });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ method, path: '/' });
    }
  });

  it('Should carry binary bodies both ways', async () => {
    const body = new Uint8Array(300_000).map((_, i) => (i * 31) % 256);
    const res = await app.request('/fn/bytes/x', { method: 'POST', headers: auth, body });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const back = Buffer.from(await res.arrayBuffer());
    expect(back.equals(Buffer.from(body.slice().reverse()))).toBe(true);
  });

  it('Should answer 500 when the handler throws, and 504 past its timeout', async () => {
    const thrown = await app.request('/fn/fails/throw', { headers: auth });
    expect(thrown.status).toBe(500);
    const body = (await thrown.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('handler_failed');
    expect(body.error.message).toContain('the handler broke');
    const notResponse = await app.request('/fn/fails/not-a-response', { headers: auth });
    expect(notResponse.status).toBe(500);
    const slow = await app.request('/fn/fails/slow', { headers: auth });
    expect(slow.status).toBe(504);
    expect(((await slow.json()) as { error: { code: string } }).error.code).toBe(
      'handler_timed_out',
    );
    // The worker was replaced: the function keeps serving.
    expect((await app.request('/fn/fails/ok', { headers: auth })).status).toBe(200);
  });

  it('Should answer 404 for a function without fetch, and for no function', async () => {
    const plain = await app.request('/fn/plain/', { headers: auth });
    expect(plain.status).toBe(404);
    expect(((await plain.json()) as { error: { code: string } }).error.code).toBe(
      'no_fetch_handler',
    );
    const none = await app.request('/fn/nothing-here', { headers: auth });
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe(
      'unknown_function',
    );
  });

  it('Should need the token, and keep no task record', async () => {
    expect((await app.request('/fn/echo')).status).toBe(401);
    const before = runtime.stats().functions.echo?.tasksCompleted ?? 0;
    await app.request('/fn/echo', { headers: auth });
    expect(runtime.stats().functions.echo?.tasksCompleted).toBe(before + 1);
  });

  it('Should keep each task its own lines when one worker runs eight at once', async () => {
    const tags = Array.from({ length: 24 }, (_, i) => `t${i}`);
    const records = await Promise.all(tags.map((tag) => runtime.call('chatty', [tag, 3])));
    const workers = new Set(records.map((r) => r.workerId));
    expect(workers.size).toBe(1);
    for (const record of records) {
      const tag = record.result as string;
      expect(record.logs?.map((l) => [l.level, l.message])).toEqual([
        ['log', `${tag} line 0`],
        ['info', JSON.stringify({ tag, i: 0 })],
        ['log', `${tag} line 1`],
        ['info', JSON.stringify({ tag, i: 1 })],
        ['log', `${tag} line 2`],
        ['info', JSON.stringify({ tag, i: 2 })],
        ['warn', `${tag} done`],
      ]);
    }
  });

  it('Should keep lines of sequential tasks on their own task', async () => {
    const records = await Promise.all(['a', 'b', 'c'].map((t) => runtime.call('sync-logs', [t])));
    for (const record of records) {
      const tag = record.result as string;
      expect(record.logs?.map((l) => `${l.level} ${l.message}`)).toEqual([
        `log ${tag} before`,
        `error ${tag} after`,
      ]);
    }
  });

  it('Should keep at most 100 entries and 64 KiB, then say how many were dropped', async () => {
    const many = await runtime.call('flood', [150]);
    expect(many.logs).toHaveLength(101);
    expect(many.logs?.[99]?.message).toBe(`99:${'x'.repeat(10)}`);
    expect(many.logs?.[100]).toMatchObject({ level: 'warn' });
    expect(many.logs?.[100]?.message).toMatch(/^50 more log entries were dropped/);
    const big: TaskRecord = await runtime.call('flood', [20, 10_000]);
    const kept = (big.logs ?? []).slice(0, -1);
    expect(kept).toHaveLength(6);
    expect(big.logs?.at(-1)?.message).toMatch(/^14 more log entries were dropped/);
    const quiet = await runtime.call('plain', [1, 2]);
    expect(quiet.logs).toBeUndefined();
  });
});
