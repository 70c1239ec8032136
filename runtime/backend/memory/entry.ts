/**
 * One task as the in-memory backend holds it: mutable only through its own methods, read by
 * callers as `TaskRecord` snapshots built on demand (never on the hot path unless asked for).
 * @module
 */
import type {
  ClaimedTask,
  FailureCode,
  NewTask,
  RetryPolicy,
  TaskEnding,
  TaskLog,
  TaskRecord,
  TaskStatus,
} from '../../types.ts';

type Completed = Extract<TaskEnding, { status: 'completed' }>;
type Failed = Extract<TaskEnding, { status: 'failed' }>;

/** Told once, with the terminal record, when the task ends. */
export type Waiter = (record: TaskRecord) => void;

const NO_ARGS: unknown[] = [];

export class TaskEntry {
  readonly id: string;
  readonly fn: string;
  readonly timeoutMs: number;
  readonly submittedAt: number;
  readonly retry: RetryPolicy;
  readonly retryOf: string | undefined;
  /** Submission order (listing and its cursor). */
  readonly seq: number;
  #version: number | undefined;
  #args: unknown[];
  #status: TaskStatus = 'queued';
  #attempt = 1;
  #startedAt: number | undefined;
  #endedAt: number | undefined;
  /** The backend's clock when the task ended: its time to live counts from here. */
  #settledAt = 0;
  #result: unknown;
  #error: string | undefined;
  #errorCode: FailureCode | undefined;
  #executionTime: number | undefined;
  #workerId: number | undefined;
  #logs: TaskLog[] | undefined;
  #waiters: Waiter[] | undefined;
  #dropped = false;

  constructor(task: NewTask, id: string, now: number, seq: number) {
    this.id = id;
    this.fn = task.function;
    this.timeoutMs = task.timeoutMs;
    this.submittedAt = now;
    this.retry = task.retry;
    this.retryOf = task.retryOf;
    this.seq = seq;
    this.#version = task.version;
    this.#args = task.args;
  }

  get status(): TaskStatus {
    return this.#status;
  }

  get terminal(): boolean {
    return this.#status !== 'queued' && this.#status !== 'running';
  }

  /** The task's arguments; kept after a failure or a cancel (replay), dropped on completion. */
  get args(): unknown[] {
    return this.#args;
  }

  /** The current or last run, from 1. */
  get attempt(): number {
    return this.#attempt;
  }

  get settledAt(): number {
    return this.#settledAt;
  }

  /** Whether the backend let the record go (expired or past the cap). */
  get dropped(): boolean {
    return this.#dropped;
  }

  drop(): void {
    this.#dropped = true;
  }

  /** Hand the task to a worker. */
  claim(workerId: number, now: number): ClaimedTask {
    this.#status = 'running';
    this.#workerId = workerId;
    this.#startedAt = now;
    return {
      id: this.id,
      function: this.fn,
      args: this.#args,
      timeoutMs: this.timeoutMs,
      attempt: this.#attempt,
      submittedAt: this.submittedAt,
    };
  }

  /** It never began: queued again as if never claimed. */
  unstart(): void {
    this.#status = 'queued';
    this.#startedAt = undefined;
    this.#workerId = undefined;
  }

  /** The run failed and another is due: queued again, keeping the failure visible meanwhile. */
  retryLater(ending: Failed): void {
    this.#status = 'queued';
    this.#attempt++;
    this.#error = ending.error;
    this.#errorCode = ending.errorCode;
    this.#logs = ending.logs;
    this.#startedAt = undefined;
    this.#workerId = undefined;
    this.#executionTime = undefined;
  }

  complete(ending: Completed, now: number): void {
    this.#result = ending.result;
    this.#error = undefined;
    this.#errorCode = undefined;
    this.#ran(ending);
    this.#settle('completed', ending.endedAt, now);
  }

  fail(ending: Failed, now: number): void {
    this.#error = ending.error;
    this.#errorCode = ending.errorCode;
    this.#ran(ending);
    this.#settle('failed', ending.endedAt, now);
  }

  cancel(error: string, now: number): void {
    this.#error = error;
    this.#errorCode = undefined;
    this.#settle('cancelled', now, now);
  }

  onSettled(waiter: Waiter): void {
    if (this.#waiters) this.#waiters.push(waiter);
    else this.#waiters = [waiter];
  }

  offSettled(waiter: Waiter): void {
    const at = this.#waiters?.indexOf(waiter) ?? -1;
    if (at >= 0) this.#waiters?.splice(at, 1);
  }

  /** The waiters to tell of the ending (once: they are forgotten here). */
  takeWaiters(): Waiter[] | undefined {
    const waiters = this.#waiters;
    this.#waiters = undefined;
    return waiters;
  }

  toRecord(): TaskRecord {
    const record: TaskRecord = {
      id: this.id,
      function: this.fn,
      status: this.#status,
      submittedAt: this.submittedAt,
      attempt: this.#attempt,
      attempts: this.retry.attempts,
    };
    if (this.#startedAt !== undefined) record.startedAt = this.#startedAt;
    if (this.#status === 'completed') {
      record.completedAt = this.#endedAt;
      if (this.#result !== undefined) record.result = this.#result;
    } else if (this.#status === 'failed') {
      record.failedAt = this.#endedAt;
    } else if (this.#status === 'cancelled') {
      record.cancelledAt = this.#endedAt;
    }
    if (this.#error !== undefined) record.error = this.#error;
    if (this.#errorCode !== undefined) {
      record.errorCode = this.#errorCode;
      if (this.#errorCode === 'timed_out') record.timedOut = true;
    }
    if (this.#executionTime !== undefined) record.executionTime = this.#executionTime;
    if (this.#workerId !== undefined) record.workerId = this.#workerId;
    if (this.retryOf !== undefined) record.retryOf = this.retryOf;
    if (this.#version !== undefined) record.version = this.#version;
    if (this.#logs !== undefined && this.#logs.length > 0) record.logs = this.#logs;
    return record;
  }

  #ran(ending: Completed | Failed): void {
    if (ending.startedAt !== undefined) this.#startedAt = ending.startedAt;
    if (ending.executionTime !== undefined) this.#executionTime = ending.executionTime;
    if (ending.workerId !== undefined) this.#workerId = ending.workerId;
    if (ending.version !== undefined) this.#version = ending.version;
    this.#logs = ending.logs;
  }

  #settle(status: 'completed' | 'failed' | 'cancelled', endedAt: number, now: number): void {
    this.#status = status;
    this.#endedAt = endedAt;
    this.#settledAt = now;
    if (status === 'completed') this.#args = NO_ARGS;
  }
}
