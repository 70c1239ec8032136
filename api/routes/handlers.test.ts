/**
 * Functions as HTTP handlers over a fake runtime: the request a function's `fetch` export gets
 * (its own path and the query, the method, headers and body, Authorization hidden behind a server
 * token), its response passed back with the CORS headers, and each refusal in the error shape.
 */
import { describe, expect, it } from 'vitest';
import { expectError, fakeApp } from '../../test/support/fake-app.ts';

/** Answers with what it was given, as JSON. */
const mirror = async (request: Request) =>
  Response.json(
    {
      method: request.method,
      url: request.url,
      authorization: request.headers.get('Authorization'),
      custom: request.headers.get('X-Custom'),
      body: request.body ? await request.text() : null,
    },
    { status: 207, headers: { 'X-From': 'function' } },
  );

const functions = {
  mirror: { fetch: mirror },
  bytes: { fetch: () => new Response(new Uint8Array([0, 1, 255])) },
  plain: { run: () => 1 },
  throws: {
    fetch: () => {
      throw new Error('handler broke');
    },
  },
  slow: { fetch: () => new Promise<Response>(() => {}), config: { timeoutMs: 20 } },
};

describe('/fn/:name', () => {
  it('Should hand the function its own path, the query, method, headers and body', async () => {
    const { app } = fakeApp(functions);
    const res = await app.request('http://server.test/fn/mirror/notes/7?x=1&y=2', {
      method: 'PATCH',
      body: 'hello',
      headers: { 'X-Custom': 'kept', Origin: 'https://app.example' },
    });
    expect(res.status).toBe(207);
    expect(res.headers.get('X-From')).toBe('function');
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(await res.json()).toEqual({
      method: 'PATCH',
      url: 'http://server.test/notes/7?x=1&y=2',
      authorization: null,
      custom: 'kept',
      body: 'hello',
    });
  });

  it('Should answer the root of a function at / and pass bytes back as they are', async () => {
    const { app } = fakeApp(functions);
    const root = await (await app.request('http://server.test/fn/mirror')).json();
    expect(root).toMatchObject({ method: 'GET', url: 'http://server.test/', body: null });
    const bytes = await app.request('/fn/bytes/any');
    expect([...new Uint8Array(await bytes.arrayBuffer())]).toEqual([0, 1, 255]);
  });

  it('Should hide Authorization behind a server token, and pass it on without one', async () => {
    const secured = fakeApp(functions, { token: 'invoke-secret', adminToken: 'admin-secret' });
    for (const token of ['invoke-secret', 'admin-secret']) {
      const a = await secured.call('/fn/mirror', { headers: { Authorization: `Bearer ${token}` } });
      expect(a.body.authorization).toBeNull();
    }
    expectError(await secured.call('/fn/mirror'), 401, 'unauthorized');
    const open = fakeApp(functions);
    const a = await open.call('/fn/mirror', { headers: { Authorization: 'Bearer theirs' } });
    expect(a.body.authorization).toBe('Bearer theirs');
  });

  it("Should keep the server's origin whatever the path says, and cut an encoded name at its end", async () => {
    const { app } = fakeApp(functions);
    const urlOf = async (path: string) =>
      ((await (await app.request(`http://server.test${path}`)).json()) as { url: string }).url;
    // A path that starts with `//` would make a URL of another host if it were joined to one.
    const evil = await urlOf('/fn/mirror//evil.example/x?next=1');
    expect(new URL(evil).host).toBe('server.test');
    expect(evil).toBe('http://server.test//evil.example/x?next=1');
    expect(new URL(await urlOf('/fn/mirror///evil.example')).host).toBe('server.test');
    expect(new URL(await urlOf('/fn/mirror/%2F%2Fevil.example/x')).host).toBe('server.test');
    // `%6d` is `m`: the name is decoded, and the function's path starts after it as sent.
    expect(await urlOf('/fn/%6dirror/a/b?q=%2F')).toBe('http://server.test/a/b?q=%2F');
    expect(await urlOf('/fn/mi%72ror')).toBe('http://server.test/');
  });

  it('Should hide Authorization from a handler whenever either server token is set', async () => {
    // Only the admin token set: every route is open, and that token must still never leak.
    const adminOnly = fakeApp(functions, { adminToken: 'admin-secret' });
    for (const value of ['Bearer admin-secret', 'Bearer admin-secre', 'Basic dXNlcjpwYXNz']) {
      const a = await adminOnly.call('/fn/mirror', { headers: { Authorization: value } });
      expect(a.status).toBe(207);
      expect(a.body.authorization).toBeNull();
    }
    const invokeOnly = fakeApp(functions, { token: 'invoke-secret' });
    const b = await invokeOnly.call('/fn/mirror/x', {
      headers: { Authorization: 'bearer   invoke-secret ' },
    });
    expect(b.body.authorization).toBeNull();
  });

  it('Should answer 404 without a fetch export or function, 400 for a bad name', async () => {
    const { call } = fakeApp(functions);
    expectError(await call('/fn/plain/x'), 404, 'no_fetch_handler');
    expectError(await call('/fn/nope'), 404, 'unknown_function');
    expectError(await call('/fn/a.b/x'), 400, 'invalid_name');
  });

  it('Should answer 503 function_unavailable for a function that failed to load', async () => {
    const { call } = fakeApp({ broken: { fetch: () => new Response('x'), loadError: 'no' } });
    expectError(await call('/fn/broken'), 503, 'function_unavailable', 'unavailable');
  });

  it('Should answer 500 when the handler throws, 504 past its timeout, 503 draining', async () => {
    const { call, runtime } = fakeApp(functions);
    expectError(await call('/fn/throws'), 500, 'handler_failed', 'handler broke');
    expectError(await call('/fn/slow'), 504, 'handler_timed_out');
    await runtime.close();
    expectError(await call('/fn/mirror'), 503, 'draining');
  });
});
