/**
 * Where task state lives, behind one async interface: in memory (the default, one process), a
 * Durable Object (Cloudflare Workers), or Redis (several servers).
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
import type {
  ClaimedTask,
  NewTask,
  TaskEnding,
  TaskPage,
  TaskQuery,
  TaskRecord,
} from '../types.ts';

/** Told at each state change of a task (queued included), with its record. */
export type TaskListener = (record: TaskRecord) => void;

export interface TaskBackend {
  /**
   * Whether other servers claim from the same queue (a cluster). Then what waits is the
   * cluster's: a function this server cannot run leaves its tasks to the servers that can.
   */
  readonly shared?: boolean;
  /**
   * Whether records outlive the process (the embedded SQLite store): a shutdown then leaves
   * queued tasks queued for the next start instead of failing them. A `shared` store (Redis)
   * leaves them to the other servers anyway.
   */
  readonly durable?: boolean;
  /** Accept a task (status `queued`). Throws `EbbflowError` `duplicate_id` or `queue_full`. */
  submit(task: NewTask): Promise<TaskRecord>;
  /**
   * Optional: submit and resolve with the task's terminal record (marked with `markReplayed` when
   * a repeated idempotency key named an earlier task), or with the record as it is if the store
   * stops waiting (a shutdown). For a store that can answer an invoke with fewer round trips or
   * commits than `submit` then `wait`; throws as `submit` does.
   */
  invoke?(task: NewTask): Promise<TaskRecord>;
  /**
   * Take up to `max` queued tasks of `fn` to run on this server (status `running`, `workerId`
   * set). Resolves with none when nothing waits. Oldest first; retries whose backoff has not
   * passed are not claimable.
   */
  claim(fn: string, max: number, workerId: number): Promise<ClaimedTask[]>;
  /**
   * Report how a claimed task ended. A failure with a retryable code and attempts left goes back
   * to `queued` (claimable after its backoff); otherwise the record becomes terminal. A task
   * cancelled meanwhile stays cancelled: its late ending is dropped, and a backend that can tell
   * resolves `false` then (the pool takes back what it counted for that ending).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: backends that cannot tell resolve nothing
  finish(id: string, ending: TaskEnding): Promise<boolean | void>;
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
  /**
   * Tasks of `fn` a claim would take now (retries backing off not counted). Optional: without
   * it, `queued` stands in.
   */
  claimable?(fn: string): number;
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
  /**
   * Whether the shared store answered this server's last periodic call (false while it is
   * unreachable or does not answer within its timeout: requests that need it answer 503).
   */
  reachable: boolean;
  /** Servers with a heartbeat in the last few seconds. */
  servers: ClusterServer[];
  queueSize: number;
  activeTasks: number;
  functions: Record<string, ClusterFunction>;
  /** When these figures were read from the backend (ms). */
  at: number;
}
