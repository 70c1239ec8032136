/**
 * Tasks survive a restart (the contract's v3): real servers on Node, Deno and Bun started as
 * users start them, keeping their tasks in a SQLite file. After `kill -9`: finished tasks are
 * readable, queued ones run, running ones run again with attempts left or fail `server_lost`,
 * and an idempotency key still holds. After a drain: queued tasks wait for the next start. A
 * second server on the file refuses to start naming it; a file inside the functions folder is
 * refused; `EBBFLOW_STORE=memory` writes nothing. Idempotent submission over HTTP on each host.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { STORAGE_FUNCTIONS } from './support/functions.ts';
import {
  type Client,
  client,
  describeEachRuntime,
  launch,
  type Server,
  startServer,
  TERMINAL,
} from './support/server.ts';
import { until } from './support/wait.ts';

const folders: string[] = [];
const running: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.stop(5_000)));
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** Settings for a server on its own file in a fresh folder. */
const onFile = (extra: Record<string, string> = {}) => {
  const folder = mkdtempSync(join(tmpdir(), 'ebbflow-storage-'));
  folders.push(folder);
  return {
    file: join(folder, 'tasks.db'),
    env: {
      EBBFLOW_FUNCTIONS: STORAGE_FUNCTIONS,
      EBBFLOW_DATA: join(folder, 'tasks.db'),
      EBBFLOW_MIN_WORKERS: '1',
      EBBFLOW_DRAIN_TIMEOUT_MS: '1500',
      ...extra,
    },
  };
};

const held = (api: Client, count: number, queued: number) =>
  until(async () => {
    const info = (await api.get('/functions/hold')).body;
    return info.activeTasks === count && info.queueSize === queued;
  }, 60_000);

