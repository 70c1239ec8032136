/**
 * The runtime's own record of a task. Its state changes only through its methods, each of which
 * checks the move is allowed (the first ending wins); callers get `TaskRecord` snapshots from
 * `toRecord`, so nothing outside can change a task.
 * @module
 */
import type { FailureCode } from './backend/types.ts';
import type { TaskRecord, TaskStatus } from './types.ts';

const NO_ARGS: unknown[] = [];

export type Settled = (task: Task) => void;

/** How a run ended, as far as it is known: when it began inside the worker and how long it ran. */
export interface RunTimes {
  startedAt?: number;
  executionTime?: number;
}

export class Task {
  #status: TaskStatus = 'queued';
  #startedAt?: number;
  #endedAt?: number;
  #result?: unknown;
  #error?: string;
  #errorCode?: FailureCode;
  #executionTime?: number;
  #workerId?: number;
  #version?: number;
  #args: unknown[];
  /** Told once, when the task becomes terminal. */
  #waiters?: Settled[];

  readonly id: string;
  readonly fn: string;
  readonly timeoutMs: number;
  readonly submittedAt: number;

  constructor(id: string, fn: string, args: unknown[], timeoutMs: number, submittedAt: number) {
    this.id = id;
    this.fn = fn;
    this.#args = args;
    this.timeoutMs = timeoutMs;
    this.submittedAt = submittedAt;
  }

  get status(): TaskStatus {
    return this.#status;
  }
  /** Dropped once the task ends, so kept records hold only what callers can read. */
  get args(): unknown[] {
    return this.#args;
  }
  get startedAt(): number | undefined {
    return this.#startedAt;
  }
  /** When the task ended, whichever way. */
  get endedAt(): number | undefined {
    return this.#endedAt;
  }
  get error(): string | undefined {
    return this.#error;
  }
  get errorCode(): FailureCode | undefined {
    return this.#errorCode;
  }
  get workerId(): number | undefined {
    return this.#workerId;
  }
  get result(): unknown {
    return this.#result;
  }
  get executionTime(): number | undefined {
    return this.#executionTime;
  }
  /** The function's version that runs (or will run) it; a deploy moves queued tasks on. */
  get version(): number | undefined {
    return this.#version;
  }

  /** Queued on a version of its function (again, when a new version takes its queue over). */
  assignVersion(version: number | undefined): void {
    if (this.#status === 'queued') this.#version = version;
  }

  get terminal(): boolean {
    return this.#status !== 'queued' && this.#status !== 'running';
  }

  /** Handed to a worker at `at` (its start time until the worker reports the real one). */
  markRunning(workerId: number, at: number): void {
    if (this.#status !== 'queued') return;
    this.#status = 'running';
    this.#workerId = workerId;
    this.#startedAt = at;
  }

  /** Back to the queue: its worker died before it began. */
  requeue(): void {
    if (this.#status !== 'running') return;
    this.#status = 'queued';
    this.#workerId = undefined;
    this.#startedAt = undefined;
  }

  complete(result: unknown, at: number, times: RunTimes): boolean {
    if (this.terminal) return false;
    this.#result = result;
    this.#times(times);
    return this.#end('completed', at);
  }

  fail(code: FailureCode, error: string, at: number, times: RunTimes = {}): boolean {
    if (this.terminal) return false;
    this.#error = error;
    this.#errorCode = code;
    this.#times(times);
    return this.#end('failed', at);
  }

  cancel(reason: string, at: number): boolean {
    if (this.terminal) return false;
    this.#error = reason;
    return this.#end('cancelled', at);
  }

  onSettled(waiter: Settled): void {
    if (this.#waiters) this.#waiters.push(waiter);
    else this.#waiters = [waiter];
  }

  /** Stop telling `waiter` (a long-poll that gave up). */
  offSettled(waiter: Settled): void {
    const at = this.#waiters?.indexOf(waiter) ?? -1;
    if (at >= 0) this.#waiters?.splice(at, 1);
  }

  #times({ startedAt, executionTime }: RunTimes): void {
    if (startedAt !== undefined) this.#startedAt = startedAt;
    if (executionTime !== undefined) this.#executionTime = executionTime;
  }

  #end(status: 'completed' | 'failed' | 'cancelled', at: number): boolean {
    this.#status = status;
    this.#endedAt = at;
    this.#args = NO_ARGS;
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (waiters) for (const waiter of waiters) waiter(this);
    return true;
  }
}

export const toRecord = (task: Task): TaskRecord => {
  const record: TaskRecord = {
    id: task.id,
    function: task.fn,
    status: task.status,
    submittedAt: task.submittedAt,
  };
  if (task.startedAt !== undefined) record.startedAt = task.startedAt;
  if (task.status === 'completed') {
    record.completedAt = task.endedAt;
    if (task.result !== undefined) record.result = task.result;
  } else if (task.status === 'failed') {
    record.failedAt = task.endedAt;
  } else if (task.status === 'cancelled') {
    record.cancelledAt = task.endedAt;
  }
  if (task.error !== undefined) record.error = task.error;
  if (task.errorCode !== undefined) record.errorCode = task.errorCode;
  // Kept for clients of v1; `errorCode` is the truth.
  if (task.errorCode === 'timed_out') record.timedOut = true;
  if (task.executionTime !== undefined) record.executionTime = task.executionTime;
  if (task.workerId !== undefined) record.workerId = task.workerId;
  if (task.version !== undefined) record.version = task.version;
  return record;
};
