/**
 * Examples of what the API answers, shown in the OpenAPI document (and what "Try it out" on
 * `/docs` starts from): typed as the runtime's own shapes, so a renamed field breaks the type
 * check, and checked against the routes' valibot schemas by api/openapi.test.ts.
 * @module
 */
import type { FunctionInfo, FunctionVersions, PoolStats, TaskRecord } from '../runtime/index.ts';
import type { HistorySample } from './stats-history.ts';

const AT = 1_764_262_800_000;
const ID = '5d2b7a58-9f1e-4c1e-8a51-0b7f3c2d9e11';
const SHA = '0d34a1376cc5e8a4c4d3b2f0e1a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1';

export const QUEUED_TASK = {
  id: ID,
  function: 'fib',
  status: 'queued',
  submittedAt: AT,
  attempt: 1,
  attempts: 1,
  version: 1,
} satisfies TaskRecord;

export const COMPLETED_TASK = {
  ...QUEUED_TASK,
  status: 'completed',
  startedAt: AT + 3,
  completedAt: AT + 5,
  result: 6765,
  executionTime: 0.42,
  workerId: 3,
} satisfies TaskRecord;

export const FAILED_TASK = {
  ...QUEUED_TASK,
  status: 'failed',
  startedAt: AT + 3,
  failedAt: AT + 4,
  error: 'RangeError: n must be an integer from 0 to 45',
  errorCode: 'function_threw',
  logs: [{ at: AT + 3, level: 'log', message: 'computing fib(50)' }],
  executionTime: 0.2,
  workerId: 3,
} satisfies TaskRecord;

export const TIMED_OUT_TASK = {
  ...FAILED_TASK,
  error: 'timed out after 5000 ms',
  errorCode: 'timed_out',
  timedOut: true,
} satisfies TaskRecord;

export const CANCELLED_TASK = {
  ...QUEUED_TASK,
  status: 'cancelled',
  cancelledAt: AT + 2,
  error: 'cancelled before it started',
} satisfies TaskRecord;

export const RETRIED_TASK = {
  ...QUEUED_TASK,
  id: '9f3c1e2a-6b7d-4e8f-a1b2-c3d4e5f60718',
  retryOf: ID,
} satisfies TaskRecord;

export const FUNCTION = {
  name: 'fib',
  status: 'ready',
  minWorkers: 2,
  maxWorkers: 20,
  timeoutMs: 60_000,
  maxQueue: 10_000,
  concurrency: 1,
  memoryLimitMb: 512,
  retry: { attempts: 1, backoffMs: 1000 },
  activeWorkers: 2,
  queueSize: 0,
  activeTasks: 0,
  version: 3,
  sha256: SHA,
  deployedAt: AT,
  exports: { default: true, fetch: false },
} satisfies FunctionInfo;

export const VERSIONS = {
  name: 'fib',
  version: 3,
  versions: [
    { version: 3, sha256: SHA, deployedAt: AT, bytes: 380, language: 'ts', serving: true },
    {
      version: 2,
      sha256: SHA.replace(/^0d34/, '7a21'),
      deployedAt: AT - 3_600_000,
      bytes: 371,
      language: 'ts',
      serving: false,
    },
  ],
} satisfies FunctionVersions;

export const STATS = {
  activeWorkers: 2,
  queueSize: 0,
  activeTasks: 1,
  minWorkers: 2,
  maxWorkers: 20,
  performanceMetrics: {
    tasksCompleted: 120,
    tasksFailed: 2,
    avgTaskTime: 3.1,
    cpuUsage: 12.5,
    memoryUsage: 4.2,
    eventLoopUtilization: 0.05,
    eventLoopLagMs: 1.2,
  },
  functions: {
    fib: {
      activeWorkers: 2,
      queueSize: 0,
      activeTasks: 1,
      minWorkers: 2,
      maxWorkers: 20,
      tasksCompleted: 120,
      tasksFailed: 2,
      tasksCancelled: 0,
      avgTaskTime: 3.1,
      coldStarts: 2,
      lastColdStartMs: 38,
      loadRatio: 0.5,
    },
  },
  scalingEvents: [
    {
      at: AT,
      function: 'fib',
      action: 'up',
      from: 2,
      to: 4,
      reason: 'load 1.50 > 0.8 (3 running + 3 queued on 2 workers × 2) [backlog]',
    },
  ],
} satisfies PoolStats;

export const HISTORY = {
  intervalMs: 1000,
  samples: [
    { at: AT, functions: { fib: { activeWorkers: 2, queueSize: 4, activeTasks: 2 } } },
    { at: AT + 1000, functions: { fib: { activeWorkers: 4, queueSize: 0, activeTasks: 3 } } },
  ] satisfies HistorySample[],
};

/** The error shape with this code. */
export const errorExample = (code: string, message: string) => ({ error: { code, message } });

/** A function module, as a deploy sends it. */
export const MODULE_SOURCE =
  'export const config = { timeoutMs: 5_000 };\n\nexport default (n: number): number => n * 2;\n';

/** One event of a task's stream, as it is sent. */
export const TASK_EVENT = `event: task\ndata: ${JSON.stringify(QUEUED_TASK)}\n\n`;

/** What `GET /metrics` starts with. */
export const METRICS_TEXT =
  '# HELP ebbflow_tasks_total Tasks that ended, by function and outcome.\n# TYPE ebbflow_tasks_total counter\nebbflow_tasks_total{function="fib",outcome="completed"} 120\n';
