/**
 * What the API answers, as valibot schemas for the OpenAPI document (each route's `responses`),
 * with a compile-time check that the runtime's own types fit them, and the replies routes share.
 * @module
 */
import * as v from 'valibot';
import type { FunctionInfo, FunctionVersions, PoolStats, TaskRecord } from '../runtime/index.ts';
import type { Reply, Schema } from './route.ts';

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
  version: opt(num),
  sha256: opt(v.string()),
  deployedAt: opt(num),
  lastError: opt(v.string()),
  exports: opt(v.object({ default: v.boolean(), fetch: v.boolean() })),
});

export const FunctionVersionsSchema = v.object({
  name: v.string(),
  version: num,
  versions: v.array(
    v.object({
      version: num,
      sha256: v.string(),
      deployedAt: num,
      bytes: num,
      language: v.picklist(['ts', 'js']),
      serving: v.boolean(),
    }),
  ),
});

/** `GET /stats/history`. */
export const HistorySchema = v.object({
  intervalMs: num,
  samples: v.array(
    v.object({
      at: num,
      functions: v.record(
        v.string(),
        v.object({ activeWorkers: num, queueSize: num, activeTasks: num }),
      ),
    }),
  ),
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
fits(FunctionVersionsSchema, {} as FunctionVersions);

/** What each error an example shows says (the real messages say more, with the values). */
const SAMPLE_MESSAGES: Record<string, string> = {
  invalid_body: 'timeoutMs: timeoutMs must be at least 1',
  unknown_function: 'no function named "fib"',
  unknown_task: 'no task with id "5d2b7a58-9f1e-4c1e-8a51-0b7f3c2d9e11" (unknown or expired)',
  unknown_version: 'function "fib" has no version 7 kept (kept: 3, 2, 1)',
  no_previous_version: 'function "fib" has no kept version older than version 1, which serves',
  unauthorized: 'the bearer token is not valid',
  deploy_disabled:
    'deploying is turned off on this server: start it with EBBFLOW_ADMIN_TOKEN set (the token deploys and deletes need)',
  payload_too_large: 'the body is larger than 1048576 bytes',
  unsupported_media_type:
    'send the module with Content-Type application/typescript (or text/typescript) for TypeScript, application/javascript (or text/javascript) for JavaScript; got "text/plain"',
  invalid_function:
    'function "fib" was not deployed: the module failed to load: Unexpected ";" (line 2)',
  duplicate_id: 'task id "report-2026-11-27" is already in use',
  queue_full: 'the queue of "fib" is full (10000 tasks); retry later',
  draining: 'the server is shutting down and takes no new tasks',
  already_terminal: 'task "5d2b7a58-9f1e-4c1e-8a51-0b7f3c2d9e11" has already ended (completed)',
  not_retryable:
    'task "5d2b7a58-9f1e-4c1e-8a51-0b7f3c2d9e11" is completed; only a failed or cancelled task can be retried',
  no_fetch_handler: 'function "fib" has no fetch export, so it does not answer HTTP requests',
  handler_failed: 'function "notes-api" failed: TypeError: Cannot read properties of undefined',
  handler_timed_out: 'function "notes-api": timed out after 30000 ms',
  function_unavailable:
    'function "notes-api" is unavailable: the module failed to load: Unexpected ";" (line 2)',
  too_many_streams:
    'this server already holds 1000 event streams and long-polls (EBBFLOW_MAX_STREAMS); retry later',
};

/** An error answer, its example showing `code`. */
export const err = (description: string, code: string): Reply => ({
  description,
  schema: ErrorSchema,
  example: { error: { code, message: SAMPLE_MESSAGES[code] ?? code } },
});
export const E400 = err(
  'The request is invalid (`invalid_body`, `invalid_json`, `invalid_query`, ...).',
  'invalid_body',
);
export const E404 = err('No such function or task.', 'unknown_function');
export const E503_STREAMS = err(
  'EBBFLOW_MAX_STREAMS event streams and long-polls are open already (`too_many_streams`; see Retry-After).',
  'too_many_streams',
);
/** A JSON answer of `schema`, with an example of it. */
export const json = (description: string, schema: Schema, example: unknown): Reply => ({
  description,
  schema,
  example,
});
