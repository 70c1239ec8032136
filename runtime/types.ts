/**
 * The shapes ebbflow's runtime shares with its callers: task records, function info, pool stats
 * and the options a function module may export. The HTTP contract serialises these as they are.
 * @module
 */
/** Why a task failed, for programs (the record's `error` says it for people). */
export type FailureCode =
  /** The function threw or rejected. */
  | 'function_threw'
  /** It ran past its timeout; the worker was replaced. */
  | 'timed_out'
  /** The worker exited (its code in `error`) or was lost while running it. */
  | 'worker_exited'
  /** The worker ran out of memory. */
  | 'out_of_memory'
  /** The result is not JSON (the path is in `error`). */
  | 'result_not_serializable'
  /** The result's JSON is larger than `maxResultBytes` (EBBFLOW_MAX_RESULT_BYTES). */
  | 'result_too_large'
  /** The module did not load (syntax error, throws at load, no default export, bad config). */
  | 'load_failed'
  /** The runtime shut down (drain timeout) before the task ended. */
  | 'shutdown'
  /** The server running it died (several servers: detected by the backend). */
  | 'server_lost'
  /** Its function was deleted before the task could run. */
  | 'function_deleted'
  /** The arguments could not be sent to the worker. */
  | 'args_not_serializable';

/** Failures that are retried while attempts are left (the contract's v2 "Retries"). */
export const RETRYABLE: ReadonlySet<FailureCode> = new Set([
  'function_threw',
  'timed_out',
  'worker_exited',
  'out_of_memory',
  'server_lost',
]);

/** `attempts` runs in all (1 = no retry); the n-th retry waits `backoffMs × 2^(n-1)` + ≤20 % jitter. */
export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
}

/** What `submit` hands the backend, already validated by the runtime. */
export interface NewTask {
  /** Client-chosen id (checked against the id rule), or undefined for a new UUID. */
  id?: string;
  /**
   * Set when `id` is a new UUID the server drew itself (the edge picks its shard by it): no
   * record can hold it, so a store need not look for one.
   */
  idDrawn?: true;
  function: string;
  args: unknown[];
  /** Resolved run timeout (task > function config > runtime default). */
  timeoutMs: number;
  retry: RetryPolicy;
  /** The function's version when submitted (deploys); informative. */
  version?: number;
  /** Set by replay (`POST /tasks/:id/retry`): the id of the task this one repeats. */
  retryOf?: string;
  /** Queued tasks of this function allowed before `queue_full`. */
  maxQueue: number;
  /**
   * Set when the submission carried an idempotency key (v3): a repeat with the same fingerprint
   * answers the first task's record, marked (`isReplay`); another fingerprint is refused.
   */
  idempotency?: { key: string; fingerprint: string; ttlMs: number };
}

/** A task handed to this server to run. */
export interface ClaimedTask {
  id: string;
  function: string;
  args: unknown[];
  timeoutMs: number;
  /** 1 on the first run, 2 on the first retry, ... */
  attempt: number;
  submittedAt: number;
}

/** One line a function printed while running a task (the contract's v2 "Task logs"). */
export interface TaskLog {
  at: number;
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  message: string;
}

/** How a claimed task ended on this server, as `finish` is told. */
export type TaskEnding =
  | {
      status: 'completed';
      result: unknown;
      startedAt: number;
      endedAt: number;
      executionTime: number;
      workerId: number;
      version?: number;
      logs?: TaskLog[];
    }
  | {
      status: 'failed';
      error: string;
      errorCode: FailureCode;
      endedAt: number;
      startedAt?: number;
      executionTime?: number;
      workerId?: number;
      version?: number;
      logs?: TaskLog[];
    }
  /** It never began (its worker died first): back to the front of the queue, no attempt spent. */
  | { status: 'unstarted' };

export interface TaskQuery {
  function?: string;
  status?: TaskStatus;
  /** 1-1000. */
  limit: number;
  /** Continue after this id (the `next` of the previous page). */
  before?: string;
}

