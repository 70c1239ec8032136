/**
 * Drain on SIGTERM against a real server: queued and running tasks finish, new work gets 503,
 * the process exits 0. A second SIGTERM, or the drain timeout, ends the drain: leftover tasks
 * fail with a clear error, long-polls opened before are answered with that failure, and the
 * process still exits 0 instead of hanging.
 */
import { expect, it } from 'vitest';
import { reliabilityEnv } from './support/functions.ts';
import {
  type Client,
  describeEachRuntime,
  type Json,
  type Server,
  type ServerRuntime,
  withServer,
} from './support/server.ts';
import { until } from './support/wait.ts';

/**
 * A server for one test, stopped after it whatever happens. In memory: a drain that ends early
 * fails what is still queued there. (The SQLite store keeps queued tasks for the next start
 * instead: test/storage.test.ts.)
 */
const drainTest = (
  runtime: ServerRuntime,
  env: Record<string, string>,
  test: (server: Server, api: Client) => Promise<void>,
) =>
  withServer(runtime, reliabilityEnv(10, { EBBFLOW_STORE: 'memory', ...env }), test, {
    stopMs: 5_000,
  });

/** Submit `count` naps of `ms`; `nap` runs two at a time, so the rest waits in its queue. */
const naps = async (api: Client, count: number, ms: number) => {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await api.post('/functions/nap/tasks', { args: [ms] });
    expect(res.status).toBe(202);
    ids.push(res.body.id);
  }
  // Two running, the rest queued, before the signal.
  await until(async () => {
    const info = (await api.get('/functions/nap')).body;
    return info.activeTasks === 2 && info.queueSize === count - 2;
  });
  return ids;
};

/** A long-poll held open on each id (each answers when its task ends, within 30 s). */
const longPolls = (api: Client, ids: string[]): Promise<Json[]> =>
  Promise.all(ids.map(async (id) => (await api.get(`/tasks/${id}?wait=30000`)).body));

describeEachRuntime('drain', (runtime) => {
  it('Should finish every queued and running task on SIGTERM, refuse new work with 503, and exit 0', async () => {
    await drainTest(runtime, {}, async (server, api) => {
      const ids = await naps(api, 6, 700);
      const polls = longPolls(api, ids);
      server.child.kill('SIGTERM');
      await until(() => server.output().includes('draining'));
      expect(await api.get('/health')).toMatchObject({
        status: 503,
        body: { status: 'draining' },
      });
      for (const fn of ['nap', 'echo']) {
        const refused = await api.post(`/functions/${fn}/tasks`, { args: [1] });
        expect(refused.status).toBe(503);
        expect(refused.body.error.code).toBe('draining');
        expect((await api.post(`/functions/${fn}/invoke`, { args: [1] })).status).toBe(503);
      }
      // Results and a long-poll opened during the drain still answer.
      expect((await api.get(`/tasks/${ids[0]}`)).status).toBe(200);
      const late = api.get(`/tasks/${ids[ids.length - 1]}?wait=30000`);
      const records = await polls;
      expect(records.map((r) => [r.status, r.result])).toEqual(ids.map(() => ['completed', 700]));
      expect((await late).body.status).toBe('completed');
      expect(await server.exited).toBe(0);
    });
  }, 90_000);

  it('Should end the drain on a second SIGTERM: leftover tasks fail clearly, waiting clients get the failure, exit 0', async () => {
    await drainTest(runtime, { EBBFLOW_DRAIN_TIMEOUT_MS: '60000' }, async (server, api) => {
      const ids = await naps(api, 5, 60_000);
      const polls = longPolls(api, ids);
      server.child.kill('SIGTERM');
      await until(() => server.output().includes('draining'));
      // The long-polls are open while draining; the second signal must answer them.
      await until(async () => (await api.get('/functions/nap')).body.activeTasks === 2);
      server.child.kill('SIGTERM');
      const records = await polls;
      for (const r of records) {
        expect(r.status).toBe('failed');
        expect(r.errorCode).toBe('shutdown');
        expect(r.error).toMatch(/shut down before the task finished \(the drain was ended early\)/);
      }
      expect(await server.exited).toBe(0);
      expect(server.output()).toMatch(/again: ending the drain now/);
    });
  }, 90_000);

  it('Should end the drain at its timeout: leftover tasks fail clearly, waiting clients get the failure, exit 0', async () => {
    await drainTest(runtime, { EBBFLOW_DRAIN_TIMEOUT_MS: '1500' }, async (server, api) => {
      const quick = (await api.post('/functions/echo/tasks', { args: ['before'] })).body.id;
      const ids = await naps(api, 4, 60_000);
      const polls = longPolls(api, [quick, ...ids]);
      server.child.kill('SIGTERM');
      const [first, ...records] = await polls;
      expect(first).toMatchObject({ status: 'completed', result: ['before'] });
      for (const r of records) {
        expect(r.status).toBe('failed');
        expect(r.errorCode).toBe('shutdown');
        expect(r.error).toMatch(/shut down before the task finished \(drain timeout of 1500 ms\)/);
      }
      expect(await server.exited).toBe(0);
    });
  }, 90_000);
});
