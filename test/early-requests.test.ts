/**
 * Requests that come while functions still load, on each host through the server: the server
 * says it takes requests before its functions have loaded; `/ready` names what still loads; a
 * task submitted or an invoke made then waits for the load and runs under the function's own
 * config (two attempts; a 1 s timeout), a handler call reaches its fetch export; a function that
 * fails to load fails its tasks with `load_failed` and its handler calls with 503
 * `function_unavailable`; and `/stats` and `/metrics` count every one of those failed tasks.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { client, describeEachRuntime, launch, ROOT } from './support/server.ts';
import { until } from './support/wait.ts';

const ACCEPTING = /ebbflow: accepting requests on (http:\/\/\S+:\d+) while/;

describeEachRuntime('requests while functions load', (runtime) => {
  it('Should run early calls under their own config, and say when all have loaded', async () => {
    const started = launch(runtime, {
      EBBFLOW_FUNCTIONS: join(ROOT, 'test/fixtures/early'),
      EBBFLOW_MIN_WORKERS: '1',
    });
    try {
      await until(() => ACCEPTING.test(started.output()), 90_000);
      const api = client(ACCEPTING.exec(started.output())?.[1] as string);
      // Each module holds its load for 2.5 s: these all come before any has loaded.
      const loading = await api.get('/ready');
      expect(loading.status).toBe(503);
      expect(loading.body.status).toBe('loading');
      expect(loading.body.loading).toContain('slow');
      const [submitted, invoked, fetched, failed, unavailable] = await Promise.all([
        api.post('/functions/slow/tasks', {}),
        api.post('/functions/sleepy/invoke', { args: [3_000] }),
        api.get('/fn/slow/hello?x=1'),
        api.post('/functions/broken-late/invoke', {}),
        api.get('/fn/broken-late/x'),
      ]);
      // Its config's retry: the first call throws, the second attempt completes.
      expect(submitted.status).toBe(202);
      expect(submitted.body.attempts).toBe(2);
      expect(await api.settle(submitted.body.id)).toMatchObject({
        status: 'completed',
        attempt: 2,
        result: { calls: 2 },
      });
      // Its config's timeout of 1 s, not the default of 30 s.
      expect(invoked.status).toBe(504);
      expect(invoked.body).toMatchObject({
        errorCode: 'timed_out',
        error: 'timed out after 1000 ms',
      });
      expect(fetched.status).toBe(200);
      expect(fetched.body).toEqual({ raw: 'fetched /hello' });
      expect(failed.status).toBe(500);
      expect(failed.body).toMatchObject({ status: 'failed', errorCode: 'load_failed' });
      expect(failed.body.error).toMatch(/broken on purpose/);
      expect(unavailable.status).toBe(503);
      expect(unavailable.body.error.code).toBe('function_unavailable');

      const ready = await api.get('/ready');
      expect([ready.status, ready.body]).toEqual([200, { status: 'ready' }]);
      // Two more tasks of the function that failed to load: every failure is counted.
      for (let i = 0; i < 2; i++) await api.post('/functions/broken-late/tasks', {});
      const stats = (await api.get('/stats')).body;
      expect(stats.functions['broken-late'].tasksFailed).toBe(3);
      const metrics: string = (await api.get('/metrics')).body.raw;
      expect(metrics).toContain('ebbflow_tasks_total{function="broken-late",outcome="failed"} 3');
    } finally {
      started.child.kill('SIGTERM');
      const timer = setTimeout(started.kill, 30_000);
      expect(await started.exited).toBe(0);
      clearTimeout(timer);
    }
  }, 180_000);
});
