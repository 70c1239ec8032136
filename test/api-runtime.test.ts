/**
 * The API over a real runtime with real workers: what only the whole path shows, from a request
 * to a worker and back (loader messages, long-polls answered as a worker ends, a full queue, a
 * running task cancelled and its worker replaced, timeouts, metrics of real runs, the runtime's
 * own argument checks). Routing and validation are tested on a fake runtime beside the routes.
 */
import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app.ts';
import type { Metrics } from '../api/metrics.ts';
import type { Runtime, TaskRecord } from '../runtime/index.ts';
import { startApi, until } from './fixtures/api-app.ts';

let app: Hono;
let runtime: Runtime;
let metrics: Metrics;

beforeAll(async () => {
  ({ app, runtime, metrics } = await startApi({}, { maxBodyBytes: 1024 }));
});
afterAll(() => runtime.close({ drainTimeoutMs: 0 }));

interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field.
  body: any;
}

const call = async (path: string, init: RequestInit = {}, on: Hono = app): Promise<Answer> => {
  const res = await on.request(path, init);
  const text = await res.text();
  const json = res.headers.get('content-type')?.includes('json');
  return { status: res.status, headers: res.headers, body: json ? JSON.parse(text) : text };
};

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  call(path, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...headers },
  });

const expectError = (answer: Answer, status: number, code: string) => {
  expect(answer.status).toBe(status);
  expect(answer.body.error.code).toBe(code);
  expect(typeof answer.body.error.message).toBe('string');
};

describe('functions', () => {
  it('Should list every function, unavailable ones with the loader message', async () => {
    const a = await call('/functions');
    expect(a.status).toBe(200);
    const names = a.body.functions.map((f: { name: string }) => f.name);
    expect(names).toEqual(['boom', 'broken', 'echo', 'nap', 'wait']);
    const broken = a.body.functions.find((f: { name: string }) => f.name === 'broken');
    expect(broken.status).toBe('unavailable');
    expect(broken.error).toContain('broken on purpose');
  });
});

describe('POST /functions/:name/tasks', () => {
  it('Should accept a task with 202 and Location, then long-poll its result', async () => {
    const a = await post('/functions/echo/tasks', { args: [1, 'two', { three: 3 }] });
    expect(a.status).toBe(202);
    expect(a.body.status).toBe('queued');
    expect(a.body.function).toBe('echo');
    expect(a.headers.get('Location')).toBe(`/tasks/${a.body.id}`);
    const done = await call(`${a.headers.get('Location')}?wait=20000`);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'completed', result: [1, 'two', { three: 3 }] });
    expect(typeof done.body.executionTime).toBe('number');
    expect(typeof done.body.completedAt).toBe('number');
  });

  it('Should accept a task of an unavailable function and fail it with the loader message', async () => {
    const a = await post('/functions/broken/tasks', {});
    expect(a.status).toBe(202);
    const done = await call(`/tasks/${a.body.id}?wait=1000`);
    expect(done.body.status).toBe('failed');
    expect(done.body.error).toContain('broken on purpose');
  });
});

describe('a full queue and cancel', () => {
  it('Should answer 429 with Retry-After, cancel queued and running tasks, 409 once ended', async () => {
    const running = await post('/functions/nap/tasks', { args: [60_000] });
    expect(running.status).toBe(202);
    await until(async () => (await call(`/tasks/${running.body.id}`)).body.status === 'running');
    const queued = await post('/functions/nap/tasks', { args: [10] });
    expect(queued.status).toBe(202);
    const full = await post('/functions/nap/tasks', { args: [10] });
    expectError(full, 429, 'queue_full');
    expect(Number(full.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    expectError(await post('/functions/nap/invoke', { args: [10] }), 429, 'queue_full');

    const cancelQueued = await call(`/tasks/${queued.body.id}`, { method: 'DELETE' });
    expect(cancelQueued.status).toBe(200);
    expect(cancelQueued.body.status).toBe('cancelled');
    expectError(
      await call(`/tasks/${queued.body.id}`, { method: 'DELETE' }),
      409,
      'already_terminal',
    );

    const cancelRunning = await call(`/tasks/${running.body.id}`, { method: 'DELETE' });
    expect(cancelRunning.status).toBe(200);
    expect(cancelRunning.body.status).toBe('cancelled');
    // The function keeps serving on a fresh worker.
    const after = await post('/functions/nap/invoke', { args: [1] });
    expect(after.status).toBe(200);
    expect(after.body.status).toBe('completed');
  });
});

describe('POST /functions/:name/invoke', () => {
  it('Should answer 500 with the failed record when the function throws', async () => {
    const a = await post('/functions/boom/invoke', {});
    expect(a.status).toBe(500);
    expect(a.body).toMatchObject({ status: 'failed', error: 'boom' });
    expect(a.body.timedOut).toBeUndefined();
  });

  it('Should answer 500 for an unavailable function', async () => {
    const a = await post('/functions/broken/invoke', {});
    expect(a.status).toBe(500);
    expect(a.body.error).toContain('broken on purpose');
  });

  it('Should answer 504 with the record when the task timed out', async () => {
    const a = await post('/functions/nap/invoke', { args: [30_000], timeoutMs: 200 });
    expect(a.status).toBe(504);
    expect(a.body).toMatchObject({
      status: 'failed',
      error: 'timed out after 200 ms',
      timedOut: true,
    });
  });
});

describe('GET /tasks/:id', () => {
  it('Should clamp a large wait and answer as soon as the task ends', async () => {
    const a = await post('/functions/wait/tasks', { args: [100] });
    const done = await call(`/tasks/${a.body.id}?wait=99999999999999999999`);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'completed', result: 100 });
  });
});

