/**
 * The HTTP API of ebbflow as one Hono app, written once for every host: Node, Deno and Bun
 * serve `app.fetch`, a Workers build hands it requests. It only talks to a `Runtime`.
 * @module
 */
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { matchedRoutes } from 'hono/route';
import {
  type ClusterStats,
  isEbbflowError,
  messageOf,
  type Runtime,
  type TaskRecord,
} from '../runtime/index.ts';
import type { AssetReader } from './assets.ts';
import { bearerAuth } from './auth.ts';
import { ApiError, errorBody, errorResponse } from './errors.ts';
import type { Metrics } from './metrics.ts';
import { registerDocsRoutes } from './routes/docs.ts';
import { registerEventRoutes } from './routes/events.ts';
import { functionRoutes } from './routes/functions.ts';
import { registerHandlerRoutes } from './routes/handlers.ts';
import { refuseOtherMethods } from './routes/other-methods.ts';
import { registerPageRoutes } from './routes/pages.ts';
import { taskRoutes } from './routes/tasks.ts';
import { functionName, parse, TaskBody, taskId, WaitQuery } from './schemas.ts';

export interface AppOptions {
  runtime: Runtime;
  /** Given to the runtime as `onTaskEnd` too, so task counters see every task. */
  metrics: Metrics;
  /** Request bodies above this get 413. @default 1048576 */
  maxBodyBytes?: number;
  /** When set, every route but `/health` needs `Authorization: Bearer <token>`. */
  token?: string;
  /** `*`, one origin, or a comma-separated list of origins. @default '*' */
  corsOrigin?: string;
  /** Deploys and deletes need it (and it works wherever `token` does); unset turns them off. */
  adminToken?: string;
  /** Deployed sources above this get 413. @default 1048576 */
  maxFunctionBytes?: number;
  /** Where unexpected errors are reported. @default console.error */
  log?: (message: string) => void;
  /** Several servers: totals over the cluster, shown in `/stats` as `cluster` and in `/metrics`. */
  cluster?: () => ClusterStats;
  /** Reads the files of the pages (dashboard, API reference); without it they answer 404. */
  assets?: AssetReader;
}

