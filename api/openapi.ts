/**
 * The OpenAPI 3.1 document of the HTTP API. Request parts come from the valibot schemas that
 * validate requests (`schemas.ts`, the routes' own), response shapes from the schemas below;
 * both are turned into JSON Schema by `@valibot/to-json-schema`. Every route the app serves must
 * have an entry in `OPERATIONS` (test/browser-openapi.test.ts compares them); the document lists
 * the entries of the routes the app serves, read from the app itself.
 * @module
 */
import { toJsonSchema } from '@valibot/to-json-schema';
import * as v from 'valibot';
import type { FunctionInfo, PoolStats, TaskRecord } from '../runtime/index.ts';
import { EventsQuery } from './routes/events.ts';
import { ListQuery, TaskBody, WaitQuery } from './schemas.ts';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Schema = v.GenericSchema;

interface Reply {
  description: string;
  /** JSON body shape. */
  schema?: Schema;
  /** Another media type, as `[type, description]`. */
  media?: string;
}

export interface Operation {
  summary: string;
  description?: string;
  tags: string[];
  /** Path parameters in order, with their schemas. */
  params?: Record<string, Schema>;
  /** Query parameters: an object schema whose keys are the parameter names. */
  query?: { entries: v.ObjectEntries };
  body?: { schema?: Schema; media: string; description?: string };
  responses: Record<string, Reply>;
  /** Needs no token. */
  public?: boolean;
}

const LEVELS = ['log', 'info', 'warn', 'error', 'debug'] as const;
const num = v.number();
const opt = <S extends Schema>(schema: S) => v.optional(schema);

export const ErrorSchema = v.object({
  error: v.object({
    code: v.string(),
    message: v.string(),
    details: opt(v.array(v.object({ field: v.string(), message: v.string() }))),
  }),
});

export const LogLineSchema = v.object({
  at: num,
  level: v.picklist(LEVELS),
  message: v.string(),
});

export const TaskRecordSchema = v.object({
  id: v.string(),
  function: v.string(),
  status: v.picklist(['queued', 'running', 'completed', 'failed', 'cancelled']),
  submittedAt: num,
  startedAt: opt(num),
  completedAt: opt(num),
  failedAt: opt(num),
  cancelledAt: opt(num),
  result: opt(v.unknown()),
  error: opt(v.string()),
  errorCode: opt(v.string()),
  attempt: opt(num),
  attempts: opt(num),
  retryOf: opt(v.string()),
  version: opt(num),
  logs: opt(v.array(LogLineSchema)),
  timedOut: opt(v.boolean()),
  executionTime: opt(num),
  workerId: opt(num),
});

export const FunctionInfoSchema = v.object({
  name: v.string(),
  status: v.string(),
  error: opt(v.string()),
  minWorkers: num,
  maxWorkers: num,
  timeoutMs: num,
  maxQueue: num,
  concurrency: num,
  memoryLimitMb: num,
  activeWorkers: num,
  queueSize: num,
  activeTasks: num,
});

const ScalingEventSchema = v.object({
  at: num,
  function: v.string(),
  action: v.picklist(['up', 'down', 'hold']),
  from: num,
  to: num,
  reason: v.string(),
});

export const PoolStatsSchema = v.object({
  activeWorkers: num,
  queueSize: num,
  activeTasks: num,
  minWorkers: num,
  maxWorkers: num,
  performanceMetrics: v.object({
    tasksCompleted: num,
    tasksFailed: num,
    avgTaskTime: num,
    cpuUsage: num,
    memoryUsage: num,
    eventLoopUtilization: num,
    eventLoopLagMs: num,
  }),
  functions: v.record(
    v.string(),
    v.object({ activeWorkers: num, queueSize: num, activeTasks: num, tasksCompleted: num }),
  ),
  scalingEvents: v.array(ScalingEventSchema),
});

// The runtime's types must fit these shapes: a renamed field breaks the type check here.
const fits = <S extends Schema>(_schema: S, _value: v.InferOutput<S>) => {};
fits(TaskRecordSchema, {} as TaskRecord);
fits(FunctionInfoSchema, {} as FunctionInfo);
fits(PoolStatsSchema, {} as PoolStats);

const FunctionName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/));
const TaskIdParam = v.pipe(v.string(), v.regex(/^(?!\.+$)[A-Za-z0-9._:-]{1,128}$/));