describe('GET /stats and /metrics', () => {
  it('Should pass the runtime stats through', async () => {
    const a = await call('/stats');
    expect(a.status).toBe(200);
    for (const key of ['activeWorkers', 'queueSize', 'activeTasks', 'minWorkers', 'maxWorkers']) {
      expect(typeof a.body[key]).toBe('number');
    }
    expect(a.body.maxWorkers).toBe(4);
    expect(a.body.performanceMetrics.tasksCompleted).toBeGreaterThan(0);
    expect(Object.keys(a.body.functions)).toContain('echo');
  });

  it('Should expose Prometheus text with counters, gauges and a run-time histogram', async () => {
    const a = await call('/metrics');
    expect(a.status).toBe(200);
    expect(a.headers.get('Content-Type')).toContain('text/plain; version=0.0.4');
    const lines: string[] = a.body.trim().split('\n');
    const sample = /^[a-z_]+(\{([a-z_]+="(?:[^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$/;
    for (const line of lines) {
      if (!line.startsWith('#')) expect(line).toMatch(sample);
    }
    const value = (series: string) => {
      const line = lines.find((l) => l.startsWith(`${series} `));
      if (!line) throw new Error(`no series ${series}`);
      return Number(line.slice(series.length + 1));
    };
    const stats = runtime.stats().functions;
    expect(value('ebbflow_tasks_total{function="echo",outcome="completed"}')).toBe(
      stats.echo?.tasksCompleted,
    );
    expect(value('ebbflow_tasks_total{function="boom",outcome="failed"}')).toBeGreaterThanOrEqual(
      1,
    );
    expect(value('ebbflow_tasks_total{function="nap",outcome="timed_out"}')).toBe(1);
    expect(value('ebbflow_tasks_total{function="nap",outcome="cancelled"}')).toBe(2);
    expect(value('ebbflow_task_failures_total{function="nap",code="timed_out"}')).toBe(1);
    expect(
      value('ebbflow_task_failures_total{function="boom",code="function_threw"}'),
    ).toBeGreaterThanOrEqual(1);
    const count = value('ebbflow_task_run_seconds_count{function="echo"}');
    expect(count).toBeGreaterThan(0);
    expect(value('ebbflow_task_run_seconds_bucket{function="echo",le="+Inf"}')).toBe(count);
    expect(value('ebbflow_task_run_seconds_bucket{function="echo",le="300"}')).toBe(count);
    expect(value('ebbflow_workers_max')).toBe(4);
    expect(value('ebbflow_function_up{function="broken"}')).toBe(0);
    expect(value('ebbflow_draining')).toBe(0);
    expect(lines).toContain('# TYPE ebbflow_task_run_seconds histogram');
    expect(lines.some((l) => l.startsWith('ebbflow_http_requests_total{method="POST"'))).toBe(true);
    expect(metrics).toBeDefined();
  });
});

describe('bad input never spreads', () => {
  it('Should leave other tasks untouched by a flood of bad requests', async () => {
    const good = await post('/functions/wait/tasks', { args: [200] });
    const bad = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        post('/functions/wait/tasks', i % 2 ? '{' : { args: i }),
      ),
    );
    expect(bad.every((a) => a.status === 400)).toBe(true);
    const n = 100_000;
    const roomy = createApp({ runtime, metrics, maxBodyBytes: 1_048_576 });
    const deep = await call(
      '/functions/wait/tasks',
      { method: 'POST', body: `{"args":[${'['.repeat(n)}${']'.repeat(n)}]}` },
      roomy,
    );
    expectError(deep, 400, 'invalid_argument');
    expect(deep.body.error.message).toContain('nested deeper');
    const done = await call(`/tasks/${good.body.id}?wait=20000`);
    expect(done.body as TaskRecord).toMatchObject({ status: 'completed', result: 200 });
  });
});