/** Each route and the methods it answers; any other method gets 405. */
const ROUTES = {
  '/health': 'GET',
  '/functions': 'GET',
  '/functions/:name': 'GET, PUT, DELETE',
  '/functions/:name/tasks': 'POST',
  '/functions/:name/invoke': 'POST',
  '/tasks/:id': 'GET, DELETE',
  '/events': 'GET',
  '/stats': 'GET',
  '/metrics': 'GET',
} as const;

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
  const app = new Hono();

  const origins = corsOrigins(corsOrigin);
  const preflight = cors({
    origin: origins,
    allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    allowHeaders: ['Content-Type', 'Authorization'],
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
  });
  if (token !== undefined) app.use(bearerAuth(token, ...(adminToken ? [adminToken] : [])));
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

  registerHandlerRoutes(app, { runtime, token });
  registerEventRoutes(app, runtime);
  registerPageRoutes(app, options.assets);
  registerDocsRoutes(app);

  app.get('/health', (c) =>
    runtime.draining ? c.json({ status: 'draining' }, 503) : c.json({ status: 'ok' }),
  );

  app.get('/functions', (c) => c.json({ functions: runtime.functions() }));

  app.get('/functions/:name', (c) => {
    const name = functionName(c.req.param('name'));
    const info = runtime.getFunction(name);
    if (!info) throw new ApiError(404, 'unknown_function', `no function named "${name}"`);
    return c.json(info);
  });

  app.post('/functions/:name/tasks', async (c) => {
    const name = knownFunction(runtime, c.req.param('name'));
    const body = parse(TaskBody, await readJson(c), 'invalid_body');
    const record = await submit(runtime, name, async () =>
      runtime.submit(name, body.args, {
        id: body.id,
        timeoutMs: body.timeoutMs,
        retry: body.retry,
      }),
    );
    // Ids are made of URL-safe characters only (the id rule), so they go in as they are.
    return c.json(record, 202, { Location: `/tasks/${record.id}` });
  });

  app.post('/functions/:name/invoke', async (c) => {
    const name = knownFunction(runtime, c.req.param('name'));
    const body = parse(TaskBody, await readJson(c), 'invalid_body');
    const record = await submit(runtime, name, () =>
      runtime.call(name, body.args, { id: body.id, timeoutMs: body.timeoutMs, retry: body.retry }),
    );
    return c.json(record, invokeStatus(record));
  });

  app.get('/tasks/:id', async (c) => {
    const id = taskId(c.req.param('id'));
    const wait = c.req.query('wait');
    const record =
      wait === undefined
        ? await runtime.result(id)
        : await runtime.wait(id, parse(WaitQuery, wait, 'invalid_query', 'wait'));
    if (!record) throw unknownTask(id);
    return c.json(record);
  });

  app.delete('/tasks/:id', async (c) => c.json(await runtime.cancel(taskId(c.req.param('id')))));

  functionRoutes(app, {
    runtime,
    adminToken,
    token,
    maxFunctionBytes: options.maxFunctionBytes,
    log,
  });

  app.get('/stats', (c) =>
    c.json(options.cluster ? { ...runtime.stats(), cluster: options.cluster() } : runtime.stats()),
  );

  app.get('/metrics', (c) =>
    c.body(metrics.render(runtime, options.cluster?.()), 200, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
    }),
  );

  taskRoutes(app, runtime);

  refuseOtherMethods(app, ROUTES);
  app.notFound((c) =>
    c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path} (see docs/api.md)`), 404),
  );
  app.onError((error, c) => errorResponse(c, error, log));
  return app;
};

/** `PUT /functions/:name`: a deploy, whose body is a module's source. */
const DEPLOY_PATH = /^\/functions\/[^/]+$/;

const EXPOSE_HEADERS = ['Location', 'Retry-After', 'WWW-Authenticate'] as const;

const allowedOrigin = (origins: string[], origin: string | undefined): string | undefined =>
  origin !== undefined && origins.includes(origin) ? origin : undefined;

const corsOrigins = (setting: string): string | string[] => {
  const list = setting
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  return list.length === 1 && list[0] === '*' ? '*' : list;
};

const knownFunction = (runtime: Runtime, raw: string): string => {
  const name = functionName(raw);
  if (runtime.draining)
    throw new ApiError(503, 'draining', 'the server is shutting down and takes no new tasks');
  if (!runtime.getFunction(name)) {
    throw new ApiError(404, 'unknown_function', `no function named "${name}"`);
  }
  return name;
};

const unknownTask = (id: string) =>
  new ApiError(404, 'unknown_task', `no task with id "${id}" (unknown or expired)`);

/** An empty body means `{}`; anything else must be JSON. */
const readJson = async (c: Context): Promise<unknown> => {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    const why = messageOf(error);
    throw new ApiError(400, 'invalid_json', `the body is not valid JSON: ${why}`);
  }
};

/** Runs a submission; a full queue becomes 429 with a Retry-After from the queue's pace. */
const submit = async <T>(runtime: Runtime, name: string, run: () => Promise<T>): Promise<T> => {
  try {
    return await run();
  } catch (error) {
    if (isEbbflowError(error) && error.code === 'queue_full') {
      throw new ApiError(429, 'queue_full', error.message, {
        headers: { 'Retry-After': String(retryAfter(runtime, name)) },
      });
    }
    throw error;
  }
};

/** Seconds until the queue has likely moved: its work spread over the workers, 1 to 60. */
const retryAfter = (runtime: Runtime, name: string): number => {
  const info = runtime.getFunction(name);
  const avg = runtime.stats().functions[name]?.avgTaskTime ?? 0;
  if (!info || avg <= 0) return 1;
  const lanes = Math.max(1, info.activeWorkers * info.concurrency);
  return Math.min(60, Math.max(1, Math.ceil((info.queueSize * avg) / lanes / 1000)));
};

const invokeStatus = (record: TaskRecord): 200 | 409 | 500 | 504 => {
  if (record.status === 'completed') return 200;
  if (record.status === 'cancelled') return 409;
  return record.errorCode === 'timed_out' ? 504 : 500;
};
