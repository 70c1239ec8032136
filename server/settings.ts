/**
 * The server's settings: each one an environment variable and a CLI flag (the flag wins), read
 * from one table so parsing, `--help` and docs/api.md cannot drift apart. Errors name the
 * variable or flag and the bad value.
 * @module
 */
import { DEFAULTS, MAX_RESULT_BYTES, MAX_TIMER_MS, type RuntimeOptions } from '../runtime/index.ts';

export interface Settings {
  port: number;
  host: string;
  functions: string;
  /** The runtime's settings: undefined leaves the runtime's own default. */
  minWorkers?: number;
  maxWorkers?: number;
  scaleUpThreshold?: number;
  scaleDownThreshold?: number;
  monitorIntervalMs?: number;
  taskTimeoutMs?: number;
  maxQueue?: number;
  resultTtlMs?: number;
  maxResults?: number;
  drainTimeoutMs?: number;
  scaleUpStep?: number;
  scaleDownStep?: number;
  scaleDownDelayMs?: number;
  reactIntervalMs?: number;
  maxEventLoopLagMs?: number;
  maxMemoryUsage?: number;
  maxCpuUsage?: number;
  memoryLimitMb?: number;
  maxBodyBytes: number;
  token?: string;
  corsOrigin: string;
  adminToken?: string;
  maxFunctionBytes: number;
  /** Several servers: the Redis they share (unset = this server alone, with its own store). */
  redisUrl?: string;
  /** Several servers: longest time from a server's death to its tasks being retried or failed. */
  clusterLostAfterMs: number;
  /** Open event streams and long-polls together before a new one gets 503 `too_many_streams`. */
  maxStreams: number;
  /** A result whose JSON is larger fails its task with `result_too_large`. */
  maxResultBytes?: number;
  /** Versions of each function kept with their sources, for rollback. */
  keepVersions?: number;
  /** Several servers: longest wait for Redis on a request's behalf before 503. */
  redisTimeoutMs: number;
  /** A server alone: its tasks in a SQLite file (`sqlite`, the default) or in memory only. */
  store: 'sqlite' | 'memory';
  /** The SQLite file of the embedded store. */
  data: string;
  /** When the embedded store's commits reach the disk: at checkpoints, or at each commit. */
  dataSync: 'normal' | 'full';
  /** How long an idempotency key holds (a runtime setting). */
  idempotencyTtlMs?: number;
}

type Kind = 'port' | 'int' | 'ms' | 'ratio' | 'share' | 'text' | 'redis' | 'token' | 'choice';

export interface SettingSpec {
  key: keyof Settings;
  env: string;
  flag: string;
  kind: Kind;
  /** Smallest integer allowed (for `int` and `ms`). */
  min?: number;
  /** Largest integer allowed (for `int`). */
  max?: number;
  /** The values allowed (for `choice`). */
  choices?: readonly string[];
  default: string;
  doc: string;
  /**
   * A secret: never left in the environment of the process that runs functions (the launchers
   * hand it over on a pipe, server/launch.mjs).
   */
  secret?: true;
}

