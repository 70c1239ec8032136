/**
 * What the app does for every route, over a fake runtime: CORS, the bearer token, body limits,
 * 404 and 405 in the error shape, and unexpected errors as a 500 that shows no internals.
 */
import { describe, expect, it } from 'vitest';
import { type Answer, expectError, FakeRuntime, fakeApp } from '../test/support/fake-app.ts';
import { createApp } from './app.ts';
import { Metrics } from './metrics.ts';
import { ROUTES } from './routes/index.ts';

const functions = { echo: { run: (...args: unknown[]) => args } };

/** Each path of the JSON API and the methods it takes, as `Allow` lists them. */
const ALLOW: Record<string, string> = {
  '/health': 'GET',
  '/ready': 'GET',
  '/functions': 'GET',
  '/functions/echo': 'GET, PUT, DELETE',
  '/functions/echo/versions': 'GET',
  '/functions/echo/rollback': 'POST',
  '/functions/echo/tasks': 'POST',
  '/functions/echo/invoke': 'POST',
  '/tasks': 'GET',
  '/tasks/x': 'GET, DELETE',
  '/tasks/x/retry': 'POST',
  '/events': 'GET',
  '/stats': 'GET',
  '/stats/history': 'GET',
  '/metrics': 'GET',
};

describe('the route table', () => {
  const ADMIN = { Authorization: 'Bearer adm' };
  /** A request each route of the table answers with success, by `method path` of the table. */
  const SUCCESS: Record<string, [string, RequestInit, number]> = {
    'get /health': ['/health', {}, 200],
    'get /ready': ['/ready', {}, 200],
    'get /stats': ['/stats', {}, 200],
    'get /stats/history': ['/stats/history', {}, 200],
    'get /metrics': ['/metrics', {}, 200],
    'get /functions': ['/functions', {}, 200],
    'get /functions/:name': ['/functions/echo', {}, 200],
    'put /functions/:name': [
      '/functions/made',
      {
        method: 'PUT',
        body: 'export default () => 1;',
        headers: { ...ADMIN, 'Content-Type': 'application/typescript' },
      },
      201,
    ],
    'get /functions/:name/versions': ['/functions/made/versions', {}, 200],
    'post /functions/:name/rollback': [
      '/functions/made/rollback',
      { method: 'POST', body: '{"version":1}', headers: ADMIN },
      200,
    ],
    'delete /functions/:name': ['/functions/made', { method: 'DELETE', headers: ADMIN }, 200],
    'post /functions/:name/tasks': ['/functions/echo/tasks', { method: 'POST' }, 202],
    'post /functions/:name/invoke': [
      '/functions/echo/invoke',
      { method: 'POST', body: '{"id":"one"}' },
      200,
    ],
    'get /tasks/:id': ['/tasks/one', {}, 200],
    'delete /tasks/:id': ['/tasks/held', { method: 'DELETE' }, 200],
    'get /tasks': ['/tasks', {}, 200],
    'post /tasks/:id/retry': ['/tasks/held/retry', { method: 'POST' }, 202],
    'get /events': ['/events', {}, 200],
    'all /fn/:name': ['/fn/web', { method: 'PATCH' }, 200],
    'all /fn/:name/*': ['/fn/web/a/b', { method: 'PUT' }, 200],
    'get /openapi.json': ['/openapi.json', {}, 200],
  };

  it('Should mount every route, each answering a success its OpenAPI entry lists', async () => {
    const { app, post } = fakeApp(
      {
        ...functions,
        hold: { run: () => new Promise(() => {}) },
        web: { fetch: () => new Response('w') },
      },
      { adminToken: 'adm', assets: async (file) => new TextEncoder().encode(file) },
    );
    await post('/functions/hold/tasks', { id: 'held' });
    const key = (method: string, path: string) => `${method} ${path}`;
    const pages = ROUTES.filter((r) => r.tag === 'pages' && r.path !== '/openapi.json');
    expect(pages.length).toBeGreaterThan(5);
    expect(Object.keys(SUCCESS).sort()).toEqual(
      ROUTES.filter((r) => !pages.includes(r))
        .map((r) => key(r.method, r.path))
        .sort(),
    );
    const requests = [
      ...Object.entries(SUCCESS),
      ...pages.map((r): [string, [string, RequestInit, number]] => [
        key('get', r.path),
        [r.path, {}, 200],
      ]),
    ];
    for (const [name, [path, init, status]] of requests) {
      const res = await app.request(path, init);
      await res.body?.cancel();
      expect(res.status, name).toBe(status);
      const route = ROUTES.find((r) => key(r.method, r.path) === name);
      expect(Object.keys(route?.responses ?? {}), name).toContain(
        route?.method === 'all' ? 'default' : String(status),
      );
    }
  });
});