export interface TaskPage {
  /** Newest first. */
  tasks: TaskRecord[];
  next?: string;
}

/** How an ephemeral run ended (`Runtime.runEphemeral`): a completed or failed `TaskEnding`. */
export type RunEnding = Extract<TaskEnding, { status: 'completed' | 'failed' }>;

/** How a task ended, as metrics count it; `failed` here excludes `timed_out`, so they add up. */
export type TaskOutcome = 'completed' | 'failed' | 'timed_out' | 'cancelled';

/** Where a task is in its life: `queued → running → completed | failed`, or `cancelled`. */
export type TaskStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

/** A task as callers see it. Times are epoch milliseconds. */
export interface TaskRecord {
  id: string;
  function: string;
  status: TaskStatus;
  submittedAt: number;
  startedAt?: number;
  completedAt?: number;
  failedAt?: number;
  /** When a task was cancelled (an addition to the seed's record). */
  cancelledAt?: number;
  /** The function's return value (JSON), present when `completed`. */
  result?: unknown;
  /** Why the task failed or was cancelled. */
  error?: string;
  /** Why the task failed, for programs (v2): `function_threw`, `timed_out`, ... */
  errorCode?: FailureCode;
  /** The current or last attempt, from 1 (v2 retries). */
  attempt?: number;
  /** Runs allowed in all (v2 retries; 1 = no retry). */
  attempts?: number;
  /** Set on a replay (`POST /tasks/:id/retry`): the task this one repeats. */
  retryOf?: string;
  /** The function's version that ran (or will run) the task (v2 deploys). */
  version?: number;
  /** What the function printed while running it (v2 task logs), when anything. */
  logs?: TaskLog[];
  /** `true` when the task failed because it ran past its timeout (a cause to match on). */
  timedOut?: boolean;
  /** Milliseconds the function ran, measured inside the worker. */
  executionTime?: number;
  /** The worker that ran (or was running) the task. */
  workerId?: number;
}

/** The optional named export `config` of a function module. */
export interface FunctionConfig {
  /** Workers kept warm for this function; 0 allows scale to zero. @default runtime's minWorkers */
  minWorkers?: number;
  /** This function's own ceiling; it can only lower its share of the runtime's maxWorkers. */
  maxWorkers?: number;
  /** Run timeout of one task in ms. @default runtime's taskTimeoutMs */
  timeoutMs?: number;
  /** Queued tasks before submissions are refused. @default runtime's maxQueue */
  maxQueue?: number;
  /** Tasks one worker runs at once (for async functions). @default 1 */
  concurrency?: number;
  /** Heap limit of one worker in MiB (enforced on Node). @default runtime's memoryLimitMb */
  memoryLimitMb?: number;
  /**
   * Runs of a task in all, and the first retry's wait (v2 retries); a task's own `retry` wins.
   * @default { attempts: 1, backoffMs: 1000 } (no retry)
   */
  retry?: { attempts: number; backoffMs?: number };
  /**
   * What the function's workers may reach beyond reading their own folder. Enforced by Deno's
   * worker sandbox; `env` also decides which variables workers see on Node and Bun.
   */
  permissions?: FunctionPermissions;
}

/**
 * Grants for one function: `true` for all, or a list (paths relative to the functions folder,
 * host names for `net`, variable names for `env`). Unset means denied.
 */
export interface FunctionPermissions {
  read?: boolean | string[];
  write?: boolean | string[];
  net?: boolean | string[];
  env?: boolean | string[];
  run?: boolean | string[];
  sys?: boolean | string[];
  ffi?: boolean | string[];
}

/** A function's settings once the runtime's defaults are applied. */
export interface ResolvedFunctionConfig {
  minWorkers: number;
  maxWorkers: number;
  timeoutMs: number;
  maxQueue: number;
  concurrency: number;
  memoryLimitMb: number;
  /** Retries of its tasks unless a task sets its own (v2). */
  retry: RetryPolicy;
  /** Present only when the module's config grants something. */
  permissions?: FunctionPermissions;
}