export const SETTINGS: readonly SettingSpec[] = [
  {
    key: 'port',
    env: 'PORT',
    flag: '--port',
    kind: 'port',
    default: '8787',
    doc: 'listen port (`0` = any free port; the server prints the address it bound)',
  },
  {
    key: 'host',
    env: 'HOST',
    flag: '--host',
    kind: 'text',
    default: '127.0.0.1',
    doc: 'listen address',
  },
  {
    key: 'functions',
    env: 'EBBFLOW_FUNCTIONS',
    flag: '--functions',
    kind: 'text',
    default: './functions',
    doc: 'the folder of function modules',
  },
  {
    key: 'minWorkers',
    env: 'EBBFLOW_MIN_WORKERS',
    flag: '--min-workers',
    kind: 'int',
    min: 0,
    default: String(DEFAULTS.minWorkers),
    doc: "each function's default minimum of warm workers (its `config.minWorkers` overrides; 0 allows scale to zero)",
  },
  {
    key: 'maxWorkers',
    env: 'EBBFLOW_MAX_WORKERS',
    flag: '--max-workers',
    kind: 'int',
    min: 1,
    default: String(DEFAULTS.maxWorkers),
    doc: "the ceiling on all workers of the server together; a function's `config.maxWorkers` can only lower its own share",
  },
  {
    key: 'scaleUpThreshold',
    env: 'EBBFLOW_SCALE_UP',
    flag: '--scale-up',
    kind: 'ratio',
    default: String(DEFAULTS.scaleUpThreshold),
    doc: 'load ratio above which a pool grows',
  },
  {
    key: 'scaleDownThreshold',
    env: 'EBBFLOW_SCALE_DOWN',
    flag: '--scale-down',
    kind: 'ratio',
    default: String(DEFAULTS.scaleDownThreshold),
    doc: 'load ratio below which a pool shrinks (below the scale-up threshold)',
  },
  {
    key: 'monitorIntervalMs',
    env: 'EBBFLOW_MONITOR_INTERVAL_MS',
    flag: '--monitor-interval-ms',
    kind: 'ms',
    min: 1,
    default: String(DEFAULTS.monitorIntervalMs),
    doc: "the scaler's sampling interval",
  },
  {
    key: 'taskTimeoutMs',
    env: 'EBBFLOW_TASK_TIMEOUT_MS',
    flag: '--task-timeout-ms',
    kind: 'ms',
    min: 1,
    default: String(DEFAULTS.taskTimeoutMs),
    doc: 'default run timeout of a task',
  },
  {
    key: 'maxQueue',
    env: 'EBBFLOW_MAX_QUEUE',
    flag: '--max-queue',
    kind: 'int',
    min: 1,
    default: String(DEFAULTS.maxQueue),
    doc: 'queued tasks per function before 429',
  },
  {
    key: 'maxBodyBytes',
    env: 'EBBFLOW_MAX_BODY_BYTES',
    flag: '--max-body-bytes',
    kind: 'int',
    min: 1,
    default: '1048576',
    doc: 'request body limit before 413',
  },
  {
    key: 'resultTtlMs',
    env: 'EBBFLOW_RESULT_TTL_MS',
    flag: '--result-ttl-ms',
    kind: 'ms',
    min: 0,
    default: String(DEFAULTS.resultTtlMs),
    doc: 'how long a finished task stays readable',
  },
  {
    key: 'maxResults',
    env: 'EBBFLOW_MAX_RESULTS',
    flag: '--max-results',
    kind: 'int',
    min: 0,
    default: String(DEFAULTS.maxResults),
    doc: 'finished tasks kept; the oldest finished go first',
  },
  {
    key: 'drainTimeoutMs',
    env: 'EBBFLOW_DRAIN_TIMEOUT_MS',
    flag: '--drain-timeout-ms',
    kind: 'ms',
    min: 0,
    default: String(DEFAULTS.drainTimeoutMs),
    doc: 'how long SIGTERM/SIGINT waits for work to finish',
  },
  {
    key: 'scaleUpStep',
    env: 'EBBFLOW_SCALE_UP_STEP',
    flag: '--scale-up-step',
    kind: 'int',
    min: 1,
    default: String(DEFAULTS.scaleUpStep),
    doc: 'workers a loaded pool adds per step (more, up to doubling, when its queue needs more)',
  },
  {
    key: 'scaleDownStep',
    env: 'EBBFLOW_SCALE_DOWN_STEP',
    flag: '--scale-down-step',
    kind: 'int',
    min: 1,
    default: String(DEFAULTS.scaleDownStep),
    doc: 'workers a lightly loaded pool retires per step',
  },
  {
    key: 'scaleDownDelayMs',
    env: 'EBBFLOW_SCALE_DOWN_DELAY_MS',
    flag: '--scale-down-delay-ms',
    kind: 'ms',
    min: 0,
    default: String(DEFAULTS.scaleDownDelayMs),
    doc: 'how long load must stay low (and time since the last scale-up) before a pool shrinks',
  },
  {
    key: 'reactIntervalMs',
    env: 'EBBFLOW_REACT_INTERVAL_MS',
    flag: '--react-interval-ms',
    kind: 'ms',
    min: 1,
    default: String(DEFAULTS.reactIntervalMs),
    doc: 'least time between two scaling evaluations triggered by waiting work',
  },
  {
    key: 'maxEventLoopLagMs',
    env: 'EBBFLOW_MAX_EVENT_LOOP_LAG_MS',
    flag: '--max-event-loop-lag-ms',
    kind: 'ms',
    min: 1,
    default: String(DEFAULTS.maxEventLoopLagMs),
    doc: "scale-up waits while the server's event loop lags more than this",
  },
  {
    key: 'maxMemoryUsage',
    env: 'EBBFLOW_MAX_MEMORY_USAGE',
    flag: '--max-memory-usage',
    kind: 'share',
    default: String(DEFAULTS.maxMemoryUsage),
    doc: 'scale-up waits while memory use is above this share (0-1) of what the process may use',
  },
  {
    key: 'maxCpuUsage',
    env: 'EBBFLOW_MAX_CPU_USAGE',
    flag: '--max-cpu-usage',
    kind: 'share',
    default: String(DEFAULTS.maxCpuUsage),
    doc: 'where workers cannot be measured, scale-up waits while the process uses more than this share (0-1) of all cores',
  },
  {
    key: 'memoryLimitMb',
    env: 'EBBFLOW_MEMORY_LIMIT_MB',
    flag: '--memory-limit-mb',
    kind: 'int',
    min: 16,
    default: String(DEFAULTS.memoryLimitMb),
    doc: "each worker's default memory limit in MiB, JavaScript heap plus buffers (a function's `config.memoryLimitMb` overrides; enforced on Node only)",
  },
  {
    key: 'token',
    env: 'EBBFLOW_TOKEN',
    flag: '--token',
    kind: 'token',
    default: '',
    doc: 'when set, every route but `/health` needs `Authorization: Bearer <token>`',
    secret: true,
  },
  {
    key: 'corsOrigin',
    env: 'EBBFLOW_CORS_ORIGIN',
    flag: '--cors-origin',
    kind: 'text',
    default: '*',
    doc: '`Access-Control-Allow-Origin`: `*`, one origin, or a comma-separated list',
  },
  {
    key: 'adminToken',
    env: 'EBBFLOW_ADMIN_TOKEN',
    flag: '--admin-token',
    kind: 'token',
    default: '',
    doc: 'when set, `PUT`/`DELETE /functions/:name` deploy and delete with `Authorization: Bearer <admin token>` (it also works wherever `EBBFLOW_TOKEN` does); unset, deploys answer 403',
    secret: true,
  },
  {
    key: 'maxFunctionBytes',
    env: 'EBBFLOW_MAX_FUNCTION_BYTES',
    flag: '--max-function-bytes',
    kind: 'int',
    min: 1,
    default: '1048576',
    doc: 'largest deployed source before 413',
  },
  {
    key: 'redisUrl',
    env: 'EBBFLOW_REDIS_URL',
    flag: '--redis-url',
    kind: 'redis',
    default: '',
    doc: 'several servers: `redis://host:port` of the Redis they share for tasks and records (docs/cluster.md)',
    secret: true,
  },
  {
    key: 'clusterLostAfterMs',
    env: 'EBBFLOW_CLUSTER_LOST_AFTER_MS',
    flag: '--cluster-lost-after-ms',
    kind: 'ms',
    min: 1000,
    default: '30000',
    doc: "several servers: longest time until a dead server's tasks are retried elsewhere or failed",
  },
  {
    key: 'maxStreams',
    env: 'EBBFLOW_MAX_STREAMS',
    flag: '--max-streams',
    kind: 'int',
    min: 1,
    default: '1000',
    doc: 'open event streams and long-polls together; past it a new one gets 503 `too_many_streams`',
  },
  {
    key: 'maxResultBytes',
    env: 'EBBFLOW_MAX_RESULT_BYTES',
    flag: '--max-result-bytes',
    kind: 'int',
    min: 1,
    max: MAX_RESULT_BYTES,
    default: String(DEFAULTS.maxResultBytes),
    doc: 'a result whose JSON is larger (UTF-8 bytes) fails its task with `result_too_large`',
  },
  {
    key: 'keepVersions',
    env: 'EBBFLOW_KEEP_VERSIONS',
    flag: '--keep-versions',
    kind: 'int',
    min: 1,
    default: String(DEFAULTS.keepVersions),
    doc: 'versions of each function kept with their sources, for a rollback (the serving one always)',
  },
  {
    key: 'redisTimeoutMs',
    env: 'EBBFLOW_REDIS_TIMEOUT_MS',
    flag: '--redis-timeout-ms',
    kind: 'ms',
    min: 100,
    default: '5000',
    doc: "several servers: longest wait for Redis on a request's behalf; past it (Redis away or not answering) the request answers 503 `backend_unavailable`",
  },
  {
    key: 'store',
    env: 'EBBFLOW_STORE',
    flag: '--store',
    kind: 'choice',
    choices: ['sqlite', 'memory'],
    default: 'sqlite',
    doc: 'where a server alone keeps its tasks: `sqlite` (the file at `EBBFLOW_DATA`; tasks survive a restart) or `memory` (nothing on disk; a restart forgets them); with `EBBFLOW_REDIS_URL`, Redis keeps them (docs/storage.md)',
  },
  {
    key: 'data',
    env: 'EBBFLOW_DATA',
    flag: '--data',
    kind: 'text',
    default: './.ebbflow/tasks.db',
    doc: 'the SQLite file of the tasks (created with its folder on first start; one server per file)',
  },
  {
    key: 'dataSync',
    env: 'EBBFLOW_DATA_SYNC',
    flag: '--data-sync',
    kind: 'choice',
    choices: ['normal', 'full'],
    default: 'normal',
    doc: "when the tasks file's commits reach the disk: `normal` at checkpoints (a killed process loses nothing; a power cut may lose the last moments), `full` at every commit",
  },
  {
    key: 'idempotencyTtlMs',
    env: 'EBBFLOW_IDEMPOTENCY_TTL_MS',
    flag: '--idempotency-ttl-ms',
    kind: 'ms',
    min: 1,
    default: String(DEFAULTS.idempotencyTtlMs),
    doc: 'how long an `Idempotency-Key` holds: a repeat within it creates nothing',
  },
];