const err = (description: string): Reply => ({ description, schema: ErrorSchema });
const E400 = err('The request is invalid (`invalid_body`, `invalid_json`, `invalid_query`, ...).');
const E404 = err('No such function or task.');
const json = (description: string, schema: Schema): Reply => ({ description, schema });

const taskBody = (what: string) => ({
  schema: TaskBody as Schema,
  media: 'application/json',
  description: `${what} An empty body means \`{}\`.`,
});

const HANDLER: Operation = {
  summary: "Call a function's fetch export",
  description:
    'Any method. The function gets a Request whose path is the part after `/fn/<name>`, with the query, headers (minus Authorization when a server token is set) and body; its Response comes back as it is, with CORS headers added.',
  tags: ['handlers'],
  params: { name: FunctionName },
  body: { media: '*/*', description: 'Passed on as it is (at most EBBFLOW_MAX_BODY_BYTES).' },
  responses: {
    default: { description: "The function's own response.", media: '*/*' },
    '404': err('No such function, or it has no fetch export (`no_fetch_handler`).'),
    '500': err('The handler threw (`handler_failed`).'),
    '504': err('The handler ran past its timeout (`handler_timed_out`).'),
  },
};

const page = (summary: string, media: string): Operation => ({
  summary,
  tags: ['pages'],
  public: true,
  responses: { '200': { description: summary, media } },
});