/**
 * `loading`: found at start and not loaded yet (its tasks wait); `deleted`: answered once by
 * `remove`, after which the function is no longer listed.
 */
export type FunctionStatus = 'ready' | 'unavailable' | 'loading' | 'deleted';

/** What `GET /functions/:name` answers. */
export interface FunctionInfo extends ResolvedFunctionConfig {
  name: string;
  status: FunctionStatus;
  /** Why the function is unavailable (the loader's message). */
  error?: string;
  activeWorkers: number;
  queueSize: number;
  activeTasks: number;
  /** Grows by one with each deploy (or hand edit) of this name; kept across restarts. */
  version?: number;
  /** SHA-256 of the module's source, hex. */
  sha256?: string;
  /** When this version was deployed or found (epoch ms). */
  deployedAt?: number;
  /** Why the last deploy or edit of this name was refused; the version above still serves. */
  lastError?: string;
  /**
   * What the module exports, once loaded: a default function (it runs tasks) and a `fetch`
   * handler (it answers `/fn/<name>/*`).
   */
  exports?: { default: boolean; fetch: boolean };
}

/** One version of a function whose source is kept (`GET /functions/:name/versions`). */
export interface FunctionVersion {
  version: number;
  /** SHA-256 of its source, hex. */
  sha256: string;
  /** When it was last made to serve: deployed, found, edited, or rolled back to (epoch ms). */
  deployedAt: number;
  /** The source's size in UTF-8 bytes. */
  bytes: number;
  language: 'ts' | 'js';
  /** Whether it is the version serving now. */
  serving: boolean;
}

/** A function's kept versions, newest first (the serving one is always among them). */
export interface FunctionVersions {
  name: string;
  /** The version serving now. */
  version: number;
  versions: FunctionVersion[];
}

/** Counters and gauges of one function's pool. */
export interface FunctionStats {
  activeWorkers: number;
  queueSize: number;
  activeTasks: number;
  minWorkers: number;
  maxWorkers: number;
  tasksCompleted: number;
  tasksFailed: number;
  tasksCancelled: number;
  /** Mean run time of finished tasks in ms (0 before the first). */
  avgTaskTime: number;
  /** Cold starts measured: spawn of a worker until it was ready, in ms. */
  coldStarts: number;
  lastColdStartMs?: number;
  /** (activeTasks + queueSize) / (activeWorkers × concurrency): what the scaler acts on. */
  loadRatio: number;
  /** Mean event-loop utilization of its workers, 0-1 (where the host measures it: Node). */
  eventLoopUtilization?: number;
}

export interface PerformanceMetrics {
  tasksCompleted: number;
  tasksFailed: number;
  avgTaskTime: number;
  /** CPU use of the whole process, 0-100 of all cores. */
  cpuUsage: number;
  /** Memory in use, 0-100 of what the process may use. */
  memoryUsage: number;
  /** Share of time the server's event loop was busy, 0-1 (measured where the host supports it). */
  eventLoopUtilization: number;
  /** How late a timer fired on the server's event loop, in ms. */
  eventLoopLagMs: number;
}

/** One decision of the auto-scaler, kept so users can see why a pool has its size. */
export interface ScalingEvent {
  /** Epoch ms. */
  at: number;
  function: string;
  /** `hold`: the pool was loaded but something kept it from growing (the reason says what). */
  action: 'up' | 'down' | 'hold';
  /** Workers before, and after the decision was applied (a spawn counts from its start). */
  from: number;
  to: number;
  /** The rule that fired, with the numbers it saw, and what triggered it (`[tick]`/`[backlog]`). */
  reason: string;
}

/** What `stats()` and `GET /stats` answer. */
export interface PoolStats {
  activeWorkers: number;
  queueSize: number;
  activeTasks: number;
  minWorkers: number;
  maxWorkers: number;
  performanceMetrics: PerformanceMetrics;
  functions: Record<string, FunctionStats>;
  scalingEvents: ScalingEvent[];
}