export class SettingsError extends Error {
  override name = 'SettingsError';
}

/** Result of reading the command line: settings, or a request for help. */
export type Parsed = { help: true } | { help: false; settings: Settings };

/**
 * Read settings from `env` and `argv` (flags only, `--port 8080` or `--port=8080`).
 * Throws a `SettingsError` naming the variable or flag and the bad value.
 */
export const parseSettings = (
  argv: readonly string[],
  env: Record<string, string | undefined>,
): Parsed => {
  const raw = new Map<SettingSpec, { value: string; from: string }>();
  for (const spec of SETTINGS) {
    const value = env[spec.env];
    if (value !== undefined && value !== '') raw.set(spec, { value, from: spec.env });
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return { help: true };
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const spec = SETTINGS.find((s) => s.flag === flag);
    if (!spec) throw new SettingsError(`unknown argument ${JSON.stringify(arg)} (see --help)`);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined || (eq < 0 && value.startsWith('--'))) {
      throw new SettingsError(`${flag} needs a value`);
    }
    raw.set(spec, { value, from: flag });
  }
  const settings: Record<string, unknown> = {};
  for (const spec of SETTINGS) {
    const given = raw.get(spec);
    if (given) settings[spec.key] = convert(spec, given.value, given.from);
    else if (!isRuntimeSetting(spec) && spec.default !== '') {
      settings[spec.key] = convert(spec, spec.default, spec.env);
    }
  }
  const s = settings as unknown as Settings;
  const up = s.scaleUpThreshold ?? DEFAULTS.scaleUpThreshold;
  const down = s.scaleDownThreshold ?? DEFAULTS.scaleDownThreshold;
  if (down >= up) {
    throw new SettingsError(
      `EBBFLOW_SCALE_DOWN (--scale-down) must be below EBBFLOW_SCALE_UP (--scale-up): got ${down} and ${up}`,
    );
  }
  return { help: false, settings: s };
};

