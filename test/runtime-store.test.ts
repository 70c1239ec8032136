/**
 * The runtime over the embedded SQLite store, in this process with real workers (Node host,
 * libsql): calls and submits, idempotency keys through `call` and `submit`, a function that does
 * not load, a deleted function that still runs what it accepted (its claims come back after a
 * commit, and its workers retire only once they are idle), and a shutdown that fails what runs
 * but keeps what waits for the next start (an invoke still waiting is told so, never answered
 * with a queued record).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { libsqlDriver } from '../runtime/host/sqlite-libsql.ts';
import {
  isReplay,
  openSqliteStore,
  type Runtime,
  type SqliteTaskBackend,
} from '../runtime/index.ts';
import { startCore } from './support/core-runtime.ts';
import { startNodeRuntime } from './support/node-runtime.ts';
import { until } from './support/wait.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const start = async (): Promise<{ runtime: Runtime; store: SqliteTaskBackend; path: string }> => {
  const folder = mkdtempSync(join(tmpdir(), 'ebbflow-runtime-store-'));
  cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
  const path = join(folder, 'tasks.db');
  const store = openSqliteStore({ path, driver: libsqlDriver, ttlMs: 3_600_000, maxResults: 1000 });
  cleanups.push(() => store.close());
  const runtime = await startCore({ backend: store });
  cleanups.push(() => runtime.close({ drainTimeoutMs: 0 }));
  return { runtime, store, path };
};

describe('the runtime over the SQLite store', () => {
  it('Should call and submit, and answer a repeated idempotency key with the first task', async () => {
    const { runtime } = await start();
    expect(await runtime.call('add', [1])).toMatchObject({ status: 'completed', result: 2 });
    const submitted = await runtime.submit('add', [2]);
    expect(await runtime.wait(submitted.id, 10_000)).toMatchObject({ result: 3 });
    const first = await runtime.call('add', [5], { idempotencyKey: 'k' });
    expect(isReplay(first)).toBe(false);
    const again = await runtime.call('add', [5], { idempotencyKey: 'k' });
    expect(isReplay(again)).toBe(true);
    expect(again).toEqual(first);
    const resubmitted = await runtime.submit('add', [5], { idempotencyKey: 'k' });
    expect(resubmitted).toMatchObject({ id: first.id, status: 'completed' });
    await expect(runtime.call('add', [6], { idempotencyKey: 'k' })).rejects.toMatchObject({
      code: 'idempotency_key_reused',
    });
    await expect(runtime.submit('add', [1], { idempotencyKey: '' })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
  });

  it('Should fail the tasks of a function that does not load', async () => {
    const { runtime } = await start();
    const record = await runtime.submit('syntax-error', []);
    expect(record).toMatchObject({ status: 'failed', errorCode: 'load_failed' });
    expect(await runtime.call('syntax-error', [])).toMatchObject({ errorCode: 'load_failed' });
  });

  it('Should run every task a deleted function accepted', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ebbflow-runtime-store-'));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const folder = join(root, 'functions');
    mkdirSync(folder);
    writeFileSync(join(folder, 'other.ts'), 'export default () => 1;\n');
    const store = openSqliteStore({
      path: join(root, 'tasks.db'),
      driver: libsqlDriver,
      ttlMs: 3_600_000,
      maxResults: 1000,
    });
    cleanups.push(() => store.close());
    const runtime = await startNodeRuntime(folder, {
      minWorkers: 1,
      maxWorkers: 4,
      backend: store,
    });
    cleanups.push(() => runtime.close({ drainTimeoutMs: 0 }));
    const nap =
      'export default async (ms) => {\n  await new Promise((r) => setTimeout(r, ms));\n  return ms;\n};\n';
    await runtime.deploy('doomed', nap, 'ts');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await runtime.submit('doomed', [300])).id);
    await runtime.remove('doomed');
    for (const id of ids) {
      expect(await runtime.wait(id, 30_000)).toMatchObject({ status: 'completed', result: 300 });
    }
  }, 60_000);

  it('Should fail what runs at shutdown and keep what waits, telling a waiting invoke', async () => {
    const { runtime, store, path } = await start();
    const running = [
      await runtime.submit('faulty', ['hang']),
      await runtime.submit('faulty', ['hang']),
    ];
    await until(() => runtime.getFunction('faulty')?.activeTasks === 2);
    const queued = await runtime.submit('faulty', ['ok', 'later']);
    const invoked = runtime.call('faulty', ['ok', 'invoked']);
    await until(() => (runtime.getFunction('faulty')?.queueSize ?? 0) === 2);
    await runtime.close({ drainTimeoutMs: 0 });
    for (const { id } of running) {
      expect(await runtime.result(id)).toMatchObject({ status: 'failed', errorCode: 'shutdown' });
    }
    expect(await runtime.result(queued.id)).toMatchObject({ status: 'queued' });
    await store.close();
    await expect(invoked).rejects.toMatchObject({
      code: 'draining',
      message: expect.stringContaining('runs after the next start'),
    });
    const reopened = openSqliteStore({
      path,
      driver: libsqlDriver,
      ttlMs: 3_600_000,
      maxResults: 1000,
    });
    cleanups.push(() => reopened.close());
    expect(reopened.recovered).toEqual({ queued: 2, lost: 0 });
  });
});
