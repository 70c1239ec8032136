/**
 * The function routes over a fake runtime: listing and reading functions, and deploying and
 * deleting them by name behind the admin token. The fake loads a deployed source as a JavaScript
 * module, so a source that does not load is refused as the real loader refuses it.
 */
import { describe, expect, it } from 'vitest';
import { expectError, fakeApp } from '../../test/support/fake-app.ts';

const TS = { 'Content-Type': 'application/typescript' };
const ADMIN = { Authorization: 'Bearer admin-secret' };
const INVOKE = { Authorization: 'Bearer invoke-secret' };
const SOURCE = 'export default (n) => n * 2;';

const functions = {
  echo: { run: (...args: unknown[]) => args, config: { maxWorkers: 3, concurrency: 2 } },
  broken: { loadError: 'broken on purpose' },
};

const deployer = (options: { token?: string; adminToken?: string; maxFunctionBytes?: number }) => {
  const served = fakeApp(functions, options);
  const put = (name: string, body: BodyInit, headers: Record<string, string>) =>
    served.call(`/functions/${name}`, { method: 'PUT', body, headers });
  const remove = (name: string, headers: Record<string, string> = ADMIN) =>
    served.call(`/functions/${name}`, { method: 'DELETE', headers });
  return { ...served, put, remove };
};

describe('GET /functions', () => {
  it('Should list every function by name, unavailable ones with the loader message', async () => {
    const { call } = fakeApp(functions);
    const a = await call('/functions');
    expect(a.status).toBe(200);
    expect(a.body.functions.map((f: { name: string }) => f.name)).toEqual(['broken', 'echo']);
    expect(a.body.functions[0]).toMatchObject({
      status: 'unavailable',
      error: 'broken on purpose',
    });
  });
});

describe('GET /functions/:name', () => {
  it('Should describe one function with its settings and load', async () => {
    const { call } = fakeApp(functions);
    const a = await call('/functions/echo');
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({
      name: 'echo',
      status: 'ready',
      maxWorkers: 3,
      concurrency: 2,
      activeTasks: 0,
      queueSize: 0,
    });
  });

  it('Should answer 404 for an unknown function', async () => {
    const { call } = fakeApp(functions);
    expectError(await call('/functions/nope'), 404, 'unknown_function', '"nope"');
  });

  it('Should refuse names outside the rule before any lookup', async () => {
    const { call } = fakeApp(functions);
    for (const [path, got] of [
      ['/functions/..%2Fetc', '../etc'],
      ['/functions/..%2F..%2Fetc%2Fpasswd', '../../etc/passwd'],
      ['/functions/a.b', 'a.b'],
      ['/functions/_x', '_x'],
      [`/functions/${'a'.repeat(65)}`, 'a'.repeat(65)],
    ]) {
      const a = await call(path as string);
      expectError(a, 400, 'invalid_name', '1 to 64 characters');
      expect(a.body.error.details).toEqual([{ field: 'name', message: `got "${got}"` }]);
    }
    // URL parsing resolves %2e%2e as "..": the request ends up at `/`, which only GETs.
    expectError(await call('/functions/%2e%2e'), 404, 'not_found');
  });
});

