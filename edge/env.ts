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
import { DEFAULTS, MAX_RESULT_BYTES } from '../runtime/options.ts';

export interface EdgeEnv {
  /** The Worker Loader: one isolate per function version. */
  LOADER: WorkerLoader;
  /** Task shards (`TaskShard`), addressed as `shard-<n>`. */
  TASKS: DurableObjectNamespace;
  /** The function registry (`FunctionRegistry`), one instance named `registry`. */
  FUNCTIONS: DurableObjectNamespace;
  /** The static assets: the pages' files (wrangler.toml `[assets]`). */
  ASSETS?: Fetcher;
  /**
   * `npm run dev:workers` only: the isolate host (a second workerd) that loads the functions'
   * isolates instead of `LOADER`, and the dev runner that restarts it when it is stuck.
   */
  ISOLATE_HOST?: Fetcher;
  ISOLATE_SUPERVISOR?: Fetcher;
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
  /** Versions of each function kept with their code, for rollback. @default 10 */
  keepVersions?: number;
  /** A result whose JSON is larger fails its task (`result_too_large`). */
  maxResultBytes: number;
  idempotencyTtlMs: number;
}

/**
 * The edge's default bound on a result's JSON, below the other hosts' 4 MiB: a task's record
 * (its result with its printed lines) is one SQLite value in its shard, which holds about 2 MB
 * (Cloudflare's limit, and local workerd's: SQLITE_TOOBIG past it). A larger setting is taken;
 * a record that does not fit then fails `result_too_large` (edge/task-object.ts).
 */
export const EDGE_RESULT_BYTES = 1_048_576;

const read = (
  env: Readonly<Record<string, unknown>>,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number => {
  const raw = env[name];
  if (typeof raw !== 'string' || raw === '') return fallback;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new Error(`${name} must be an integer ${range}, got ${JSON.stringify(raw)}`);
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
    keepVersions: read(env, 'EBBFLOW_KEEP_VERSIONS', DEFAULTS.keepVersions, 1),
    maxResultBytes: read(env, 'EBBFLOW_MAX_RESULT_BYTES', EDGE_RESULT_BYTES, 1, MAX_RESULT_BYTES),
    idempotencyTtlMs: read(env, 'EBBFLOW_IDEMPOTENCY_TTL_MS', DEFAULTS.idempotencyTtlMs, 1),
  };
};

export const shardCount = (env: Readonly<Record<string, unknown>>): number =>
  read(env, 'EBBFLOW_SHARDS', 8, 1);
