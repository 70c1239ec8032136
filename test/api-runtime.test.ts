import type { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime, TaskRecord } from '../runtime/index.ts';
import { startApi, until } from './fixtures/api-app.ts';
import { createApp } from '../api/app.ts';
import type { Metrics } from '../api/metrics.ts';

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

describe('GET /health', () => {
  it('Should answer ok', async () => {
    const a = await call('/health');
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ status: 'ok' });
  });
});

describe('GET /functions', () => {
  it('Should list every function, unavailable ones with the loader message', async () => {
    const a = await call('/functions');
    expect(a.status).toBe(200);
    const names = a.body.functions.map((f: { name: string }) => f.name);
    expect(names).toEqual(['boom', 'broken', 'echo', 'nap', 'wait']);
    const broken = a.body.functions.find((f: { name: string }) => f.name === 'broken');
    expect(broken.status).toBe('unavailable');
    expect(broken.error).toContain('broken on purpose');
  });

  it('Should describe one function', async () => {
    const a = await call('/functions/nap');
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ name: 'nap', status: 'ready', maxWorkers: 1, concurrency: 1 });
    for (const key of ['minWorkers', 'timeoutMs', 'activeWorkers', 'queueSize', 'activeTasks']) {
      expect(typeof a.body[key]).toBe('number');
    }
  });

  it('Should answer 404 for an unknown function', async () => {
    expectError(await call('/functions/nope'), 404, 'unknown_function');
  });

  it('Should refuse names outside the rule before any lookup', async () => {
    for (const path of [
      '/functions/..%2Fetc',
      '/functions/..%2F..%2Fetc%2Fpasswd',
      '/functions/a.b',
      '/functions/_x',
      `/functions/${'a'.repeat(65)}`,
    ]) {
      const a = await call(path);
      expectError(a, 400, 'invalid_name');
      expect(a.body.error.details[0].field).toBe('name');
    }
    expectError(await post('/functions/..%2Fecho/tasks', {}), 400, 'invalid_name');
    // URL parsing resolves %2e%2e as "..": the request ends up at another route, `/` (none)
    // or `POST /tasks` (the listing, which answers GET only).
    expectError(await call('/functions/%2e%2e'), 404, 'not_found');
    expectError(await post('/functions/%2e%2e/tasks', {}), 405, 'method_not_allowed');
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

  it('Should treat an empty body as {} and default args to []', async () => {
    const empty = await call('/functions/echo/tasks', { method: 'POST' });
    expect(empty.status).toBe(202);
    const noArgs = await post('/functions/echo/tasks', {});
    expect(noArgs.status).toBe(202);
    for (const id of [empty.body.id, noArgs.body.id]) {
      expect((await call(`/tasks/${id}?wait=20000`)).body.result).toEqual([]);
    }
  });

  it('Should use a client id and refuse it the second time with 409', async () => {
    const id = `job-1.a:b_${Date.now()}`;
    const first = await post('/functions/echo/tasks', { id });
    expect(first.status).toBe(202);
    expect(first.body.id).toBe(id);
    expect(first.headers.get('Location')).toBe(`/tasks/${id}`);
    expect((await call(`/tasks/${id}?wait=20000`)).body.status).toBe('completed');
    expectError(await post('/functions/echo/tasks', { id }), 409, 'duplicate_id');
  });

  it('Should answer 400 naming the field for each bad input', async () => {
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
      const a = await post('/functions/echo/tasks', body);
      expectError(a, 400, 'invalid_body');
      expect(a.body.error.message).toContain('JSON object');
    }
  });

  it('Should answer 400 for malformed JSON', async () => {
    for (const body of ['{"args": [1', '{args: []}', "{'a': 1}", '{"a":1}x']) {
      expectError(await post('/functions/echo/tasks', body), 400, 'invalid_json');
    }
  });

  it('Should answer 413 for a body over the limit, with or without Content-Length', async () => {
    const big = JSON.stringify({ args: ['x'.repeat(2000)] });
    expectError(await post('/functions/echo/tasks', big), 413, 'payload_too_large');
    const chunks = [new TextEncoder().encode(big.slice(0, 600)), new TextEncoder().encode(big)];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const chunk = chunks.shift();
        if (chunk) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const a = await call('/functions/echo/invoke', {
      method: 'POST',
      body: stream,
      // @ts-expect-error: `duplex` is required for a stream body but missing from the DOM types.
      duplex: 'half',
    });
    expectError(a, 413, 'payload_too_large');
    // Just under the limit still passes.
    const fits = JSON.stringify({ args: ['x'.repeat(900)] });
    expect((await post('/functions/echo/tasks', fits)).status).toBe(202);
  });

  it('Should answer 404 for an unknown function', async () => {
    expectError(await post('/functions/nope/tasks', {}), 404, 'unknown_function');
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

  it('Should answer 404 when cancelling an unknown task', async () => {
    expectError(await call('/tasks/no-such-task', { method: 'DELETE' }), 404, 'unknown_task');
  });
});

describe('POST /functions/:name/invoke', () => {
  it('Should answer 200 with the completed record', async () => {
    const a = await post('/functions/echo/invoke', { args: ['hi'] });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ status: 'completed', result: ['hi'] });
  });

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

  it('Should answer the errors of /tasks', async () => {
    expectError(await post('/functions/nope/invoke', {}), 404, 'unknown_function');
    expectError(await post('/functions/echo/invoke', '{'), 400, 'invalid_json');
    expectError(await post('/functions/echo/invoke', { args: 1 }), 400, 'invalid_body');
    const id = `invoke-${Date.now()}`;
    expect((await post('/functions/echo/invoke', { id })).status).toBe(200);
    expectError(await post('/functions/echo/invoke', { id }), 409, 'duplicate_id');
  });
});

