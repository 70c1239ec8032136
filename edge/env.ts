/**
 * The bindings and variables the edge Worker and its Durable Objects share (wrangler.toml), and
 * the settings read from them with the same table as every other host (server/settings.ts reads
 * `process.env`; here the variables arrive as `env`).
 * @module
 */
import type {
  DurableObjectNamespace,
  Fetcher,
  WorkerLoader,
} from '@cloudflare/workers-types/latest/index.ts';
import { DEFAULTS } from '../runtime/options.ts';

export interface EdgeEnv {
  /** The Worker Loader: one isolate per function version. */
  LOADER: WorkerLoader;
  /** Task shards (`TaskShard`), addressed as `shard-<n>`. */
  TASKS: DurableObjectNamespace;
  /** The function registry (`FunctionRegistry`), one instance named `registry`. */
  FUNCTIONS: DurableObjectNamespace;
  /** The static assets: the pages' files (wrangler.toml `[assets]`). */
  ASSETS?: Fetcher;
  /** How many task shards (default 8); changing it strands the records of removed shards. */
  EBBFLOW_SHARDS?: string;
  [variable: string]: unknown;
}

/** What the edge reads of the runtime's options, from the `EBBFLOW_*` variables. */
export interface EdgeDefaults {
  minWorkers: number;
  maxWorkers: number;
  taskTimeoutMs: number;
  maxQueue: number;
  memoryLimitMb: number;
  resultTtlMs: number;
  maxResults: number;
  idempotencyTtlMs: number;
}

const read = (
  env: Readonly<Record<string, unknown>>,
  name: string,
  fallback: number,
  min: number,
): number => {
  const raw = env[name];
  if (typeof raw !== 'string' || raw === '') return fallback;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return n;
};

export const edgeDefaults = (env: Readonly<Record<string, unknown>>): EdgeDefaults => {
  const maxWorkers = read(env, 'EBBFLOW_MAX_WORKERS', DEFAULTS.maxWorkers, 1);
  return {
    minWorkers: read(env, 'EBBFLOW_MIN_WORKERS', DEFAULTS.minWorkers, 0),
    maxWorkers,
    taskTimeoutMs: read(env, 'EBBFLOW_TASK_TIMEOUT_MS', DEFAULTS.taskTimeoutMs, 1),
    maxQueue: read(env, 'EBBFLOW_MAX_QUEUE', DEFAULTS.maxQueue, 1),
    memoryLimitMb: DEFAULTS.memoryLimitMb,
    resultTtlMs: read(env, 'EBBFLOW_RESULT_TTL_MS', DEFAULTS.resultTtlMs, 0),
    maxResults: read(env, 'EBBFLOW_MAX_RESULTS', DEFAULTS.maxResults, 0),
    idempotencyTtlMs: read(env, 'EBBFLOW_IDEMPOTENCY_TTL_MS', DEFAULTS.idempotencyTtlMs, 1),
  };
};

export const shardCount = (env: Readonly<Record<string, unknown>>): number =>
  read(env, 'EBBFLOW_SHARDS', 8, 1);