/** Every route, by Hono path and method. `/fn/...` routes answer every method. */
export const OPERATIONS: Record<string, Partial<Record<Method, Operation>>> = {
  '/health': {
    get: {
      summary: 'Liveness',
      tags: ['server'],
      public: true,
      responses: {
        '200': json('Serving.', v.object({ status: v.literal('ok') })),
        '503': json('Draining.', v.object({ status: v.literal('draining') })),
      },
    },
  },
  '/functions': {
    get: {
      summary: 'List the functions',
      tags: ['functions'],
      responses: {
        '200': json(
          'Every function, sorted by name.',
          v.object({ functions: v.array(FunctionInfoSchema) }),
        ),
      },
    },
  },
  '/functions/:name': {
    get: {
      summary: 'One function',
      tags: ['functions'],
      params: { name: FunctionName },
      responses: { '200': json('The function.', FunctionInfoSchema), '400': E400, '404': E404 },
    },
    put: {
      summary: 'Deploy a function by name',
      description:
        "The body is the module's source. Needs the admin token (EBBFLOW_ADMIN_TOKEN). A new version is loaded and checked before it takes over; a broken one is refused and the previous version keeps serving.",
      tags: ['functions'],
      params: { name: FunctionName },
      body: {
        media: 'application/typescript',
        description:
          'TypeScript (`application/typescript`, `text/typescript`) or JavaScript (`application/javascript`, `text/javascript`).',
      },
      responses: {
        '200': json('A new version replaced the old one.', FunctionInfoSchema),
        '201': json('A new function.', FunctionInfoSchema),
        '400': E400,
        '401': err('No or a wrong token.'),
        '403': err('Deploys are off (`deploy_disabled`), or not the admin token (`forbidden`).'),
        '413': err('The source is larger than EBBFLOW_MAX_FUNCTION_BYTES.'),
        '415': err('Another content type.'),
        '422': err("The module does not load or check (`invalid_function`, the loader's message)."),
      },
    },
    delete: {
      summary: 'Delete a deployed function',
      description:
        'Needs the admin token. New submissions get 404 at once; tasks already accepted finish.',
      tags: ['functions'],
      params: { name: FunctionName },
      responses: {
        '200': json('The function, status `deleted`.', FunctionInfoSchema),
        '401': err('No or a wrong token.'),
        '403': err('Deploys are off, or not the admin token.'),
        '404': E404,
      },
    },
  },
  '/functions/:name/tasks': {
    post: {
      summary: 'Submit a task',
      tags: ['tasks'],
      params: { name: FunctionName },
      body: taskBody('The arguments, an optional id and timeout.'),
      responses: {
        '202': json('Queued; `Location: /tasks/<id>`.', TaskRecordSchema),
        '400': E400,
        '404': E404,
        '409': err('The id is already used.'),
        '413': err('The body is too large.'),
        '429': err('The queue is full (see Retry-After).'),
        '503': err('The server is draining.'),
      },
    },
  },
  '/functions/:name/invoke': {
    post: {
      summary: 'Run a task and wait for it',
      tags: ['tasks'],
      params: { name: FunctionName },
      body: taskBody('The arguments and an optional timeout.'),
      responses: {
        '200': json('Completed.', TaskRecordSchema),
        '400': E400,
        '404': E404,
        '429': err('The queue is full.'),
        '500': json('Failed.', TaskRecordSchema),
        '504': json('Timed out.', TaskRecordSchema),
      },
    },
  },
  '/tasks/:id': {
    get: {
      summary: 'A task',
      description:
        'With `wait`, answers as soon as the task is terminal or the wait ends. With `Accept: text/event-stream`, streams `task` events: the record now and at each change, ending after the terminal one (whole record).',
      tags: ['tasks'],
      params: { id: TaskIdParam },
      query: v.object({ wait: v.optional(WaitQuery) }),
      responses: {
        '200': {
          ...json('The record (or an event stream).', TaskRecordSchema),
          media: 'text/event-stream',
        },
        '400': E400,
        '404': E404,
      },
    },
    delete: {
      summary: 'Cancel a task',
      tags: ['tasks'],
      params: { id: TaskIdParam },
      responses: {
        '200': json('Cancelled.', TaskRecordSchema),
        '404': E404,
        '409': err('Already ended.'),
      },
    },
  },
  '/tasks': {
    get: {
      summary: 'List tasks, newest first',
      description:
        'Failed tasks whose attempts are spent are the dead letters: `?status=failed`. Pass `next` as `before` for the next page.',
      tags: ['tasks'],
      query: ListQuery,
      responses: {
        '200': json(
          'A page of records.',
          v.object({ tasks: v.array(TaskRecordSchema), next: opt(v.string()) }),
        ),
        '400': E400,
      },
    },
  },
  '/tasks/:id/retry': {
    post: {
      summary: 'Run a failed or cancelled task again',
      description: 'A new task with the same function and args; its `retryOf` names the old one.',
      tags: ['tasks'],
      params: { id: TaskIdParam },
      responses: {
        '202': json('The new task, queued.', TaskRecordSchema),
        '404': E404,
        '409': err('The task is not failed or cancelled (`not_retryable`).'),
        '429': err('The queue is full.'),
        '503': err('The server is draining.'),
      },
    },
  },
  '/events': {
    get: {
      summary: 'Live events (Server-Sent Events)',
      description:
        '`task` (a record without result and logs, at every change), `scale` (a scaling decision), `stats` (PoolStats, once a second), `log` (`{taskId, function, at, level, message}`). A comment every 15 s. A slow reader loses its oldest events.',
      tags: ['events'],
      query: EventsQuery,
      responses: {
        '200': { description: 'An event stream.', media: 'text/event-stream' },
        '400': E400,
      },
    },
  },
  '/stats': {
    get: {
      summary: 'Pool statistics',
      tags: ['server'],
      responses: { '200': json('Totals and per-function stats.', PoolStatsSchema) },
    },
  },
  '/metrics': {
    get: {
      summary: 'Prometheus metrics',
      tags: ['server'],
      responses: { '200': { description: 'Text exposition format.', media: 'text/plain' } },
    },
  },
  '/fn/:name': { get: HANDLER, post: HANDLER, put: HANDLER, patch: HANDLER, delete: HANDLER },
  '/fn/:name/*': { get: HANDLER, post: HANDLER, put: HANDLER, patch: HANDLER, delete: HANDLER },
  '/openapi.json': {
    get: {
      summary: 'This document',
      tags: ['pages'],
      public: true,
      responses: { '200': { description: 'OpenAPI 3.1.', media: 'application/json' } },
    },
  },
  '/': { get: page('The dashboard', 'text/html') },
  '/dashboard/app.js': { get: page("The dashboard's script", 'text/javascript') },
  '/dashboard/app.css': { get: page("The dashboard's styles", 'text/css') },
  '/dashboard/uplot.js': { get: page('uPlot, the chart library', 'text/javascript') },
  '/dashboard/uplot.css': { get: page("uPlot's styles", 'text/css') },
  '/docs': { get: page('This reference, interactive', 'text/html') },
  '/docs/init.js': { get: page("The reference page's script", 'text/javascript') },
  '/docs/swagger-ui.js': { get: page('Swagger UI', 'text/javascript') },
  '/docs/swagger-ui.css': { get: page("Swagger UI's styles", 'text/css') },
};

