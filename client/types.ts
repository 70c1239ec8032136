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

export interface FunctionInfo {
  name: string;
  status: string;
  error?: string;
  minWorkers: number;
  maxWorkers: number;
  timeoutMs: number;
  concurrency: number;
  activeWorkers: number;
  queueSize: number;
  activeTasks: number;
  version?: number;
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

export interface PoolStats {
  activeWorkers: number;
  queueSize: number;
  activeTasks: number;
  minWorkers: number;
  maxWorkers: number;
  performanceMetrics: Record<string, number>;
  functions: Record<string, Record<string, number>>;
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