// Settings the runtime owns keep the runtime's defaults when unset.
const isRuntimeSetting = (spec: SettingSpec): boolean => spec.key in DEFAULTS;

type RuntimeSettings = Partial<Pick<RuntimeOptions, keyof typeof DEFAULTS>>;

/** The runtime's options among `settings` (those it owns, by the same name), unset ones left out. */
export const runtimeSettings = (settings: Settings): RuntimeSettings => {
  const options: Record<string, unknown> = {};
  for (const spec of SETTINGS) {
    const value = settings[spec.key];
    if (isRuntimeSetting(spec) && value !== undefined) options[spec.key] = value;
  }
  return options as RuntimeSettings;
};

const convert = (spec: SettingSpec, value: string, from: string): unknown => {
  const fail = (expected: string) =>
    new SettingsError(`${from} must be ${expected}, got ${JSON.stringify(value)}`);
  switch (spec.kind) {
    case 'text':
      if (value.trim() === '') throw fail('a non-empty string');
      return value;
    case 'ratio': {
      const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
      if (!(n > 0 && n <= 10)) throw fail('a number above 0 and at most 10');
      return n;
    }
    case 'share': {
      const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
      if (!(n > 0 && n <= 1)) throw fail('a number above 0 and at most 1');
      return n;
    }
    case 'port':
      return integer(value, 0, 65_535, fail);
    case 'redis':
      if (!/^rediss?:\/\/[^\s/]+/.test(value)) throw fail('a URL such as redis://host:6379');
      return value;
    case 'token': {
      // Never echoed: the message names the variable and the problem, not the secret.
      const problem = tokenProblem(value);
      if (problem) {
        throw new SettingsError(
          `${from} ${problem}, so no "Authorization: Bearer <token>" header could ever match it; use letters, digits and -._~+/= (e.g. openssl rand -hex 32)`,
        );
      }
      return value;
    }
    case 'choice':
      if (!spec.choices?.includes(value)) throw fail(`one of ${spec.choices?.join(', ')}`);
      return value;
    case 'ms':
      return integer(value, spec.min ?? 0, MAX_TIMER_MS, fail);
    case 'int':
      return integer(value, spec.min ?? 0, spec.max ?? Number.MAX_SAFE_INTEGER, fail);
  }
};

