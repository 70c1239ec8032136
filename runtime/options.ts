/**
 * The runtime's options with their defaults (the seed's: 2-20 workers, 0.8/0.3 thresholds, a
 * 10 s monitor), validated once at construction with errors that name the option and value.
 * @module
 */

import type { TaskBackend } from './backend/contract.ts';
import { NO_RETRY, retryProblem, toRetryPolicy } from './backend/retry.ts';
import { EbbflowError, invalidOption } from './errors.ts';
import { type Clock, systemClock } from './time/clock.ts';
import { MAX_TIMER_MS } from './time/timers.ts';
import type {
  FunctionConfig,
  FunctionPermissions,
  ResolvedFunctionConfig,
  TaskRecord,
} from './types.ts';
import type { FunctionSource, WorkerHost } from './worker-host.ts';

export interface RuntimeOptions {
  /** Where the function modules come from. */
  source: FunctionSource;
  /** How workers are spawned on this host. */
  host: WorkerHost;
  /**
   * Where task state lives (records, queue, retries). @default an in-memory backend bounded by
   * resultTtlMs/maxResults
   */
  backend?: TaskBackend;
  /** Each function's default minimum of warm workers. @default 2 */
  minWorkers?: number;
  /** The ceiling on all workers of the runtime together. @default 20 */
  maxWorkers?: number;
  /** Load ratio above which a pool grows by 2. @default 0.8 */
  scaleUpThreshold?: number;
  /** Load ratio below which a pool shrinks by 1. @default 0.3 */
  scaleDownThreshold?: number;
  /** How often the monitor samples load and pressure. @default 10000 */
  monitorIntervalMs?: number;
  /** Workers a loaded pool adds per step (more, up to doubling, when its queue needs more). @default 2 */
  scaleUpStep?: number;
  /** Workers a lightly loaded pool retires per step. @default 1 */
  scaleDownStep?: number;
  /**
   * How long a pool's load must stay below scaleDownThreshold, and how long after its last
   * scale-up, before it retires a worker (the anti-flap cool-down). @default 10000
   */
  scaleDownDelayMs?: number;
  /** Least time between two evaluations triggered by a waiting queue (between ticks). @default 250 */
  reactIntervalMs?: number;
  /** Scale-up waits while the main event loop lags more than this (ms, smoothed). @default 200 */
  maxEventLoopLagMs?: number;
  /** Scale-up waits while the main event loop is busier than this, 0-1 (Node only). @default 0.9 */
  maxEventLoopUtilization?: number;
  /** Scale-up waits while memory use is above this share of what the process may use. @default 0.85 */
  maxMemoryUsage?: number;
  /** Above this memory share every pool above its minimum retires a worker per evaluation. @default 0.95 */
  shrinkMemoryUsage?: number;
  /**
   * Where the host cannot tell CPU-bound workers (no per-worker utilization), scale-up waits
   * while the process uses more than this share of all cores. @default 0.9
   */
  maxCpuUsage?: number;
  /** A busy worker whose event loop is at least this busy counts as CPU-bound. @default 0.5 */
  cpuBoundUtilization?: number;
  /** Scaling decisions kept for `stats().scalingEvents`. @default 100 */
  scalingEventsKept?: number;
  /** Default run timeout of a task. @default 30000 */
  taskTimeoutMs?: number;
  /** Queued tasks per function before `queue_full`. @default 10000 */
  maxQueue?: number;
  /** How long a finished record stays readable. @default 3600000 */
  resultTtlMs?: number;
  /** Finished records kept. @default 100000 */
  maxResults?: number;
  /** How long `close()` waits for work to finish. @default 30000 */
  drainTimeoutMs?: number;
  /**
   * How long an idempotency key holds (`SubmitOptions.idempotencyKey`): a repeat within it
   * creates nothing. @default 86400000 (a day)
   */
  idempotencyTtlMs?: number;
  /** Default heap limit per worker in MiB (enforced on Node). @default 512 */
  memoryLimitMb?: number;
  /** Versions of each function kept with their sources, for rollback (the serving one always). @default 10 */
  keepVersions?: number;
  /**
   * A result whose JSON is larger than this (UTF-8 bytes) fails its task with
   * `result_too_large`: checked in the worker before it is sent, and again by the pool, so no
   * record holds more. At most 268435456 (256 MiB). @default 4194304
   */
  maxResultBytes?: number;
  /**
   * Whether `createRuntime` resolves only once every function has loaded. With `false` it
   * resolves after listing them: each serves as soon as it is loaded (tasks for one still
   * loading wait, and move it to the front of the loading order). @default true
   */
  waitForFunctions?: boolean;
  /** Where warnings and notices go. @default console.warn */
  log?: (message: string) => void;
  /** Told once per task as it becomes terminal (metrics); must not throw. */
  onTaskEnd?: (record: TaskRecord) => void;
  /** Time and timers as the core reads them (tests pass a `ManualClock`). @default the host's */
  clock?: Clock;
}

