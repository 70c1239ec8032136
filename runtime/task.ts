/**
 * The runtime's own record of a task, mutable inside the core; callers get `TaskRecord`
 * snapshots from `toRecord`, so nothing outside can change a task.
 * @module
 */
import type { TaskRecord, TaskStatus } from './types.ts';

const NO_ARGS: unknown[] = [];

export type Settled = (task: Task) => void;

export class Task {
  status: TaskStatus = 'queued';
  startedAt?: number;
  /** When the task ended, whichever way. */
  endedAt?: number;
  result?: unknown;
  error?: string;
  /** Set when the task failed for running past its timeout. */
  timedOut?: boolean;
  executionTime?: number;
  workerId?: number;
  /** The function's version that runs (or will run) it; a deploy moves queued tasks on. */
  version?: number;
  /** Told once, when the task becomes terminal. */
  waiters?: Settled[];

  readonly id: string;
  readonly fn: string;
  /** Dropped once the task ends, so kept records hold only what callers can read. */
  args: unknown[];
  readonly timeoutMs: number;
  readonly submittedAt: number;

  constructor(id: string, fn: string, args: unknown[], timeoutMs: number, submittedAt: number) {
    this.id = id;
    this.fn = fn;
    this.args = args;
    this.timeoutMs = timeoutMs;
    this.submittedAt = submittedAt;
  }

  get terminal(): boolean {
    return this.status !== 'queued' && this.status !== 'running';
  }

  onSettled(waiter: Settled): void {
    if (this.waiters) this.waiters.push(waiter);
    else this.waiters = [waiter];
  }

  /** Ends the task; the first ending wins and later ones are ignored. Returns whether it won. */
  settle(status: 'completed' | 'failed' | 'cancelled', at: number, error?: string): boolean {
    if (this.terminal) return false;
    this.status = status;
    this.endedAt = at;
    if (error !== undefined) this.error = error;
    this.args = NO_ARGS;
    const waiters = this.waiters;
    this.waiters = undefined;
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
  if (task.timedOut) record.timedOut = true;
  if (task.executionTime !== undefined) record.executionTime = task.executionTime;
  if (task.workerId !== undefined) record.workerId = task.workerId;
  if (task.version !== undefined) record.version = task.version;
  return record;
};