/** `/fn/:name/*` → `/fn/{name}/{path}`. */
export const openApiPath = (path: string): string =>
  path.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\*$/, '{path}');

const jsonSchema = (schema: Schema): Record<string, unknown> => {
  const { $schema: _, ...rest } = toJsonSchema(schema, {
    target: 'draft-2020-12',
    errorMode: 'ignore',
  }) as Record<string, unknown>;
  return rest;
};

const operation = (path: string, method: Method, op: Operation): Record<string, unknown> => {
  const parameters: unknown[] = [];
  for (const [name, schema] of Object.entries(op.params ?? {})) {
    parameters.push({ name, in: 'path', required: true, schema: jsonSchema(schema) });
  }
  if (path.endsWith('*')) {
    parameters.push({
      name: 'path',
      in: 'path',
      required: true,
      description: 'The rest of the path, passed on to the function.',
      schema: { type: 'string' },
    });
  }
  for (const [name, schema] of Object.entries(op.query?.entries ?? {})) {
    const inner = (schema as v.OptionalSchema<Schema, undefined>).wrapped ?? schema;
    parameters.push({ name, in: 'query', required: false, schema: jsonSchema(inner) });
  }
  const responses: Record<string, unknown> = {};
  for (const [status, reply] of Object.entries(op.responses)) {
    const content: Record<string, unknown> = {};
    if (reply.schema) content['application/json'] = { schema: jsonSchema(reply.schema) };
    if (reply.media) content[reply.media] = {};
    responses[status] = Object.keys(content).length
      ? { description: reply.description, content }
      : { description: reply.description };
  }
  const out: Record<string, unknown> = {
    operationId: `${method}${openApiPath(path)
      .replace(/[{}]/g, '')
      .replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: op.summary,
    tags: op.tags,
    responses,
  };
  if (op.description) out.description = op.description;
  if (parameters.length > 0) out.parameters = parameters;
  if (op.body) {
    out.requestBody = {
      required: false,
      description: op.body.description,
      content: { [op.body.media]: op.body.schema ? { schema: jsonSchema(op.body.schema) } : {} },
    };
  }
  if (op.public) out.security = [];
  return out;
};

const METHODS: readonly Method[] = ['get', 'post', 'put', 'patch', 'delete'];

/**
 * `method /openapi/{path}` for every route `app` answers: its method routes, and every method of
 * a path that has only an `all` route (the /fn handlers). Middleware and the 405 fallbacks (an
 * `all` beside method routes) are left out.
 */
export const servedRoutes = (app: { routes: { method: string; path: string }[] }): Set<string> => {
  const specific = new Set<string>();
  const any = new Set<string>();
  for (const route of app.routes) {
    if (route.path === '/*' || route.path === '*') continue;
    if (route.method === 'ALL') any.add(route.path);
    else specific.add(`${route.method.toLowerCase()} ${openApiPath(route.path)}`);
  }
  const paths = new Set([...specific].map((r) => r.slice(r.indexOf(' ') + 1)));
  for (const path of any) {
    const open = openApiPath(path);
    if (!paths.has(open)) for (const method of METHODS) specific.add(`${method} ${open}`);
  }
  return specific;
};

/** The document of the routes in `served` (all of `OPERATIONS` when not given). */
export const openApiDocument = (
  version: string,
  served?: ReadonlySet<string>,
): Record<string, unknown> => {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(OPERATIONS)) {
    const item: Record<string, unknown> = {};
    for (const [method, op] of Object.entries(methods) as [Method, Operation][]) {
      if (served && !served.has(`${method} ${openApiPath(path)}`)) continue;
      item[method] = operation(path, method, op);
    }
    if (Object.keys(item).length > 0) paths[openApiPath(path)] = item;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ebbflow',
      version,
      description:
        'A serverless-style function runtime: functions in auto-scaled workers behind one HTTP API. Errors are `{"error": {"code", "message"}}`.',
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'Needed when the server has EBBFLOW_TOKEN set.',
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
};
