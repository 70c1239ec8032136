/**
 * The server's own routes over a fake runtime: liveness, the runtime's stats (with the cluster's
 * totals when several servers share a backend) and the Prometheus exposition, whose request
 * counters are labelled by route pattern.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterStats } from '../../runtime/index.ts';
import { expectError, fakeApp } from '../../test/support/fake-app.ts';

const functions = {
  echo: { run: (...args: unknown[]) => args },
  broken: { loadError: 'broken on purpose' },
};

describe('GET /health', () => {
  it('Should answer ok, then 503 draining once the runtime shuts down', async () => {
    const { call, runtime } = fakeApp(functions);
    const ok = await call('/health');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ status: 'ok' });
    await runtime.close();
    const draining = await call('/health');
    expect(draining.status).toBe(503);
    expect(draining.body).toEqual({ status: 'draining' });
  });
});

describe('GET /ready', () => {
  it('Should answer 503 naming what still loads, 200 once all loaded, 503 while draining', async () => {
    const { call, runtime } = fakeApp({ ...functions, slow: { run: () => 1, loading: true } });
    const loading = await call('/ready');
    expect(loading.status).toBe(503);
    expect(loading.body).toEqual({ status: 'loading', loading: ['slow'] });
    runtime.finishLoading('slow');
    const ready = await call('/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready' });
    await runtime.close();
    const draining = await call('/ready');
    expect(draining.status).toBe(503);
    expect(draining.body).toEqual({ status: 'draining' });
  });
});

describe('GET /stats', () => {
  it("Should answer the runtime's stats as they are", async () => {
    const { call, post, runtime } = fakeApp(functions);
    await post('/functions/echo/invoke', {});
    const a = await call('/stats');
    expect(a.status).toBe(200);
    expect(a.body).toEqual(runtime.stats());
    expect(a.body.functions.echo.tasksCompleted).toBe(1);
    expect(a.body.cluster).toBeUndefined();
  });

  it("Should add the cluster's totals when several servers share a backend", async () => {
    const cluster: ClusterStats = {
      serverId: 'a',
      reachable: true,
      servers: [{ id: 'a', lastSeen: 1 }],
      queueSize: 3,
      activeTasks: 1,
      functions: { echo: { queued: 3, running: 1 } },
      at: 2,
    };
    const { call } = fakeApp(functions, { cluster: () => cluster });
    const a = await call('/stats');
    expect(a.body.cluster).toEqual(cluster);
    expect(a.body.functions.echo).toBeDefined();
  });
});

describe('GET /metrics', () => {
  it('Should expose Prometheus text read from the runtime at scrape time', async () => {
    const { call, runtime } = fakeApp(functions);
    const a = await call('/metrics');
    expect(a.status).toBe(200);
    expect(a.headers.get('Content-Type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const lines: string[] = a.body.trim().split('\n');
    expect(lines).toContain('ebbflow_function_up{function="echo"} 1');
    expect(lines).toContain('ebbflow_function_up{function="broken"} 0');
    expect(lines).toContain('ebbflow_draining 0');
    await runtime.close();
    expect((await call('/metrics')).body).toContain('\nebbflow_draining 1\n');
  });

  it('Should count requests by method, route pattern and status', async () => {
    const { call, post } = fakeApp(functions);
    await call('/tasks/some-id');
    await call('/tasks/other-id');
    await post('/functions/echo/invoke', {});
    await call('/nowhere');
    expectError(await call('/stats', { method: 'POST' }), 405, 'method_not_allowed');
    await call('/fn/echo/deep/path');
    const text: string = (await call('/metrics')).body;
    for (const series of [
      'ebbflow_http_requests_total{method="GET",route="/tasks/:id",status="404"} 2',
      'ebbflow_http_requests_total{method="POST",route="/functions/:name/invoke",status="200"} 1',
      'ebbflow_http_requests_total{method="GET",route="unmatched",status="404"} 1',
      'ebbflow_http_requests_total{method="POST",route="/stats",status="405"} 1',
      'ebbflow_http_requests_total{method="GET",route="/fn/:name/*",status="404"} 1',
    ]) {
      expect(text).toContain(`\n${series}\n`);
    }
  });

  it('Should add the cluster gauges when several servers share a backend', async () => {
    const cluster: ClusterStats = {
      serverId: 'a',
      reachable: true,
      servers: [
        { id: 'a', lastSeen: 1 },
        { id: 'b', lastSeen: 1 },
      ],
      queueSize: 3,
      activeTasks: 1,
      functions: { echo: { queued: 3, running: 1 } },
      at: 2,
    };
    const { call } = fakeApp(functions, { cluster: () => cluster });
    const text: string = (await call('/metrics')).body;
    expect(text).toContain('\nebbflow_cluster_servers 2\n');
    expect(text).toContain('\nebbflow_cluster_reachable 1\n');
    expect(text).toContain('\nebbflow_cluster_queued_tasks{function="echo"} 3\n');
  });
});

describe('GET /stats/history', () => {
  const stats = (queueSize: number) => ({
    activeWorkers: 1,
    queueSize,
    activeTasks: 1,
    minWorkers: 0,
    maxWorkers: 1,
    performanceMetrics: {
      tasksCompleted: 0,
      tasksFailed: 0,
      avgTaskTime: 0,
      cpuUsage: 0,
      memoryUsage: 0,
      eventLoopUtilization: 0,
      eventLoopLagMs: 0,
    },
    functions: {
      echo: {
        activeWorkers: 1,
        queueSize,
        activeTasks: 1,
        minWorkers: 0,
        maxWorkers: 1,
        tasksCompleted: 0,
        tasksFailed: 0,
        tasksCancelled: 0,
        avgTaskTime: 0,
        coldStarts: 0,
        loadRatio: 0,
      },
    },
    scalingEvents: [],
  });

  it('Should keep each stats tick as a sample, oldest first, when the app keeps history', async () => {
    const { call, runtime } = fakeApp(functions, { statsHistorySeconds: 60 });
    runtime.emit({ type: 'stats', data: stats(3) });
    runtime.emit({ type: 'stats', data: stats(5) });
    const a = await call('/stats/history');
    expect(a.status).toBe(200);
    expect(a.body.intervalMs).toBe(1000);
    expect(
      a.body.samples.map((s: { functions: { echo: { queueSize: number } } }) => s.functions.echo),
    ).toEqual([
      { activeWorkers: 1, queueSize: 3, activeTasks: 1 },
      { activeWorkers: 1, queueSize: 5, activeTasks: 1 },
    ]);
    expect(a.body.samples[0].at).toBeLessThanOrEqual(a.body.samples[1].at);
  });

  it('Should answer no samples, and listen to nothing, when the app keeps none', async () => {
    const { call, runtime } = fakeApp(functions);
    expect(runtime.listening).toBe(0);
    runtime.emit({ type: 'stats', data: stats(3) });
    expect((await call('/stats/history')).body).toEqual({ intervalMs: 1000, samples: [] });
  });
});