describe('unknown routes and methods', () => {
  it('Should answer 404 with the error shape', async () => {
    const { call } = fakeApp(functions);
    expectError(await call('/nope'), 404, 'not_found', 'no route GET /nope');
    expectError(await call('/functions/echo/other'), 404, 'not_found');
    expectError(await call('/tasks/x/other', { method: 'POST' }), 404, 'not_found');
  });

  it('Should answer 405 with Allow for each method a path of the API does not take', async () => {
    const { call } = fakeApp(functions);
    for (const [path, allow] of Object.entries(ALLOW)) {
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
        if (allow.split(', ').includes(method)) continue;
        const a = await call(path, { method });
        expectError(a, 405, 'method_not_allowed', `${method} is not allowed on`);
        expect(a.body.error.message).toContain(`; use ${allow}`);
        expect(a.headers.get('Allow')).toBe(`${allow}, OPTIONS`);
      }
    }
    // URL parsing resolves %2e%2e: the request reaches `POST /tasks`, the listing.
    expectError(
      await call('/functions/%2e%2e/tasks', { method: 'POST' }),
      405,
      'method_not_allowed',
    );
  });
});

describe('CORS', () => {
  const preflight = (app: ReturnType<typeof fakeApp>['app'], path: string) =>
    app.request(path, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type, authorization',
      },
    });

  it('Should answer a preflight on every route, and on none, without a token', async () => {
    const { app } = fakeApp(functions, { token: 'secret' });
    for (const path of [...Object.keys(ALLOW), '/fn/echo/x', '/', '/nowhere']) {
      const res = await preflight(app, path);
      expect(res.status, path).toBe(204);
      expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
      expect(res.headers.get('Access-Control-Allow-Methods')).toBe(
        'GET,POST,PUT,PATCH,DELETE,OPTIONS',
      );
      expect(res.headers.get('Access-Control-Allow-Headers')).toBe(
        'Content-Type,Authorization,Idempotency-Key',
      );
      expect(res.headers.get('Access-Control-Max-Age')).toBe('600');
    }
  });

  it('Should put the headers on answers and errors too', async () => {
    const { call } = fakeApp(functions, { maxBodyBytes: 1024 });
    const init = { headers: { Origin: 'https://app.example' } };
    const answers: Answer[] = [
      await call('/health', init),
      await call('/nope', init),
      await call('/functions/nope', init),
      await call('/tasks/...', init),
      await call('/functions/echo/tasks', { ...init, method: 'POST', body: 'x'.repeat(5000) }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 404, 404, 400, 413]);
    for (const a of answers) {
      expect(a.headers.get('Access-Control-Allow-Origin')).toBe('*');
      expect(a.headers.get('Access-Control-Expose-Headers')).toBe(
        'Location,Retry-After,WWW-Authenticate,Ebbflow-Unchanged,Idempotent-Replayed',
      );
      expect(a.headers.get('Vary')).toBeNull();
    }
  });

  it('Should allow only the configured origins, and vary by Origin', async () => {
    const { app } = fakeApp(functions, { corsOrigin: 'https://a.example, https://b.example' });
    const from = (origin: string) => app.request('/health', { headers: { Origin: origin } });
    const b = await from('https://b.example');
    expect(b.headers.get('Access-Control-Allow-Origin')).toBe('https://b.example');
    expect(b.headers.get('Vary')).toContain('Origin');
    expect((await from('https://evil.example')).headers.get('Access-Control-Allow-Origin')).toBe(
      null,
    );
    const pre = await preflight(app, '/functions');
    expect(pre.headers.get('Access-Control-Allow-Origin')).toBeNull();
  });
});