describe('PUT /functions/:name', () => {
  it('Should answer 403 deploy_disabled, naming the variable, without an admin token', async () => {
    const { put } = deployer({});
    expectError(await put('f', SOURCE, TS), 403, 'deploy_disabled', 'EBBFLOW_ADMIN_TOKEN');
  });

  it('Should refuse a missing or wrong token with 401 and the invoke token with 403', async () => {
    const { put } = deployer({ token: 'invoke-secret', adminToken: 'admin-secret' });
    const missing = await put('f', SOURCE, TS);
    expectError(missing, 401, 'unauthorized');
    expect(missing.headers.get('WWW-Authenticate')).toContain('Bearer');
    expectError(
      await put('f', SOURCE, { ...TS, Authorization: 'Bearer nope' }),
      401,
      'unauthorized',
    );
    expectError(await put('f', SOURCE, { ...TS, ...INVOKE }), 403, 'forbidden', 'admin token');
    // With only the admin token set, the other routes stay open and deploys still need it.
    const adminOnly = deployer({ adminToken: 'admin-secret' });
    expect((await adminOnly.call('/functions')).status).toBe(200);
    expectError(await adminOnly.put('f', SOURCE, TS), 401, 'unauthorized', 'deploying');
    expectError(
      await adminOnly.put('f', SOURCE, { ...TS, Authorization: 'Bearer nope' }),
      401,
      'unauthorized',
    );
  });

  it('Should deploy with 201, replace with 200, log each, and let the admin token call every route', async () => {
    const { put, post, logs } = deployer({ token: 'invoke-secret', adminToken: 'admin-secret' });
    const created = await put('double', SOURCE, { ...TS, ...ADMIN });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'double', version: 1, status: 'ready' });
    const updated = await put('double', 'export default (n) => n * 3;', {
      'Content-Type': 'text/javascript; charset=utf-8',
      ...ADMIN,
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ version: 2 });
    expect(updated.body.sha256).toMatch(/^[0-9a-f]{64}$/);
    const invoked = await post('/functions/double/invoke', { args: [5] }, ADMIN);
    expect(invoked.body).toMatchObject({ result: 15, version: 2 });
    expect(logs).toContainEqual(
      expect.stringMatching(
        /^ebbflow: deploy double version=2 sha256=[0-9a-f]{64} size=28 token=admin$/,
      ),
    );
  });

  it('Should answer 400 for a bad name, 415 for another type, 413 past the limit', async () => {
    const { put } = deployer({ adminToken: 'admin-secret', maxFunctionBytes: 64 });
    expectError(await put('bad.name', SOURCE, { ...TS, ...ADMIN }), 400, 'invalid_name');
    const json = await put('f', '{}', { 'Content-Type': 'application/json', ...ADMIN });
    expectError(json, 415, 'unsupported_media_type', 'got "application/json"');
    // Bytes go without a Content-Type (a string body would be sent as text/plain).
    const untyped = await put('f', new TextEncoder().encode(SOURCE), ADMIN);
    expectError(untyped, 415, 'unsupported_media_type', 'got none');
    const big = await put('f', `export default () => '${'x'.repeat(100)}';`, { ...TS, ...ADMIN });
    expectError(big, 413, 'payload_too_large', 'EBBFLOW_MAX_FUNCTION_BYTES');
  });

  it('Should take a source larger than the request body limit (a deploy has its own)', async () => {
    const { put } = deployer({ adminToken: 'admin-secret' });
    const roomy = fakeApp(functions, { adminToken: 'admin-secret', maxBodyBytes: 64 });
    const source = `export default () => '${'x'.repeat(200)}';`;
    const a = await roomy.call('/functions/long', {
      method: 'PUT',
      body: source,
      headers: { ...TS, ...ADMIN },
    });
    expect(a.status).toBe(201);
    expect((await put('long', source, { ...TS, ...ADMIN })).status).toBe(201);
  });

  it('Should answer 422 invalid_function with the loader message, keeping the old version', async () => {
    const { put, call } = deployer({ adminToken: 'admin-secret' });
    const broken = await put('broken-new', 'export default () => {\n  return (;\n};\n', {
      ...TS,
      ...ADMIN,
    });
    expectError(broken, 422, 'invalid_function', 'broken-new');
    const throws = await put('echo', 'throw new Error("no config here");', { ...TS, ...ADMIN });
    expectError(throws, 422, 'invalid_function', 'no config here');
    expectError(await call('/functions/broken-new'), 404, 'unknown_function');
    expect((await call('/functions/echo')).body).toMatchObject({ status: 'ready', maxWorkers: 3 });
  });
});

describe('DELETE /functions/:name', () => {
  it('Should delete with 200 and status deleted, log it, then answer 404', async () => {
    const { put, remove, post, logs } = deployer({ adminToken: 'admin-secret' });
    await put('gone', SOURCE, { ...TS, ...ADMIN });
    const a = await remove('gone');
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ name: 'gone', status: 'deleted', version: 1 });
    expect(logs).toContainEqual(expect.stringMatching(/^ebbflow: delete gone version=1 sha256=/));
    expectError(await remove('gone'), 404, 'unknown_function');
    expectError(await post('/functions/gone/tasks', {}), 404, 'unknown_function');
  });

  it('Should need the admin token and check the name after it', async () => {
    const { remove } = deployer({ adminToken: 'admin-secret' });
    expectError(await remove('echo', {}), 401, 'unauthorized');
    expectError(await remove('a.b', {}), 401, 'unauthorized');
    expectError(await remove('a.b'), 400, 'invalid_name');
    expectError(await deployer({}).remove('echo'), 403, 'deploy_disabled');
  });
});
