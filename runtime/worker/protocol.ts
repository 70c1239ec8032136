/**
 * The contract between the pool and the code inside a worker. The pool calls these methods
 * through comlink; nothing else crosses the boundary.
 * @module
 */

/**
 * One task handed to a worker. `slot` indexes the worker's shared timing table. With `request`
 * it is an HTTP call to the module's `fetch` export rather than a call of its default export.
 */
export interface TaskMessage {
  slot: number;
  args: unknown[];
  request?: WireRequest;
}

/** A `Request` as it crosses to the worker: plain data, the body as bytes. */
export interface WireRequest {
  url: string;
  method: string;
  headers: [string, string][];
  body: ArrayBuffer | null;
}

/** A `Response` as it comes back from the worker (the body's buffer is transferred). */
export interface WireResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: ArrayBuffer | null;
}

/** One line a function printed with `console.*` while it ran a task. */
export interface LogEntry {
  at: number;
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  message: string;
}

/** Why a task failed inside the worker (the pool cannot tell these apart from the message). */
export type WorkerFailure = 'function_threw' | 'result_not_serializable' | 'result_too_large';

/** Bounds the worker holds its tasks to before it sends their outcomes. */
export interface WorkerLimits {
  /** A result whose JSON is larger (UTF-8 bytes) fails with `result_too_large`. */
  maxResultBytes: number;
}

/**
 * The worker's answer about a task the pool withdrew (`PortMessage` `skip`, or the withdrawn
 * mark in its timing cell): `withdrawn`, it never began and never will; `began`, too late, it
 * began before the word came. Only `withdrawn` lets the worker stay (worker-handle.ts).
 */
export type WithdrawReply = 'withdrawn' | 'began';

/** How one task ended inside the worker. Times are epoch milliseconds. */
export type Outcome =
  | { ok: true; value: unknown; start: number; time: number; logs?: LogEntry[] }
  | {
      ok: false;
      error: string;
      code: WorkerFailure;
      start: number;
      time: number;
      logs?: LogEntry[];
    };

/**
 * An outcome as it travels on the results port: `[slot, ok, value or error, start, time, code,
 * logs]` (`code` only on a failure, `logs` only when the task printed). Each is posted the moment
 * its task ends, so a worker that dies later loses no finished result.
 */
export type OutcomeMessage = [
  slot: number,
  ok: boolean,
  payload: unknown,
  start: number,
  time: number,
  code?: WorkerFailure | WithdrawReply,
  logs?: LogEntry[],
];

/**
 * Posted on the results port beside outcomes when the worker's JavaScript heap and buffers
 * together passed its memory limit (Node: `memoryLimitMb` bounds both, see serve.ts); the pool
 * then stops the worker with `out_of_memory`.
 */
export interface MemoryReport {
  memoryBytes: number;
  limitMb: number;
}

/** What the worker posts on the results port. */
export type ResultsMessage = OutcomeMessage | MemoryReport;

/**
 * What the pool posts on the port it hands over in `init`, in order: a batch to run, or a task of
 * an earlier batch withdrawn before it began. Outcomes come back on the same port.
 */
export type PortMessage = TaskMessage[] | { skip: number };

export interface InitReply {
  /** The module's `config` export as found (validated by the pool, not here). */
  config: unknown;
  /** Whether the module exports a default function (tasks) and a `fetch` function (HTTP). */
  exports: { default: boolean; fetch: boolean };
}

/**
 * What a host's worker entry can hand `serveWorker` beyond the module: an async context that
 * follows a task through its awaits (Node, Deno and Bun all have `AsyncLocalStorage` in
 * `node:async_hooks`; the worker code stays host-free, so the entry brings it).
 */
export interface TaskContext {
  run<T>(store: object, fn: () => T): T;
  get(): object | undefined;
}

export interface WorkerApi {
  /**
   * Attach the shared timing table and the results port, then load the function module (so no
   * function code runs before the worker holds what it reports with). The table has two float64
   * per slot, `[startedAt, endedAt]`, written by the worker so the pool can account for tasks
   * without a message per start; the pool trusts a start only within the bounds its own clock
   * sets (worker-handle.ts), so no value written there can extend a deadline. Rejects with the loader's message. From then on the
   * pool posts its batches and withdrawals (`PortMessage`) on `results` too, handled as `run`
   * and `skip` handle them: the hot path skips comlink's per-call id, proxy and reply, and a
   * withdrawal can never overtake its batch. `limits` bound what its tasks send back.
   */
  init(
    timings: SharedArrayBuffer | null,
    concurrency: number,
    results: MessagePort,
    limits?: WorkerLimits,
  ): Promise<InitReply>;
  /**
   * Queue a batch of tasks (run up to `concurrency` at once); each outcome is posted on the
   * results port as an `OutcomeMessage` when its task ends. (The pool posts batches on the port;
   * `run` and `skip` stay callable through comlink, e.g. by bench/host-cold-start.ts.)
   */
  run(batch: TaskMessage[]): void;
  /**
   * The task in `slot` was cancelled: if it has not begun, it never will, and the worker answers
   * `withdrawn`; one that has begun gets `began`, and the pool stops the worker.
   */
  skip(slot: number): void;
}

/** Float64 cells per slot in the timing table. */
export const TIMING_CELLS = 2;

/**
 * What the pool writes in a slot's start cell to withdraw a task the worker holds but may not
 * have begun: a worker about to begin it sees the mark and skips it instead (the `skip` message
 * may still be queued behind the task that held the worker).
 */
export const WITHDRAWN = -1;