describe('GET /tasks/:id', () => {
  it('Should answer 404 for an unknown id and 400 for an id outside the rule', async () => {
    expectError(await call('/tasks/unknown-id'), 404, 'unknown_task');
    expectError(await call('/tasks/unknown-id?wait=10'), 404, 'unknown_task');
    expectError(await call('/tasks/...'), 400, 'invalid_id');
    expectError(await call('/tasks/a%20b'), 400, 'invalid_id');
  });

  it('Should answer at once without wait, and when the wait ends if not finished', async () => {
    const a = await post('/functions/wait/tasks', { args: [20_000] });
    const now = await call(`/tasks/${a.body.id}`);
    expect(['queued', 'running']).toContain(now.body.status);
    const zero = await call(`/tasks/${a.body.id}?wait=0`);
    expect(['queued', 'running']).toContain(zero.body.status);
    const short = await call(`/tasks/${a.body.id}?wait=50`);
    expect(short.status).toBe(200);
    expect(['queued', 'running']).toContain(short.body.status);
    await call(`/tasks/${a.body.id}`, { method: 'DELETE' });
  });

  it('Should clamp a large wait and answer as soon as the task ends', async () => {
    const a = await post('/functions/wait/tasks', { args: [100] });
    const done = await call(`/tasks/${a.body.id}?wait=99999999999999999999`);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'completed', result: 100 });
  });

  it('Should answer 400 for a bad wait', async () => {
    for (const wait of ['abc', '-1', '1.5', '', '1e3', '0x10', ' 5']) {
      const a = await call(`/tasks/unknown-id?wait=${encodeURIComponent(wait)}`);
      expectError(a, 400, 'invalid_query');
      expect(a.body.error.details[0].field).toBe('wait');
    }
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

describe('unknown routes and methods', () => {
  it('Should answer 404 with the error shape', async () => {
    expectError(await call('/nope'), 404, 'not_found');
    expectError(await call('/functions/echo/other'), 404, 'not_found');
  });

  it('Should answer 405 with Allow and the error shape', async () => {
    const cases: Array<[string, string, string]> = [
      ['PUT', '/functions', 'GET'],
      ['DELETE', '/health', 'GET'],
      ['GET', '/functions/echo/tasks', 'POST'],
      ['PATCH', '/tasks/x', 'GET, DELETE'],
      ['POST', '/stats', 'GET'],
    ];
    for (const [method, path, allow] of cases) {
      const a = await call(path, { method });
      expectError(a, 405, 'method_not_allowed');
      expect(a.headers.get('Allow')).toBe(`${allow}, OPTIONS`);
    }
  });
});

describe('CORS', () => {
  it('Should answer a preflight on every route', async () => {
    for (const path of ['/functions/echo/tasks', '/tasks/abc', '/health', '/nowhere']) {
      const res = await app.request(path, {
        method: 'OPTIONS',
        headers: {
          Origin: 'https://app.example',
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'content-type, authorization',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
      expect(res.headers.get('Access-Control-Allow-Methods')).toContain('POST');
      expect(res.headers.get('Access-Control-Allow-Headers')).toContain('Authorization');
    }
  });

  it('Should put the headers on errors too', async () => {
    const init = { headers: { Origin: 'https://app.example' } };
    for (const path of ['/nope', '/functions/nope', '/tasks/...']) {
      const res = await app.request(path, init);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    }
    const big = await app.request('/functions/echo/tasks', {
      method: 'POST',
      body: 'x'.repeat(5000),
      headers: { Origin: 'https://app.example' },
    });
    expect(big.status).toBe(413);
    expect(big.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(big.headers.get('Access-Control-Expose-Headers')).toContain('Location');
  });

  it('Should allow only the configured origins', async () => {
    const only = createApp({
      runtime,
      metrics,
      corsOrigin: 'https://a.example, https://b.example',
    });
    const from = (origin: string) => only.request('/health', { headers: { Origin: origin } });
    expect((await from('https://b.example')).headers.get('Access-Control-Allow-Origin')).toBe(
      'https://b.example',
    );
    expect((await from('https://evil.example')).headers.get('Access-Control-Allow-Origin')).toBe(
      null,
    );
    expect((await from('https://a.example')).headers.get('Vary')).toContain('Origin');
  });
});

describe('bearer token', () => {
  const secured = () => createApp({ runtime, metrics, token: 's3cret-token' });

  it('Should refuse a missing or wrong token with 401, CORS headers included', async () => {
    const app2 = secured();
    const headers = (auth?: string): Record<string, string> => ({
      Origin: 'https://app.example',
      ...(auth ? { Authorization: auth } : {}),
    });
    for (const auth of [
      undefined,
      'Bearer wrong',
      'Bearer s3cret-tokeN',
      'Basic s3cret-token',
      'Bearer',
    ]) {
      for (const path of ['/functions', '/stats', '/metrics', '/tasks/x']) {
        const a = await call(path, { headers: headers(auth) }, app2);
        expectError(a, 401, 'unauthorized');
        expect(a.headers.get('Access-Control-Allow-Origin')).toBe('*');
        expect(a.headers.get('WWW-Authenticate')).toContain('Bearer');
      }
      const submit = await app2.request('/functions/echo/tasks', {
        method: 'POST',
        headers: headers(auth),
        body: '{}',
      });
      expect(submit.status).toBe(401);
    }
  });

  it('Should let the right token through, and /health and preflight without one', async () => {
    const app2 = secured();
    const ok = await call(
      '/functions',
      { headers: { Authorization: 'Bearer s3cret-token' } },
      app2,
    );
    expect(ok.status).toBe(200);
    const task = await app2.request('/functions/echo/invoke', {
      method: 'POST',
      headers: { Authorization: 'bearer s3cret-token' },
      body: '{"args":[7]}',
    });
    expect(task.status).toBe(200);
    expect((await call('/health', {}, app2)).status).toBe(200);
    const preflight = await app2.request('/functions', {
      method: 'OPTIONS',
      headers: { Origin: 'https://x.example', 'Access-Control-Request-Method': 'GET' },
    });
    expect(preflight.status).toBe(204);
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