export type ResolvedOptions = Required<Omit<RuntimeOptions, 'backend' | 'onTaskEnd' | 'clock'>> &
  Pick<RuntimeOptions, 'backend' | 'onTaskEnd'> & { clock: Clock };

export const DEFAULTS = {
  minWorkers: 2,
  maxWorkers: 20,
  scaleUpThreshold: 0.8,
  scaleDownThreshold: 0.3,
  monitorIntervalMs: 10_000,
  scaleUpStep: 2,
  scaleDownStep: 1,
  scaleDownDelayMs: 10_000,
  reactIntervalMs: 250,
  maxEventLoopLagMs: 200,
  maxEventLoopUtilization: 0.9,
  maxMemoryUsage: 0.85,
  shrinkMemoryUsage: 0.95,
  maxCpuUsage: 0.9,
  cpuBoundUtilization: 0.5,
  scalingEventsKept: 100,
  taskTimeoutMs: 30_000,
  maxQueue: 10_000,
  resultTtlMs: 3_600_000,
  maxResults: 100_000,
  drainTimeoutMs: 30_000,
  idempotencyTtlMs: 86_400_000,
  memoryLimitMb: 512,
  maxResultBytes: 4_194_304,
  keepVersions: 10,
  waitForFunctions: true,
} as const;

/**
 * The largest `maxResultBytes`: a record's JSON must stay well inside the longest string a
 * JavaScript engine makes (V8: 2^29 - 24 characters), or no answer could carry it.
 */
export const MAX_RESULT_BYTES = 256 * 1024 * 1024;

export const resolveOptions = (options: RuntimeOptions): ResolvedOptions => {
  const o = {
    ...DEFAULTS,
    log: (m: string) => console.warn(m),
    clock: systemClock,
    ...stripUndefined(options),
  };
  integer('minWorkers', o.minWorkers, 0);
  integer('maxWorkers', o.maxWorkers, 1);
  ratio('scaleUpThreshold', o.scaleUpThreshold);
  ratio('scaleDownThreshold', o.scaleDownThreshold);
  if (o.scaleDownThreshold >= o.scaleUpThreshold) {
    throw invalidOption(
      'scaleDownThreshold',
      `below scaleUpThreshold (${o.scaleUpThreshold})`,
      o.scaleDownThreshold,
    );
  }
  integer('monitorIntervalMs', o.monitorIntervalMs, 1, MAX_TIMER_MS);
  integer('scaleUpStep', o.scaleUpStep, 1);
  integer('scaleDownStep', o.scaleDownStep, 1);
  integer('scaleDownDelayMs', o.scaleDownDelayMs, 0);
  integer('reactIntervalMs', o.reactIntervalMs, 1, MAX_TIMER_MS);
  integer('maxEventLoopLagMs', o.maxEventLoopLagMs, 1);
  share('maxEventLoopUtilization', o.maxEventLoopUtilization);
  share('maxMemoryUsage', o.maxMemoryUsage);
  share('shrinkMemoryUsage', o.shrinkMemoryUsage);
  if (o.shrinkMemoryUsage < o.maxMemoryUsage) {
    throw invalidOption(
      'shrinkMemoryUsage',
      `at least maxMemoryUsage (${o.maxMemoryUsage})`,
      o.shrinkMemoryUsage,
    );
  }
  share('maxCpuUsage', o.maxCpuUsage);
  share('cpuBoundUtilization', o.cpuBoundUtilization);
  integer('scalingEventsKept', o.scalingEventsKept, 0);
  integer('taskTimeoutMs', o.taskTimeoutMs, 1, MAX_TIMER_MS);
  integer('maxQueue', o.maxQueue, 1);
  integer('resultTtlMs', o.resultTtlMs, 0, MAX_TIMER_MS);
  integer('maxResults', o.maxResults, 0);
  integer('drainTimeoutMs', o.drainTimeoutMs, 0, MAX_TIMER_MS);
  integer('idempotencyTtlMs', o.idempotencyTtlMs, 1, MAX_TIMER_MS);
  integer('memoryLimitMb', o.memoryLimitMb, 16);
  integer('maxResultBytes', o.maxResultBytes, 1, MAX_RESULT_BYTES);
  integer('keepVersions', o.keepVersions, 1, 1000);
  return o;
};

