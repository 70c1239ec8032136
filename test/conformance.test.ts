/**
 * One HTTP contract, four hosts: a real server started by each user-facing command (`npm start`,
 * `deno task start`, `bun run start`, `npm run dev:workers`) with PORT=0 and the functions in fixtures/conformance,
 * driven over HTTP through the same checks, ending with a SIGTERM drain that must exit 0.
 */
import { expect } from 'vitest';
import {
  checkOn,
  describeEachTarget,
  readJson as json,
  type ServerRuntime,
  serverForSuite,
} from './support/server.ts';
import { until } from './support/wait.ts';

const title = (runtime: ServerRuntime) => `the HTTP contract through ${runtime.readme}`;

describeEachTarget(title, (runtime) => {
  // Skips, with the reason, what the runtime cannot hold (the Workers list, docs/runtimes.md).
  const it = checkOn(runtime);
  const suite = serverForSuite(
    runtime,
    {
      EBBFLOW_FUNCTIONS: 'test/fixtures/conformance',
      EBBFLOW_MIN_WORKERS: '1',
      EBBFLOW_MAX_WORKERS: '4',
    },
    // The last test drains the server; after a failure, whatever is left is killed.
    { stopMs: 0 },
  );
  const post = (path: string, body: unknown) =>
    fetch(`${suite.server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const get = (path: string) => fetch(`${suite.server.url}${path}`);

  it('Should accept a task and answer a long-poll with its result', async () => {
    const res = await post('/functions/echo/tasks', { args: ['over', 'http'] });
    expect(res.status).toBe(202);
    const record = await json(res);
    expect(record).toMatchObject({ function: 'echo', status: 'queued' });
    expect(res.headers.get('Location')).toBe(`/tasks/${record.id}`);
    const done = await get(`/tasks/${record.id}?wait=20000`);
    expect(done.status).toBe(200);
    expect(await json(done)).toMatchObject({ status: 'completed', result: ['over', 'http'] });
  });

  it('Should invoke and answer with the completed record', async () => {
    const res = await post('/functions/echo/invoke', { args: [42, { a: 'b' }] });
    expect(res.status).toBe(200);
    const record = await json(res);
    expect(record).toMatchObject({ status: 'completed', result: [42, { a: 'b' }] });
    expect(record.workerId).toEqual(expect.any(Number));
    expect(record.executionTime).toEqual(expect.any(Number));
  });

  it('Should answer stats with totals and each function', async () => {
    const res = await get('/stats');
    expect(res.status).toBe(200);
    const stats = await json(res);
    expect(stats).toMatchObject({ minWorkers: 1, maxWorkers: 4 });
    expect(stats.activeWorkers).toBeLessThanOrEqual(4);
    expect(Object.keys(stats.functions).sort()).toEqual(['boom', 'echo', 'nap', 'quits']);
    expect(stats.functions.echo.tasksCompleted).toBeGreaterThanOrEqual(2);
    expect(stats.performanceMetrics).toMatchObject({
      tasksCompleted: expect.any(Number),
      cpuUsage: expect.any(Number),
      memoryUsage: expect.any(Number),
      eventLoopLagMs: expect.any(Number),
    });
  });

  it('Should fail a task whose function throws, with its message', async () => {
    const res = await post('/functions/boom/invoke', {});
    expect(res.status).toBe(500);
    expect(await json(res)).toMatchObject({ status: 'failed', error: 'boom' });
  });

  it('Should time a task out and keep serving', async () => {
    const res = await post('/functions/nap/invoke', { args: [20_000], timeoutMs: 300 });
    expect(res.status).toBe(504);
    expect(await json(res)).toMatchObject({ status: 'failed', error: 'timed out after 300 ms' });
    const next = await post('/functions/nap/invoke', { args: [1] });
    expect(await json(next)).toMatchObject({ status: 'completed', result: 1 });
  });

  it('Should fail a task whose worker exits, naming the code, and replace the worker', async () => {
    const res = await post('/functions/quits/invoke', { args: [3] });
    expect(res.status).toBe(500);
    expect((await json(res)).error).toMatch(/exited with code 3/);
    const again = await post('/functions/quits/invoke', { args: [4] });
    expect((await json(again)).error).toMatch(/exited with code 4/);
  });

  it('Should cancel a running task, then refuse to cancel it again', async () => {
    const { id } = await json(await post('/functions/nap/tasks', { args: [20_000] }));
    await until(async () => (await json(await get(`/tasks/${id}`))).status === 'running');
    const res = await fetch(`${suite.server.url}/tasks/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ id, status: 'cancelled' });
    const again = await fetch(`${suite.server.url}/tasks/${id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
  });

  it('Should refuse bad input with the error shape and stay up', async () => {
    const notJson = await post('/functions/echo/tasks', '{"args": [1,');
    expect(notJson.status).toBe(400);
    expect((await json(notJson)).error.code).toEqual(expect.any(String));
    const badArgs = await post('/functions/echo/tasks', { args: 'not a list' });
    expect(badArgs.status).toBe(400);
    const badWait = await get('/tasks/whatever?wait=soon');
    expect(badWait.status).toBe(400);
    const unknown = await post('/functions/nobody/tasks', {});
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error.code).toBe('unknown_function');
    expect((await get('/health')).status).toBe(200);
  });

  it('Should drain on SIGTERM: finish running work, answer 503 for new work, exit 0', async () => {
    const { id } = await json(await post('/functions/nap/tasks', { args: [1_500] }));
    await until(async () => (await json(await get(`/tasks/${id}`))).status === 'running');
    suite.server.child.kill('SIGTERM');
    await until(async () => (await get('/health')).status === 503);
    expect((await post('/functions/echo/tasks', {})).status).toBe(503);
    // Results and long-polls keep answering while the drain lasts.
    const done = await get(`/tasks/${id}?wait=20000`);
    expect(await json(done)).toMatchObject({ status: 'completed', result: 1_500 });
    expect(await suite.server.exited).toBe(0);
  });
});
