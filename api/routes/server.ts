/**
 * The server's own routes: liveness (`/health`, no token), the runtime's stats with the
 * cluster's totals when several servers share a backend, and the Prometheus exposition.
 * @module
 */
import * as v from 'valibot';
import { HISTORY, METRICS_TEXT, STATS } from '../examples.ts';
import { HistorySchema, json, PoolStatsSchema } from '../responses.ts';
import { type Route, route } from '../route.ts';

export const serverRoutes: readonly Route[] = [
  route({
    method: 'get',
    path: '/health',
    summary: 'Liveness',
    tag: 'server',
    public: true,
    responses: {
      '200': json('Serving.', v.object({ status: v.literal('ok') }), { status: 'ok' }),
      '503': json('Draining.', v.object({ status: v.literal('draining') }), {
        status: 'draining',
      }),
    },
    handle: (c, { runtime }) =>
      runtime.draining ? c.json({ status: 'draining' }, 503) : c.json({ status: 'ok' }),
  }),
  route({
    method: 'get',
    path: '/ready',
    summary: 'Readiness',
    description:
      'Whether every function found at start has loaded (or failed to): a load balancer sends traffic once this answers 200. Calls made before then wait for their function to load.',
    tag: 'server',
    public: true,
    responses: {
      '200': json(
        'Every function found at start has loaded.',
        v.object({ status: v.literal('ready') }),
        { status: 'ready' },
      ),
      '503': json(
        'Functions still loading (named), or draining.',
        v.union([
          v.object({ status: v.literal('loading'), loading: v.array(v.string()) }),
          v.object({ status: v.literal('draining') }),
        ]),
        { status: 'loading', loading: ['fib', 'sha256'] },
      ),
    },
    handle: (c, { runtime }) => {
      const readiness = runtime.readiness();
      return c.json(readiness, readiness.status === 'ready' ? 200 : 503);
    },
  }),
  route({
    method: 'get',
    path: '/stats',
    summary: 'Pool statistics',
    tag: 'server',
    responses: { '200': json('Totals and per-function stats.', PoolStatsSchema, STATS) },
    handle: (c, { runtime, cluster }) =>
      c.json(cluster ? { ...runtime.stats(), cluster: cluster() } : runtime.stats()),
  }),
  route({
    method: 'get',
    path: '/stats/history',
    summary: "The last minutes of each function's workers, queue and running tasks",
    description:
      'One sample a second, oldest first, for charts to start with the recent past (the dashboard does). Kept by a server (3 minutes); empty where no history is kept (Cloudflare Workers).',
    tag: 'server',
    responses: { '200': json('The samples, oldest first.', HistorySchema, HISTORY) },
    handle: (c, { history }) => c.json({ intervalMs: 1000, samples: history?.samples() ?? [] }),
  }),
  route({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    tag: 'server',
    responses: {
      '200': { description: 'Text exposition format.', media: 'text/plain', example: METRICS_TEXT },
    },
    handle: (c, { runtime, metrics, cluster, streams }) =>
      c.body(metrics.render(runtime, cluster?.(), streams), 200, {
        'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
      }),
  }),
];