/** Options of `submit`. */
export interface SubmitOptions {
  /** Client-chosen id (1-128 of `[A-Za-z0-9._:-]`, not dots alone); a UUID otherwise. */
  id?: string;
  /** Run timeout for this task in ms; wins over the function's `config.timeoutMs`. */
  timeoutMs?: number;
  /** Retries for this task (v2); wins over the function's `config.retry`. */
  retry?: { attempts: number; backoffMs?: number };
  /**
   * An idempotency key (v3; 1-255 printable ASCII): a repeat with the same key, function and
   * arguments/options within `idempotencyTtlMs` creates nothing and answers the first task
   * (`isReplay(record)` is then true; `call` waits for that task). The same key with another
   * function or arguments throws `idempotency_key_reused`.
   */
  idempotencyKey?: string;
}

/** A line a function printed, as a live event (`taskId` is absent for an HTTP call). */
export interface LogEvent extends TaskLog {
  taskId?: string;
  function: string;
  /** For an HTTP call to a function's `fetch`: `METHOD /path`. */
  request?: string;
}

/** What `Runtime.subscribe` listeners are told. */
export type RuntimeEvent =
  /** A task changed state (queued, running, terminal); the whole record. */
  | { type: 'task'; data: TaskRecord }
  /** A scaling decision, as kept in `stats().scalingEvents`. */
  | { type: 'scale'; data: ScalingEvent }
  /** Once a second while anyone listens. */
  | { type: 'stats'; data: PoolStats }
  | { type: 'log'; data: LogEvent };

export type RuntimeListener = (event: RuntimeEvent) => void;

/**
 * Whether the runtime serves every function it found at start (`GET /ready`): `loading` names
 * those whose module has not loaded yet (a call to one waits for it), `draining` it shuts down.
 */
export type Readiness =
  | { status: 'ready' }
  | { status: 'loading'; loading: string[] }
  | { status: 'draining' };