describe('bearer token', () => {
  const secured = () => fakeApp(functions, { token: 's3cret-token' });

  it('Should refuse a missing or wrong token with 401 on every route but the public ones', async () => {
    const { call, post } = secured();
    const origin = { Origin: 'https://app.example' };
    for (const auth of [undefined, 'Bearer wrong', 'Bearer s3cret-tokeN', 'Basic s3cret-token']) {
      const headers = { ...origin, ...(auth ? { Authorization: auth } : {}) };
      for (const path of ['/functions', '/stats', '/metrics', '/tasks/x', '/events', '/fn/echo']) {
        const a = await call(path, { headers });
        expectError(a, 401, 'unauthorized');
        expect(a.headers.get('Access-Control-Allow-Origin')).toBe('*');
        expect(a.headers.get('WWW-Authenticate')).toMatch(/^Bearer realm="ebbflow"/);
      }
      expectError(await post('/functions/echo/tasks', {}, headers), 401, 'unauthorized');
    }
    const wrong = await call('/stats', { headers: { Authorization: 'Bearer wrong' } });
    expect(wrong.headers.get('WWW-Authenticate')).toContain('error="invalid_token"');
  });

  it('Should let the right token through, case-insensitive in its scheme', async () => {
    const { call, post } = secured();
    const ok = await call('/functions', { headers: { Authorization: 'Bearer s3cret-token' } });
    expect(ok.status).toBe(200);
    const task = await post(
      '/functions/echo/invoke',
      { args: [7] },
      {
        Authorization: 'bearer s3cret-token',
      },
    );
    expect(task.status).toBe(200);
  });

  it('Should let /health, /ready, /openapi.json and the pages through without one', async () => {
    const { call } = secured();
    expect((await call('/health')).status).toBe(200);
    expect((await call('/ready')).status).toBe(200);
    expect((await call('/openapi.json')).status).toBe(200);
    // No asset reader here: the page is looked for (404), not refused (401).
    expectError(await call('/docs'), 404, 'not_found');
  });
});

describe('body limits', () => {
  const body = (bytes: number) => JSON.stringify({ args: ['x'.repeat(bytes)] });

  it('Should answer 413 for a body over the limit, with or without Content-Length', async () => {
    const { call, post } = fakeApp(functions, { maxBodyBytes: 1024 });
    expectError(await post('/functions/echo/tasks', body(2000)), 413, 'payload_too_large', '1024');
    const big = body(2000);
    const chunks = [new TextEncoder().encode(big.slice(0, 600)), new TextEncoder().encode(big)];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const chunk = chunks.shift();
        if (chunk) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const chunked = await call('/functions/echo/invoke', {
      method: 'POST',
      body: stream,
      // @ts-expect-error: `duplex` is required for a stream body but missing from the DOM types.
      duplex: 'half',
    });
    expectError(chunked, 413, 'payload_too_large');
    // Just under the limit still passes.
    expect((await post('/functions/echo/tasks', body(900))).status).toBe(202);
  });

  it('Should default to 1 MiB', async () => {
    const { post } = fakeApp(functions);
    expect((await post('/functions/echo/tasks', body(1_000_000))).status).toBe(202);
    expectError(await post('/functions/echo/tasks', body(1_048_576)), 413, 'payload_too_large');
  });
});

describe('unexpected errors', () => {
  it('Should answer 500 internal without internals, and log the stack', async () => {
    class Broken extends FakeRuntime {
      override stats(): never {
        throw new Error('secret detail');
      }
    }
    const logs: string[] = [];
    const app = createApp({
      runtime: new Broken(),
      metrics: new Metrics(),
      log: (m) => logs.push(m),
    });
    const res = await app.request('/stats');
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: { code: 'internal', message: 'internal server error' },
    });
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^internal error on GET \/stats: Error: secret detail\n\s+at /);
  });
});