describeEachRuntime('tasks kept in SQLite', (runtime) => {
  const start = async (env: Record<string, string>) => {
    const server = await startServer(runtime, env);
    running.push(server);
    return { server, api: client(server.url) };
  };

  it('Should keep finished tasks, run queued ones, and retry or fail the running ones after kill -9', async () => {
    const { file, env } = onFile();
    const first = await start(env);
    const done = await first.api.post('/functions/echo/invoke', { args: ['kept'] });
    expect(done.status).toBe(200);
    const keyed = await first.api.request(
      'POST',
      '/functions/echo/tasks',
      { args: ['once'] },
      {
        'Idempotency-Key': 'order-42',
      },
    );
    expect(keyed.status).toBe(202);
    const hold = async (ms: number, attempts = 1) =>
      (
        await first.api.post('/functions/hold/tasks', {
          args: [ms],
          retry: { attempts, backoffMs: 0 },
        })
      ).body.id as string;
    const again = await hold(60_000, 2);
    const lost = await hold(60_000);
    const waiting = await hold(50);
    await held(first.api, 2, 1);
    expect(first.server.output()).toContain(`tasks are kept in ${file}`);
    first.server.kill();
    await first.server.exited;

    const second = await start(env);
    expect(second.server.output()).toContain('found 1 queued and 2 lost with the last process');
    const read = async (id: string) => (await second.api.get(`/tasks/${id}`)).body;
    expect(await read(done.body.id)).toEqual(done.body);
    expect(await read(lost)).toMatchObject({
      status: 'failed',
      errorCode: 'server_lost',
      attempt: 1,
      error: expect.stringContaining('lost'),
    });
    expect((await second.api.get(`/tasks/${waiting}?wait=30000`)).body).toMatchObject({
      status: 'completed',
      result: { slept: 50 },
    });
    await until(async () => {
      const record = await read(again);
      return record.status === 'running' && record.attempt === 2;
    });
    // The key still names the task it created before the kill.
    const repeat = await second.api.request(
      'POST',
      '/functions/echo/tasks',
      { args: ['once'] },
      {
        'Idempotency-Key': 'order-42',
      },
    );
    expect(repeat.status).toBe(200);
    expect(repeat.headers.get('Idempotent-Replayed')).toBe('true');
    expect(repeat.body.id).toBe(keyed.body.id);
  }, 180_000);

  it('Should keep queued tasks through a drain and run them at the next start', async () => {
    const { env } = onFile();
    const first = await start(env);
    const post = async (ms: number) =>
      (await first.api.post('/functions/hold/tasks', { args: [ms] })).body.id as string;
    const cut = [await post(60_000), await post(60_000)];
    const kept = [await post(20), await post(20)];
    await held(first.api, 2, 2);
    // A long-poll on a queued task is answered as the server stops, with the task as it is.
    const poll = first.api.get(`/tasks/${kept[0]}?wait=30000`);
    first.server.child.kill('SIGTERM');
    expect(await first.server.exited).toBe(0);
    expect((await poll).body).toMatchObject({ id: kept[0], status: 'queued' });

    const second = await start(env);
    for (const id of cut) {
      expect((await second.api.get(`/tasks/${id}`)).body).toMatchObject({
        status: 'failed',
        errorCode: 'shutdown',
      });
    }
    for (const id of kept) {
      expect((await second.api.get(`/tasks/${id}?wait=30000`)).body).toMatchObject({
        status: 'completed',
      });
    }
  }, 180_000);

  it('Should refuse a second server on the same file, naming the file, and a file inside the functions folder', async () => {
    const { file, env } = onFile();
    const first = await start(env);
    const second = launch(runtime, env);
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/another process has the task database \S*tasks\.db open/);
    expect(second.output()).toContain(file);
    expect((await first.api.get('/health')).status).toBe(200);

    const inside = launch(runtime, {
      ...env,
      EBBFLOW_DATA: join(STORAGE_FUNCTIONS, '.state', 'tasks.db'),
    });
    expect(await inside.exited).toBe(1);
    expect(inside.output()).toContain('is inside the functions folder');
    expect(existsSync(join(STORAGE_FUNCTIONS, '.state'))).toBe(false);
  }, 120_000);

  it('Should keep tasks in memory only, writing nothing, with EBBFLOW_STORE=memory', async () => {
    const { file, env } = onFile({ EBBFLOW_STORE: 'memory' });
    const { api } = await start(env);
    expect((await api.post('/functions/echo/invoke', { args: [1] })).status).toBe(200);
    expect(existsSync(file)).toBe(false);
  }, 120_000);

  it('Should honour Idempotency-Key on /tasks and /invoke: one task, repeats answered with it', async () => {
    const { env } = onFile();
    const { api } = await start(env);
    const send = (path: string, body: unknown, key: string) =>
      api.request('POST', path, body, { 'Idempotency-Key': key });
    const first = await send('/functions/echo/tasks', { args: [1, { a: 2, b: 3 }] }, 'k-1');
    expect(first.status).toBe(202);
    // The same JSON, spaced and ordered otherwise, is the same body.
    const again = await api.raw('POST', '/functions/echo/tasks', '{ "args": [1, {"b":3,"a":2}] }', {
      'Idempotency-Key': 'k-1',
    });
    expect(again.status).toBe(200);
    expect(again.headers.get('Idempotent-Replayed')).toBe('true');
    expect(again.headers.get('Location')).toBe(`/tasks/${first.body.id}`);
    expect(again.body.id).toBe(first.body.id);
    for (const [path, body] of [
      ['/functions/echo/tasks', { args: [2] }],
      ['/functions/hold/tasks', { args: [1, { a: 2, b: 3 }] }],
    ] as const) {
      const reused = await send(path, body, 'k-1');
      expect(reused.status).toBe(422);
      expect(reused.body.error).toMatchObject({
        code: 'idempotency_key_reused',
        message: expect.stringContaining(first.body.id),
      });
    }
    const bad = await send('/functions/echo/tasks', { args: [1] }, 'x'.repeat(256));
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([
      { field: 'Idempotency-Key', message: expect.stringContaining('1 to 255') },
    ]);
    const invoked = await send('/functions/echo/invoke', { args: ['i'] }, 'k-2');
    expect(invoked).toMatchObject({ status: 200, body: { status: 'completed', result: ['i'] } });
    expect(invoked.headers.get('Idempotent-Replayed')).toBeNull();
    const reinvoked = await send('/functions/echo/invoke', { args: ['i'] }, 'k-2');
    expect(reinvoked.status).toBe(200);
    expect(reinvoked.headers.get('Idempotent-Replayed')).toBe('true');
    expect(reinvoked.body).toEqual(invoked.body);
    // Nothing else was created: the listing holds the two tasks only.
    const listed = (await api.get('/tasks?limit=10')).body.tasks.map((t: { id: string }) => t.id);
    expect(listed.sort()).toEqual([first.body.id, invoked.body.id].sort());
    expect(TERMINAL.has(invoked.body.status)).toBe(true);
  }, 120_000);
});
