/**
 * The shapes the server answers with, as the client sees them (the HTTP contract's), and the map
 * from function names to their argument and result types that `ebbflow types` generates.
 * @module
 */

export type TaskStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface TaskLog {
  at: number;
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  message: string;
}

export interface TaskRecord<Result = unknown> {
  id: string;
  function: string;
  status: TaskStatus;
  submittedAt: number;
  startedAt?: number;
  completedAt?: number;
  failedAt?: number;
  cancelledAt?: number;
  result?: Result;
  error?: string;
  errorCode?: string;
  attempt?: number;
  attempts?: number;
  retryOf?: string;
  version?: number;
  logs?: TaskLog[];
  timedOut?: boolean;
  executionTime?: number;
  workerId?: number;
}

export interface TaskPage {
  tasks: TaskRecord[];
  next?: string;
}

/** Runs of a task in all (1 = no retry), and the first retry's wait in ms. */
export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
}

/** What a function's workers may reach: `true` for all, or a list; unset means denied. */
export interface FunctionPermissions {
  read?: boolean | string[];
  write?: boolean | string[];
  net?: boolean | string[];
  env?: boolean | string[];
  run?: boolean | string[];
  sys?: boolean | string[];
  ffi?: boolean | string[];
}

export interface FunctionInfo {
  name: string;
  /** `ready`, `unavailable`, `loading`, or `deleted` (answered once by a delete). */
  status: string;
  /** Why the function is unavailable (the loader's message). */
  error?: string;
  minWorkers: number;
  maxWorkers: number;
  timeoutMs: number;
  maxQueue: number;
  concurrency: number;
  memoryLimitMb: number;
  retry: RetryPolicy;
  permissions?: FunctionPermissions;
  activeWorkers: number;
  queueSize: number;
  activeTasks: number;
  /** Grows by one with each deploy (or hand edit) of this name. */
  version?: number;
  /** SHA-256 of the module's source, hex. */
  sha256?: string;
  deployedAt?: number;
  /** Why the last deploy or edit of this name was refused; the version above still serves. */
  lastError?: string;
  /** What the module exports: a default function (tasks) and a `fetch` handler (`/fn/<name>`). */
  exports?: { default: boolean; fetch: boolean };
  [more: string]: unknown;
}

export interface ScalingEvent {
  at: number;
  function: string;
  action: 'up' | 'down' | 'hold';
  from: number;
  to: number;
  reason: string;
}

/** One function's pool, in `PoolStats.functions`. */
export interface FunctionStats {
  activeWorkers: number;
  queueSize: number;
  activeTasks: number;
  minWorkers: number;
  maxWorkers: number;
  tasksCompleted: number;
  tasksFailed: number;
  tasksCancelled: number;
  avgTaskTime: number;
  coldStarts: number;
  lastColdStartMs?: number;
  loadRatio: number;
  eventLoopUtilization?: number;
}

export interface PerformanceMetrics {
  tasksCompleted: number;
  tasksFailed: number;
  avgTaskTime: number;
  cpuUsage: number;
  memoryUsage: number;
  eventLoopUtilization: number;
  eventLoopLagMs: number;
}

export interface PoolStats {
  activeWorkers: number;
  queueSize: number;
  activeTasks: number;
  minWorkers: number;
  maxWorkers: number;
  performanceMetrics: PerformanceMetrics;
  functions: Record<string, FunctionStats>;
  scalingEvents: ScalingEvent[];
  [more: string]: unknown;
}

export interface LogEvent extends TaskLog {
  taskId?: string;
  function: string;
  request?: string;
}

/** What `events()` yields. */
export type ServerEvent =
  | { type: 'task'; data: TaskRecord }
  | { type: 'scale'; data: ScalingEvent }
  | { type: 'stats'; data: PoolStats }
  | { type: 'log'; data: LogEvent };

/** One function's signature: its arguments as a tuple, and what it resolves to. */
export interface Signature {
  args: unknown[];
  result: unknown;
}

/** Name → signature. `ebbflow types` writes one for your functions folder. */
export type FunctionMap = Record<string, Signature>;

/** Without a generated map: any name, any JSON arguments. */
export type AnyFunctions = Record<string, { args: unknown[]; result: unknown }>;

/** A module's signature from its default export (what the generated file uses). */
export type SignatureOf<M> = M extends { default: (...args: infer A) => infer R }
  ? { args: A; result: Awaited<R> }
  : never;