/** A function's `config` export over the runtime's defaults; throws naming the bad field. */
export const resolveFunctionConfig = (
  config: unknown,
  o: Pick<
    ResolvedOptions,
    'minWorkers' | 'maxWorkers' | 'taskTimeoutMs' | 'maxQueue' | 'memoryLimitMb'
  >,
): ResolvedFunctionConfig => {
  if (
    config !== undefined &&
    (typeof config !== 'object' || config === null || Array.isArray(config))
  ) {
    throw invalidOption('config', 'an object', config);
  }
  const c = (config ?? {}) as FunctionConfig;
  // Check what the module set before deriving anything from it.
  if (c.maxWorkers !== undefined) integer('config.maxWorkers', c.maxWorkers, 1);
  if (c.minWorkers !== undefined) integer('config.minWorkers', c.minWorkers, 0);
  const maxWorkers = Math.min(c.maxWorkers ?? o.maxWorkers, o.maxWorkers);
  const resolved: ResolvedFunctionConfig = {
    minWorkers: c.minWorkers ?? Math.min(o.minWorkers, maxWorkers),
    // A function can only lower its share of the runtime's ceiling.
    maxWorkers,
    timeoutMs: c.timeoutMs ?? o.taskTimeoutMs,
    maxQueue: c.maxQueue ?? o.maxQueue,
    concurrency: c.concurrency ?? 1,
    memoryLimitMb: c.memoryLimitMb ?? o.memoryLimitMb,
    retry: NO_RETRY,
  };
  if (c.minWorkers !== undefined && c.maxWorkers !== undefined && c.minWorkers > c.maxWorkers) {
    throw invalidOption(
      'config.minWorkers',
      `at most config.maxWorkers (${c.maxWorkers})`,
      c.minWorkers,
    );
  }
  resolved.minWorkers = Math.min(resolved.minWorkers, resolved.maxWorkers);
  integer('config.timeoutMs', resolved.timeoutMs, 1, MAX_TIMER_MS);
  integer('config.maxQueue', resolved.maxQueue, 1);
  integer('config.concurrency', resolved.concurrency, 1, 1000);
  integer('config.memoryLimitMb', resolved.memoryLimitMb, 16);
  if (c.permissions !== undefined) resolved.permissions = permissions(c.permissions);
  if (c.retry !== undefined) {
    const problem = retryProblem(c.retry, 'config.retry');
    if (problem) throw new EbbflowError('invalid_option', `option ${problem}`);
    resolved.retry = toRetryPolicy(c.retry);
  }
  return resolved;
};

const PERMISSION_KINDS = ['read', 'write', 'net', 'env', 'run', 'sys', 'ffi'] as const;

const permissions = (value: unknown): FunctionPermissions => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption('config.permissions', 'an object', value);
  }
  const grants: FunctionPermissions = {};
  for (const [kind, grant] of Object.entries(value)) {
    if (!(PERMISSION_KINDS as readonly string[]).includes(kind)) {
      throw invalidOption(
        `config.permissions.${kind}`,
        `one of ${PERMISSION_KINDS.join(', ')}`,
        kind,
      );
    }
    const list = Array.isArray(grant) && grant.every((g) => typeof g === 'string' && g !== '');
    if (typeof grant !== 'boolean' && !list) {
      throw invalidOption(`config.permissions.${kind}`, 'true, false or a list of strings', grant);
    }
    grants[kind as keyof FunctionPermissions] = grant as boolean | string[];
  }
  return grants;
};

const integer = (name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER) => {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw invalidOption(name, `an integer ${range}`, value);
  }
};

const ratio = (name: string, value: unknown) => {
  if (typeof value !== 'number' || !(value > 0) || !(value <= 10)) {
    throw invalidOption(name, 'a number above 0 and at most 10', value);
  }
};

const share = (name: string, value: unknown) => {
  if (typeof value !== 'number' || !(value > 0) || !(value <= 1)) {
    throw invalidOption(name, 'a number above 0 and at most 1', value);
  }
};

const stripUndefined = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
