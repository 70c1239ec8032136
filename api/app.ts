/**
 * The HTTP API of ebbflow as one Hono app, written once for every host: Node, Deno and Bun
 * serve `app.fetch`, a Workers build hands it requests. It only talks to a `Runtime`.
 * @module
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { matchedRoutes } from 'hono/route';
import type { ClusterStats, Runtime } from '../runtime/index.ts';
import type { AssetReader } from './assets.ts';
import { bearerAuth } from './auth.ts';
import { ApiError, errorBody, errorResponse } from './errors.ts';
import { EventFanout } from './event-stream.ts';
import type { Metrics } from './metrics.ts';
import { mountRoutes } from './mount.ts';
import { API_ROUTES, ROUTES } from './routes/index.ts';
import { refuseOtherMethods } from './routes/other-methods.ts';
import { StatsHistory } from './stats-history.ts';
import { StreamSlots } from './stream-slots.ts';

export interface AppOptions {
  runtime: Runtime;
  /** Given to the runtime as `onTaskEnd` too, so task counters see every task. */
  metrics: Metrics;
  /** Request bodies above this get 413. @default 1048576 */
  maxBodyBytes?: number;
  /** When set, every route but the public ones (`/health`, the pages) needs `Authorization: Bearer <token>`. */
  token?: string;
  /** `*`, one origin, or a comma-separated list of origins. @default '*' */
  corsOrigin?: string;
  /** Deploys and deletes need it (and it works wherever `token` does); unset turns them off. */
  adminToken?: string;
  /** Deployed sources above this get 413. @default 1048576 */
  maxFunctionBytes?: number;
  /** Where unexpected errors are reported. @default console.error */
  log?: (message: string) => void;
  /** Where routine audit lines go (each deploy and delete). @default `log` */
  audit?: (message: string) => void;
  /** Several servers: totals over the cluster, shown in `/stats` as `cluster` and in `/metrics`. */
  cluster?: () => ClusterStats;
  /** Reads the files of the pages (dashboard, API reference); without it they answer 404. */
  assets?: AssetReader;
  /** The fan-out of live events to `/events` readers. @default one over `runtime` */
  events?: EventFanout;
  /**
   * Event streams and long-polls open together before a new one gets 503 `too_many_streams`.
   * @default 1000
   */
  maxStreams?: number;
  /**
   * Seconds of per-function samples kept for `GET /stats/history` (the dashboard's charts start
   * from them). It listens to the runtime's stats for as long as the app lives. @default 0 (off)
   */
  statsHistorySeconds?: number;
  /**
   * For a host that learns a client has gone only when a write to it fails (local workerd): how
   * often open streams and long-polls write to find out (`StreamSlots.probeMs`). @default unset
   */
  clientProbeMs?: number;
}

/** Paths that need no token: the routes marked `public` (each a fixed path). */
const PUBLIC_PATHS: ReadonlySet<string> = new Set(
  ROUTES.filter((route) => route.public).map((route) => route.path),
);

/**
 * @example
 * const metrics = new Metrics();
 * const runtime = await createRuntime({ source, host, onTaskEnd: metrics.observe });
 * const app = createApp({ runtime, metrics });
 */
export const createApp = (options: AppOptions): Hono => {
  const {
    runtime,
    metrics,
    maxBodyBytes = 1_048_576,
    token,
    adminToken,
    corsOrigin = '*',
  } = options;
  const log = options.log ?? ((m: string) => console.error(m));
  const streams = new StreamSlots(options.maxStreams ?? 1000, options.clientProbeMs);
  const app = new Hono();

  const origins = corsOrigins(corsOrigin);
  const preflight = cors({
    origin: origins,
    allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    allowHeaders: ['Content-Type', 'Authorization', 'Idempotency-Key'],
    exposeHeaders: [...EXPOSE_HEADERS],
    maxAge: 600,
  });
  app.use(async (c, next) => {
    if (c.req.method === 'OPTIONS') return preflight(c, next);
    // Set before the handler, so they go into the response as it is made. Hono's cors sets them
    // on a response of its own, which makes Hono copy the handler's response into a streamed one
    // on every request: 3 times the server's CPU per request on @hono/node-server (bench/).
    const origin =
      typeof origins === 'string' ? origins : allowedOrigin(origins, c.req.header('Origin'));
    if (origin) c.header('Access-Control-Allow-Origin', origin);
    c.header('Access-Control-Expose-Headers', EXPOSE_HEADERS.join(','));
    if (typeof origins !== 'string') c.header('Vary', 'Origin');
    await next();
  });
  app.use(async (c, next) => {
    await next();
    const route = matchedRoutes(c).find((r) => r.path !== '/*' && r.path !== '*')?.path;
    metrics.request(c.req.method, route ?? 'unmatched', c.res.status);
    // Hono serves HEAD with the GET handler and drops its body unread: cancel it here, so a
    // streamed answer (the stream routes answer HEAD themselves) never stays open for nobody.
    if (c.req.method === 'HEAD') await c.res.body?.cancel().catch(() => {});
  });
  if (token !== undefined) {
    app.use(bearerAuth(PUBLIC_PATHS, [token, ...(adminToken ? [adminToken] : [])]));
  }
  const tooLarge = () => {
    throw new ApiError(413, 'payload_too_large', `the body is larger than ${maxBodyBytes} bytes`);
  };
  // Reads a body without Content-Length (chunked) only up to the limit, so a large one is
  // refused before it is held in memory.
  const limitStream = bodyLimit({ maxSize: maxBodyBytes, onError: tooLarge });
  app.use(async (c, next) => {
    // With a Content-Length the header decides, and GET/HEAD carry no body. Only the rest (a
    // chunked body, or a Request built without the header) goes through bodyLimit: it opens the
    // body stream, which makes @hono/node-server build a full Request (~30 µs a request, bench/).
    // A deploy has its own limit, EBBFLOW_MAX_FUNCTION_BYTES (routes/functions.ts).
    if (c.req.method === 'PUT' && DEPLOY_PATH.test(c.req.path)) return next();
    const length = c.req.header('Content-Length');
    if (length !== undefined && c.req.header('Transfer-Encoding') === undefined) {
      return Number.parseInt(length, 10) > maxBodyBytes ? tooLarge() : next();
    }
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    return limitStream(c, next);
  });

  mountRoutes(app, ROUTES, {
    runtime,
    metrics,
    log,
    audit: options.audit ?? log,
    token,
    adminToken,
    maxFunctionBytes: options.maxFunctionBytes ?? 1_048_576,
    cluster: options.cluster,
    assets: options.assets,
    events: options.events ?? new EventFanout(runtime),
    streams,
    routes: ROUTES,
    history: options.statsHistorySeconds
      ? new StatsHistory(runtime, options.statsHistorySeconds)
      : undefined,
  });
  refuseOtherMethods(app, API_ROUTES);
  app.notFound((c) =>
    c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path} (see docs/api.md)`), 404),
  );
  app.onError((error, c) => errorResponse(c, error, log));
  return app;
};

/** `PUT /functions/:name`: a deploy, whose body is a module's source. */
const DEPLOY_PATH = /^\/functions\/[^/]+$/;

const EXPOSE_HEADERS = [
  'Location',
  'Retry-After',
  'WWW-Authenticate',
  'Ebbflow-Unchanged',
  'Idempotent-Replayed',
] as const;

const allowedOrigin = (origins: string[], origin: string | undefined): string | undefined =>
  origin !== undefined && origins.includes(origin) ? origin : undefined;

const corsOrigins = (setting: string): string | string[] => {
  const list = setting
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  return list.length === 1 && list[0] === '*' ? '*' : list;
};
