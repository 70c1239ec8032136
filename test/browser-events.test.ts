/**
 * Live events on a real Node server: `/events` with its filters, a task's own stream, and a
 * reader that stops reading while thousands of events go out (its queue stays bounded, the server
 * keeps serving the others).
 */
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app.ts';
import { EventFanout, MAX_PENDING_BYTES, MAX_PENDING_FRAMES } from '../api/event-stream.ts';
import { Metrics } from '../api/metrics.ts';
import type { Runtime, TaskRecord } from '../runtime/index.ts';
import { startNodeRuntime } from './support/node-runtime.ts';
import { collectUntil, readSse } from './support/sse.ts';
import { until } from './support/wait.ts';

const FUNCTIONS = fileURLToPath(new URL('./fixtures/browser/', import.meta.url));

const listen = (fetch: (request: Request) => Response | Promise<Response>) =>
  new Promise<{ url: string; close: () => void }>((resolve) => {
    const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () => {
          server.close();
          (server as unknown as { closeAllConnections(): void }).closeAllConnections();
        },
      }),
    );
  });

describe('live events', () => {
  let runtime: Runtime;
  let url: string;
  let close: () => void;

  beforeAll(async () => {
    runtime = await startNodeRuntime(FUNCTIONS, { maxWorkers: 4 });
    const app = createApp({ runtime, metrics: new Metrics(), log: () => {} });
    ({ url, close } = await listen(app.fetch));
  }, 60_000);
  afterAll(async () => {
    close?.();
    await runtime?.close({ drainTimeoutMs: 1000 });
  });

  it('Should send a task through queued, running and completed, without its result', async () => {
    const response = await fetch(`${url}/events?types=task`);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const events = readSse(response);
    const record = await runtime.submit('echo', [21]);
    const seen = await collectUntil(
      events,
      (e) =>
        (e.data as TaskRecord).id === record.id && (e.data as TaskRecord).status === 'completed',
    );
    const mine = seen.map((e) => e.data as TaskRecord).filter((r) => r.id === record.id);
    expect(mine.map((r) => r.status)).toEqual(['queued', 'running', 'completed']);
    expect(mine.every((r) => !('result' in r) && !('logs' in r))).toBe(true);
  });

  it('Should filter by function and type, and send log lines', async () => {
    const response = await fetch(`${url}/events?function=chatty&types=log`);
    const events = readSse(response);
    await runtime.call('echo', [1]);
    const done = runtime.call('chatty', ['only', 1]);
    const seen = await collectUntil(
      events,
      (e) => (e.data as { message: string }).message === 'only done',
    );
    expect(seen.every((e) => e.event === 'log')).toBe(true);
    expect(seen.map((e) => (e.data as { message: string }).message)).toEqual([
      'only line 0',
      JSON.stringify({ tag: 'only', i: 0 }),
      'only done',
    ]);
    const taskId = (await done).id;
    expect(seen.every((e) => (e.data as { taskId: string }).taskId === taskId)).toBe(true);
  });

  it('Should send stats once a second', async () => {
    const seen = await collectUntil(
      readSse(await fetch(`${url}/events?types=stats`)),
      (_, all) => all.length === 2,
    );
    expect(seen.map((e) => e.event)).toEqual(['stats', 'stats']);
    expect(seen[0]?.data).toHaveProperty('functions.echo');
  });

  it('Should refuse an unknown type', async () => {
    const response = await fetch(`${url}/events?types=task,nope`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'invalid_query',
    );
  });

  it("Should stream one task's record until it ends, the last one whole", async () => {
    const record = await runtime.submit('chatty', ['streamed', 2]);
    const response = await fetch(`${url}/tasks/${record.id}`, {
      headers: { Accept: 'text/event-stream' },
    });
    const seen: TaskRecord[] = [];
    for await (const event of readSse(response)) seen.push(event.data as TaskRecord);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    const last = seen.at(-1) as TaskRecord;
    expect(last.status).toBe('completed');
    expect(last.result).toBe('streamed');
    expect(last.logs?.length).toBe(5);
    expect(seen.slice(0, -1).every((r) => r.status !== 'completed' && !('result' in r))).toBe(true);
    // The JSON route is unchanged for everyone else.
    const plain = await fetch(`${url}/tasks/${record.id}`);
    expect(((await plain.json()) as TaskRecord).result).toBe('streamed');
  });

  it('Should answer 404 for the stream of an unknown task', async () => {
    const response = await fetch(`${url}/tasks/nope`, { headers: { Accept: 'text/event-stream' } });
    expect(response.status).toBe(404);
  });
});

describe('streams when the runtime shuts down', () => {
  it('Should end every stream once the runtime has closed, so the server can close', async () => {
    const runtime = await startNodeRuntime(FUNCTIONS, { maxWorkers: 2 });
    const app = createApp({ runtime, metrics: new Metrics(), log: () => {} });
    const { url, close } = await listen(app.fetch);
    try {
      const all = await fetch(`${url}/events`);
      const task = await runtime.submit('slow', [60_000]);
      const one = await fetch(`${url}/tasks/${task.id}`, {
        headers: { Accept: 'text/event-stream' },
      });
      await runtime.close({ drainTimeoutMs: 0 });
      // Both bodies reach their end (a stream left open would hold a server's close for ever).
      expect((await all.text()).startsWith(': connected')).toBe(true);
      const records = (await one.text()).match(/"status":"(\w+)"/g) ?? [];
      expect(records.at(-1)).toBe('"status":"failed"');
    } finally {
      close();
    }
  }, 60_000);
});

describe('a reader that stops reading', () => {
  let runtime: Runtime;
  let fanout: EventFanout;
  let url: string;
  let close: () => void;

  beforeAll(async () => {
    runtime = await startNodeRuntime(FUNCTIONS, { maxWorkers: 2 });
    // The app's fan-out, given to it, so the test can watch its readers.
    fanout = new EventFanout(runtime);
    const app = createApp({ runtime, metrics: new Metrics(), events: fanout });
    ({ url, close } = await listen(app.fetch));
  }, 60_000);
  afterAll(async () => {
    close?.();
    await runtime?.close({ drainTimeoutMs: 1000 });
  });

  it('Should keep its queue bounded and keep serving the others', async () => {
    const { port } = new URL(url);
    const stalled = connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => stalled.once('connect', resolve));
    stalled.write('GET /events?types=log,task HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    stalled.pause(); // never reads: the kernel's buffers fill, then the server's writes wait
    await until(() => fanout.readers.size === 1);
    const live = readSse(await fetch(`${url}/events?types=task`));
    await until(() => fanout.readers.size === 2);
    const stalledReader = [...fanout.readers][0];

    // 200 tasks printing 60 KB each: 12 MB of log events, far more than any socket buffers.
    const tasks = Array.from({ length: 200 }, () => runtime.call('flood', [6, 10_000]));
    const ended = new Set<string>();
    const seen = collectUntil(live, (e) => {
      const record = e.data as TaskRecord;
      if (record.status === 'completed') ended.add(record.id);
      return ended.size === 200;
    });
    await Promise.all(tasks);
    await seen;
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(stalledReader?.dropped).toBeGreaterThan(0);
    expect(stalledReader?.pending).toBeLessThanOrEqual(MAX_PENDING_FRAMES);
    expect(stalledReader?.pendingBytes).toBeLessThanOrEqual(MAX_PENDING_BYTES);
    stalled.destroy();
    await until(() => fanout.readers.size === 1);
  }, 120_000);
});
