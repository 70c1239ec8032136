/**
 * The Cloudflare Workers entry (`wrangler.toml`'s `main`): the same Hono app as every host, over
 * the edge runtime (task shards and the function registry as Durable Objects, each function in
 * its own isolate through the Worker Loader). Settings come from the Worker's variables.
 * @module
 */
import type { Hono } from 'hono';
import { createApp } from '../api/app.ts';
import { EventFanout } from '../api/event-stream.ts';
import { Metrics } from '../api/metrics.ts';
import { messageOf } from '../runtime/errors.ts';
import { parseSettings } from '../server/settings.ts';
import { edgeAssets } from './assets.ts';
import { drainUnread } from './drain.ts';
import type { EdgeEnv } from './env.ts';
import { EdgeRuntime } from './runtime.ts';

export { NetGate } from './net-gate.ts';
export { FunctionRegistry } from './registry-object.ts';
export { TaskShard } from './task-object.ts';

/** How often held requests write to learn whether their client is still there. */
const CLIENT_PROBE_MS = 1_000;

interface Served {
  runtime: EdgeRuntime;
  metrics: Metrics;
  app: Hono;
  /** The largest body a route reads: a body left unread up to it is drained (`drain.ts`). */
  maxBodyBytes: number;
}

// One per isolate: the app and a snapshot of the functions; the state itself is in the objects.
let served: Served | undefined;

const start = (env: EdgeEnv, ctx: { exports?: unknown }): Served => {
  const parsed = parseSettings([], env as Record<string, string | undefined>);
  const settings = parsed.help ? undefined : parsed.settings;
  const runtime = new EdgeRuntime(env, ctx);
  const metrics = new Metrics();
  const app = createApp({
    runtime,
    metrics,
    maxBodyBytes: settings?.maxBodyBytes,
    // Per isolate: each bounds the streams and long-polls it holds.
    maxStreams: settings?.maxStreams,
    // workerd tells a request that its client went only when a write to it fails: streams and
    // long-polls write this often, so a gone client's slot comes back within it.
    clientProbeMs: CLIENT_PROBE_MS,
    token: settings?.token,
    // Deploys by name (PUT/DELETE /functions/:name): off unless EBBFLOW_ADMIN_TOKEN is set.
    adminToken: settings?.adminToken,
    maxFunctionBytes: settings?.maxFunctionBytes,
    corsOrigin: settings?.corsOrigin,
    // The pages' files are the Worker's static assets (wrangler.toml `[assets]`).
    assets: edgeAssets(env.ASSETS),
    // A subscription's streams belong to the request that opened it: one per reader.
    events: new EventFanout(runtime, { perReader: true }),
    // Deploys and deletes are routine: wrangler shows console.error as "✘ [ERROR]".
    audit: (line) => console.info(line),
  });
  const maxBodyBytes = Math.max(
    settings?.maxBodyBytes ?? 1_048_576,
    settings?.maxFunctionBytes ?? 1_048_576,
  );
  return { runtime, metrics, app, maxBodyBytes };
};

/** Routes whose answers carry queue and task counts: every shard is asked before them. */
const COUNTED = /^\/(stats|metrics|functions(\/[^/]+)?)$/;

export default {
  async fetch(request: Request, env: EdgeEnv, ctx: { exports?: unknown }): Promise<Response> {
    try {
      served ??= start(env, ctx);
    } catch (error) {
      // A variable set wrong in wrangler.toml or the dashboard: say which, on every request.
      const message = messageOf(error);
      return Response.json({ error: { code: 'invalid_setting', message } }, { status: 500 });
    }
    const { pathname } = new URL(request.url);
    const counts = request.method === 'GET' && COUNTED.test(pathname);
    await served.runtime.refresh({ counts });
    if (pathname === '/metrics') served.metrics.absorb(served.runtime.outcomes());
    const response = await served.app.fetch(request);
    await drainUnread(request, served.maxBodyBytes);
    return response;
  },
};