/**
 * Why a token can never be sent as `Authorization: Bearer <token>`, or undefined when it can: a
 * header carries visible ASCII, and the token ends at the first space (api/auth.ts reads it so).
 */
export const tokenProblem = (token: string): string | undefined => {
  if (token === '') return 'is empty';
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (code === 0x20 || code === 0x09) return `has a space at character ${i + 1}`;
    if (code < 0x21 || code > 0x7e) {
      return `has a character outside visible ASCII (U+${code.toString(16).toUpperCase().padStart(4, '0')}) at character ${i + 1}`;
    }
  }
  return undefined;
};

const integer = (value: string, min: number, max: number, fail: (e: string) => Error): number => {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw fail(
      max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`,
    );
  }
  return n;
};

/** `--help` text, from the same table. */
export const usage = (): string => {
  const lines = SETTINGS.map((s) => {
    const d = s.default === '' ? 'unset' : s.default;
    return `  ${`${s.flag} <value>`.padEnd(28)} ${s.env.padEnd(28)} ${d.padEnd(11)} ${s.doc.replaceAll('`', '')}`;
  });
  return [
    'ebbflow: serve the functions of a folder over HTTP',
    '',
    'usage: npm start -- [flags]    (each flag also reads from its environment variable)',
    '',
    `  ${'flag'.padEnd(28)} ${'variable'.padEnd(28)} ${'default'.padEnd(11)} meaning`,
    ...lines,
  ].join('\n');
};