/** The in-process API: what the HTTP layer (and any embedding program) calls. */
export interface Runtime {
  /** Every function found, ready or unavailable, sorted by name. */
  functions(): FunctionInfo[];
  /** One function, or `undefined` when there is none of that name. */
  getFunction(name: string): FunctionInfo | undefined;
  /**
   * Queue a task. Throws an `EbbflowError`: `unknown_function`, `invalid_argument` (bad id or
   * timeout), `duplicate_id`, `queue_full` or `draining`. Returns the record, status `queued`
   * (or already `failed` when the function is unavailable).
   */
  submit(name: string, args: unknown[], options?: SubmitOptions): Promise<TaskRecord>;
  /** Submit and resolve with the terminal record. Throws as `submit` does. */
  call(name: string, args: unknown[], options?: SubmitOptions): Promise<TaskRecord>;
  /** A task's record, or `undefined` when the id is unknown or expired. */
  result(id: string): Promise<TaskRecord | undefined>;
  /** Resolve as soon as the task is terminal, or after `ms` with its record as it is then. */
  wait(id: string, ms: number): Promise<TaskRecord | undefined>;
  /**
   * Cancel a queued or running task (a running one's worker is replaced). Throws
   * `unknown_task` or `already_terminal`.
   */
  cancel(id: string): Promise<TaskRecord>;
  /** Records, newest first, filtered (`GET /tasks`). Throws `invalid_argument` for a bad cursor. */
  list(query: TaskQuery): Promise<TaskPage>;
  /**
   * Run a failed or cancelled task again as a new task (`retryOf` set). Throws `unknown_task`,
   * `not_retryable`, `unknown_function`, `queue_full` or `draining`.
   */
  retry(id: string): Promise<TaskRecord>;
  /**
   * Run `name` once through its pool (workers, scaling, timeout, counters) with no backend
   * record: for HTTP-handler calls. Resolves with how the run ended (never rejects for a failed
   * run); throws `unknown_function` or `draining`.
   */
  runEphemeral(name: string, args: unknown[], options?: { timeoutMs?: number }): Promise<RunEnding>;
  /**
   * Deploy `source` as function `name`: written beside the others, loaded and checked, then
   * swapped in (new and queued tasks run on it; running ones finish on the old version). Resolves
   * with its info and whether the name is new; the source that serves already is no new
   * version (`unchanged`). Throws an `EbbflowError`: `invalid_function`
   * (the loader's message; the old version keeps serving), `deploy_unsupported` or `draining`.
   */
  deploy(
    name: string,
    source: string,
    language: 'ts' | 'js',
  ): Promise<{ info: FunctionInfo; created: boolean; unchanged?: boolean }>;
  /**
   * The kept versions of `name`, newest first (the last `keepVersions`, 10 by default, with
   * their sources; the serving one always). Throws `unknown_function`.
   */
  versions(name: string): Promise<FunctionVersions>;
  /**
   * Serve a kept version of `name` again: `version`, or by default the newest kept one older
   * than the version serving. It is loaded and checked like a deploy, written into place, and
   * keeps its number (the next deploy gets a new one). Resolves with its info (and `unchanged`
   * when that version already serves). Throws `unknown_function`, `unknown_version`,
   * `no_previous_version`, `invalid_function`, `deploy_unsupported` or `draining`.
   */
  rollback(name: string, version?: number): Promise<{ info: FunctionInfo; unchanged?: boolean }>;
  /**
   * Delete function `name` and its file: new submissions get `unknown_function` at once, tasks
   * already accepted finish. Resolves with its last info, status `deleted`.
   */
  remove(name: string): Promise<FunctionInfo>;
  /**
   * Resolves once every function found at start has loaded (or failed to) and has a worker
   * ready; its other warm workers (`minWorkers`) may still be starting. `createRuntime` waits
   * for it unless `waitForFunctions` is false: then it serves what is ready first.
   */
  loaded(): Promise<void>;
  /** `ready` once every function found at start has loaded or failed to (`GET /ready`). */
  readiness(): Readiness;
  stats(): PoolStats;
  /**
   * Be told of each scaling decision as it is recorded (the objects of `stats().scalingEvents`);
   * returns the unsubscribe function.
   */
  onScale(listener: (event: ScalingEvent) => void): () => void;
  /**
   * Be told of task state changes, scaling decisions, printed lines and (once a second) stats.
   * Returns the unsubscribe function. Listeners must return quickly. `onClose` is told once
   * when the runtime has shut down (live streams end then, so a server can close).
   */
  subscribe(listener: RuntimeListener, onClose?: () => void): () => void;
  /**
   * Answer an HTTP request with the function's `fetch` export, through its pool (same workers,
   * scaling, timeout and counters as tasks; no record kept). Throws `unknown_function`,
   * `no_fetch_handler`, `queue_full` or `draining`; a handler that throws rejects with
   * `handler_failed`, one past its timeout with `handler_timed_out`.
   */
  handle(name: string, request: Request | HandlerRequest): Promise<Response>;
  /** True once `close()` was called. */
  readonly draining: boolean;
  /**
   * Stop intake, let queued and running work finish for up to `drainTimeoutMs`, fail what is
   * left, then stop every worker. Calling it again while it runs ends the drain at once.
   */
  close(options?: { drainTimeoutMs?: number }): Promise<void>;
}

/**
 * An HTTP request as plain data, which `Runtime.handle` takes beside a `Request`: a server that
 * has the request's parts at hand (the API's `/fn` routes) skips building a `Request` only to
 * read it back; the function still gets a real one, built in its worker.
 */
export interface HandlerRequest {
  url: string;
  method: string;
  headers: [string, string][];
  /** The whole body (none for GET and HEAD). */
  body: ArrayBuffer | null;
}
