/**
 * Where task state lives, behind one async interface: in memory (the default, one process), a
 * Durable Object (Cloudflare Workers), or Redis through BullMQ (several servers).
 *
 * The backend owns the records, the queue of what waits to run, retries with backoff, waits,
 * cancels, listing and expiry. The runtime's pools only run what they `claim` and report how it
 * ended with `finish`. Everything is async so remote backends fit; the in-memory one resolves at
 * once. A backend never runs function code itself.
 *
 * Lifecycle of one task through the interface:
 * `submit` (queued) → `claim` (running on this server) → `finish` (completed | failed, or back
 * to queued when a retry is due or the task never began) — or `cancel` at any point before the end.
 * @module
 */
import type { TaskRecord, TaskStatus } from '../types.ts';

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

/** Told at each state change of a task (queued included), with its record. */
export type TaskListener = (record: TaskRecord) => void;

export interface TaskBackend {
  /**
   * Whether other servers claim from the same queue (a cluster). Then what waits is the
   * cluster's: a function this server cannot run leaves its tasks to the servers that can.
   */
  readonly shared?: boolean;
  /** Accept a task (status `queued`). Throws `EbbflowError` `duplicate_id` or `queue_full`. */
  submit(task: NewTask): Promise<TaskRecord>;
  /**
   * Take up to `max` queued tasks of `fn` to run on this server (status `running`, `workerId`
   * set). Resolves with none when nothing waits. Oldest first; retries whose backoff has not
   * passed are not claimable.
   */
  claim(fn: string, max: number, workerId: number): Promise<ClaimedTask[]>;
  /**
   * Report how a claimed task ended. A failure with a retryable code and attempts left goes back
   * to `queued` (claimable after its backoff); otherwise the record becomes terminal. A task
   * cancelled meanwhile stays cancelled: its late ending is dropped.
   */
  finish(id: string, ending: TaskEnding): Promise<void>;
  /** A task's record, or undefined when unknown or expired. */
  read(id: string): Promise<TaskRecord | undefined>;
  /**
   * Resolve once the task is terminal, or after `ms` (`Infinity` allowed) with the record as it is
   * then; undefined when unknown or expired.
   */
  wait(id: string, ms: number): Promise<TaskRecord | undefined>;
  /**
   * Cancel a queued or running task. Throws `unknown_task` or `already_terminal`. A running one
   * is reported to the `onCancel` listener of the server that runs it, which stops its worker.
   */
  cancel(id: string): Promise<TaskRecord>;
  /** The newest records first, filtered. */
  list(query: TaskQuery): Promise<TaskPage>;
  /**
   * Run a failed or cancelled task again as a new task (same function and args, `retryOf` set).
   * Throws `unknown_task`, or `not_retryable` (409) when it is not failed or cancelled.
   */
  replay(id: string, maxQueue: number): Promise<TaskRecord>;
  /** Drop records past their time to live or the record cap. Memory backends also do it lazily. */
  expire(now: number): Promise<void>;
  /**
   * Tasks of `fn` waiting to run, across every server sharing this backend. Synchronous: remote
   * backends answer from a count refreshed at least once a second. Drives scaling and 429s.
   */
  queued(fn: string): number;
  /** Told when tasks of `fn` became claimable (a submit, a backoff over, a requeue). */
  onAvailable(listener: (fn: string) => void): void;
  /** Told when a task claimed by this server was cancelled (stop its worker). */
  onCancel(listener: (id: string) => void): void;
  /** Subscribe to every state change; returns the unsubscribe function. */
  subscribe(listener: TaskListener): () => void;
  /** Stop timers and connections. Records are kept by remote backends. */
  close(): Promise<void>;
}

/** One server of a cluster, as its heartbeat says (several servers; `/stats` `cluster`). */
export interface ClusterServer {
  id: string;
  /** Its last heartbeat (ms). */
  lastSeen: number;
  startedAt?: number;
  [detail: string]: unknown;
}

/** One function across every server of a cluster. */
export interface ClusterFunction {
  /** Waiting to run on any server (retries in their backoff included). */
  queued: number;
  /** Running on some server (or held by a lost one until it is found). */
  running: number;
}

/** Totals over every server sharing a backend (`/stats` `cluster`, several servers only). */
export interface ClusterStats {
  /** The answering server's id in the cluster. */
  serverId: string;
  /** Servers with a heartbeat in the last few seconds. */
  servers: ClusterServer[];
  queueSize: number;
  activeTasks: number;
  functions: Record<string, ClusterFunction>;
  /** When these figures were read from the backend (ms). */
  at: number;
}
