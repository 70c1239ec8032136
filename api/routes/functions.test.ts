import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../runtime/index.ts';
import { startNodeRuntime } from '../../test/support/node-runtime.ts';
import { createApp } from '../app.ts';
import { Metrics } from '../metrics.ts';

const TS = { 'Content-Type': 'application/typescript' };
const ADMIN = { Authorization: 'Bearer admin-secret' };
const INVOKE = { Authorization: 'Bearer invoke-secret' };

let dir: string;
let runtime: Runtime;
const logs: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ebbflow-routes-'));
  runtime = await startNodeRuntime(dir, { maxWorkers: 2 });
});
afterAll(async () => {
  await runtime.close({ drainTimeoutMs: 1_000 });
  await rm(dir, { recursive: true, force: true });
});

const app = (options: { token?: string; adminToken?: string; maxFunctionBytes?: number } = {}) =>
  createApp({ runtime, metrics: new Metrics(), log: (m) => logs.push(m), ...options });

const put = (
  a: ReturnType<typeof app>,
  name: string,
  body: string,
  headers: Record<string, string>,
) => a.request(`/functions/${name}`, { method: 'PUT', body, headers });

describe('PUT and DELETE /functions/:name', () => {
  it('Should answer 403 deploy_disabled, naming the variable, without an admin token', async () => {
    const res = await put(app(), 'f', 'export default () => 1;', TS);
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.error.code).toBe('deploy_disabled');
    expect(body.error.message).toContain('EBBFLOW_ADMIN_TOKEN');
  });

  it('Should refuse a missing or wrong token with 401 and the invoke token with 403', async () => {
    const secured = app({ token: 'invoke-secret', adminToken: 'admin-secret' });
    expect((await put(secured, 'f', 'export default () => 1;', TS)).status).toBe(401);
    const wrong = await put(secured, 'f', 'x', { ...TS, Authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    const invoke = await put(secured, 'f', 'export default () => 1;', { ...TS, ...INVOKE });
    expect(invoke.status).toBe(403);
    expect((await invoke.json()).error.code).toBe('forbidden');
    // With only the admin token set, the other routes stay open and deploys still need it.
    const adminOnly = app({ adminToken: 'admin-secret' });
    expect((await adminOnly.request('/functions')).status).toBe(200);
    expect((await put(adminOnly, 'f', 'export default () => 1;', TS)).status).toBe(401);
  });

  it('Should deploy with 201, update with 200, and let the admin token call every route', async () => {
    const secured = app({ token: 'invoke-secret', adminToken: 'admin-secret' });
    const created = await put(secured, 'double', 'export default (n: number) => n * 2;', {
      ...TS,
      ...ADMIN,
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ name: 'double', version: 1, status: 'ready' });
    const updated = await put(secured, 'double', 'export default (n) => n * 3;', {
      'Content-Type': 'text/javascript; charset=utf-8',
      ...ADMIN,
    });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({ version: 2 });
    const invoked = await secured.request('/functions/double/invoke', {
      method: 'POST',
      body: JSON.stringify({ args: [5] }),
      headers: ADMIN,
    });
    expect(await invoked.json()).toMatchObject({ result: 15, version: 2 });
    expect(
      logs.some((l) => /deploy double version=2 sha256=[0-9a-f]{64} size=\d+ token=admin/.test(l)),
    ).toBe(true);
  });

  it('Should answer 400 for a bad name, 415 for another type, 413 past the limit', async () => {
    const open = app({ adminToken: 'admin-secret', maxFunctionBytes: 64 });
    const bad = await put(open, 'bad.name', 'export default () => 1;', { ...TS, ...ADMIN });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('invalid_name');
    const json = await put(open, 'f', '{}', { 'Content-Type': 'application/json', ...ADMIN });
    expect(json.status).toBe(415);
    expect((await json.json()).error.code).toBe('unsupported_media_type');
    const big = await put(open, 'f', `export default () => '${'x'.repeat(100)}';`, {
      ...TS,
      ...ADMIN,
    });
    expect(big.status).toBe(413);
    expect((await big.json()).error.message).toContain('EBBFLOW_MAX_FUNCTION_BYTES');
  });

  it('Should answer 422 invalid_function with the loader message and the line', async () => {
    const open = app({ adminToken: 'admin-secret' });
    const res = await put(open, 'broken', 'export default () => {\n  return (;\n};\n', {
      ...TS,
      ...ADMIN,
    });
    expect(res.status).toBe(422);
    const { error } = await res.json();
    expect(error.code).toBe('invalid_function');
    expect(error.message).toMatch(/line 2/);
    const throws = await put(open, 'broken', 'throw new Error("no config here");', {
      ...TS,
      ...ADMIN,
    });
    expect(throws.status).toBe(422);
    expect((await throws.json()).error.message).toContain('no config here');
    expect((await open.request('/functions/broken')).status).toBe(404);
  });

  it('Should delete with 200 and status deleted, then 404', async () => {
    const open = app({ adminToken: 'admin-secret' });
    await put(open, 'gone', 'export default () => 1;', { ...TS, ...ADMIN });
    const res = await open.request('/functions/gone', { method: 'DELETE', headers: ADMIN });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ name: 'gone', status: 'deleted', version: 1 });
    expect(
      (await open.request('/functions/gone', { method: 'DELETE', headers: ADMIN })).status,
    ).toBe(404);
    const submit = await open.request('/functions/gone/tasks', { method: 'POST' });
    expect(submit.status).toBe(404);
    expect(logs.some((l) => l.startsWith('ebbflow: delete gone version=1'))).toBe(true);
  });
});
