/**
 * The server's own routes: liveness (`/health`, no token), the runtime's stats with the
 * cluster's totals when several servers share a backend, and the Prometheus exposition.
 * @module
 */
import * as v from 'valibot';
import { json, PoolStatsSchema } from '../responses.ts';
import { type Route, route } from '../route.ts';

export const serverRoutes: readonly Route[] = [
  route({
    method: 'get',
    path: '/health',
    summary: 'Liveness',
    tag: 'server',
    public: true,
    responses: {
      '200': json('Serving.', v.object({ status: v.literal('ok') })),
      '503': json('Draining.', v.object({ status: v.literal('draining') })),
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
      ),
      '503': json(
        'Functions still loading (named), or draining.',
        v.union([
          v.object({ status: v.literal('loading'), loading: v.array(v.string()) }),
          v.object({ status: v.literal('draining') }),
        ]),
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
    responses: { '200': json('Totals and per-function stats.', PoolStatsSchema) },
    handle: (c, { runtime, cluster }) =>
      c.json(cluster ? { ...runtime.stats(), cluster: cluster() } : runtime.stats()),
  }),
  route({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    tag: 'server',
    responses: { '200': { description: 'Text exposition format.', media: 'text/plain' } },
    handle: (c, { runtime, metrics, cluster, streams }) =>
      c.body(metrics.render(runtime, cluster?.(), streams), 200, {
        'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
      }),
  }),
];
