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

export const err = (description: string): Reply => ({ description, schema: ErrorSchema });
export const E400 = err(
  'The request is invalid (`invalid_body`, `invalid_json`, `invalid_query`, ...).',
);
export const E404 = err('No such function or task.');
export const json = (description: string, schema: Schema): Reply => ({ description, schema });
