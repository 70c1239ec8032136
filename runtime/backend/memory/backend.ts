/**
 * The in-memory `TaskBackend`: one process's task records, per-function queues, retries with
 * backoff, waits, cancels, listing and replay. The default backend.
 *
 * Usage:
 * ```ts
 * const backend = new MemoryTaskBackend({ ttlMs: 3_600_000, maxFinished: 100_000 });
 * backend.onAvailable((fn) => pools.get(fn)?.dispatch());      // claim when work appears
 * backend.onCancel((id) => stopWorkerRunning(id));
 * const record = backend.submitNow({ function: 'fib', args: [20], timeoutMs: 30_000,
 *   retry: { attempts: 1, backoffMs: 0 }, maxQueue: 10_000 });
 * const [task] = backend.claimNow('fib', 1, workerId);        // status running
 * backend.finishNow(task.id, { status: 'completed', result, startedAt, endedAt, executionTime, workerId });
 * ```
 * Options: `ttlMs` (how long a finished record stays readable), `maxFinished` (finished records
 * kept, oldest finished dropped first), `clock` (`now`, `setTimeout`, `clearTimeout`, optional
 * `unref`; default the real one), `random` (jitter, default `Math.random`) and `log` (where a
 * throwing listener is reported).
 *
 * Semantics worth knowing: `queued(fn)` counts every task with status `queued`, those backing off
 * before a retry included (429s, drain); `claimable(fn)` only what a claim takes now (dispatch).
 * The queue is FIFO by the time a task became claimable, so a retry joins the back once its
 * backoff is over. An `unstarted` ending puts the task at the very front: finish several
 * newest first to keep their order. Listeners and waiters share record objects: read them only.
 *
 * Every `TaskBackend` method resolves at once here. For the hot path, each has a synchronous twin
 * that returns (or throws) directly: `submitNow`, `claimNow`, `finishNow`, `readNow`, `cancelNow`,
 * `listNow`, `replayNow`, plus `callNow` (submit, then the terminal record), `claimable(fn)` and
 * `failQueued(fn, ...)` (memory only). Listeners
 * (`onAvailable`, `onCancel`, `subscribe`) are called synchronously, inside the call that caused
 * them; `onAvailable` after the change's record was built, so a claim inside it is safe.
 * `onEnded(listener)` (memory only) tells each terminal record alone: cheaper than `subscribe`.
 * Record snapshots are built only for the caller that gets one, and for `subscribe` only while
 * someone listens. No timers but one per task backing off before a retry and one per bounded wait.
 * @module
 */
import {
  alreadyTerminal,
  duplicateId,
  notRetryable,
  queueFull,
  unknownTask,
} from '../../errors.ts';
import type {
  ClaimedTask,
  FailureCode,
  NewTask,
  TaskEnding,
  TaskPage,
  TaskQuery,
  TaskRecord,
} from '../../types.ts';
import type { TaskBackend, TaskListener } from '../contract.ts';
import { idempotentTaskExpired, markReplayed } from '../idempotency.ts';
import { retryDelay, shouldRetry } from '../retry.ts';
import { TaskEntry, type Waiter } from './entry.ts';
import { MemoryKeys } from './keys.ts';
import { MemoryListeners } from './listeners.ts';
import { FunctionQueue } from './queue.ts';
import { MemoryRecords } from './records.ts';
import { after, type BackendClock, REAL_CLOCK } from './timers.ts';

export type { BackendClock } from './timers.ts';

export interface MemoryBackendOptions {
  /** How long a finished record stays readable, in ms. */
  ttlMs: number;
  /** Finished records kept at most; the oldest finished go first. */
  maxFinished: number;
  /** @default the real clock (`Date.now`, `setTimeout`) */
  clock?: BackendClock;
  /** Jitter source, [0, 1). @default Math.random */
  random?: () => number;
  /** Where a listener's exception goes (it never breaks the backend). @default console.error */
  log?: (message: string) => void;
}

export class MemoryTaskBackend implements TaskBackend {
  #records: MemoryRecords;
  #queues = new Map<string, FunctionQueue>();
  #keys = new MemoryKeys();
  #seq = 0;
  #listeners: MemoryListeners;
  #clock: BackendClock;
  #random: () => number;

  constructor(options: MemoryBackendOptions) {
    this.#records = new MemoryRecords(options.ttlMs, options.maxFinished);
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#random = options.random ?? Math.random;
    this.#listeners = new MemoryListeners(options.log ?? ((message) => console.error(message)));
  }

  // The TaskBackend interface: each resolves (or rejects) at once with its synchronous twin.
  submit(task: NewTask): Promise<TaskRecord> {
    return settle(() => this.submitNow(task));
  }
  claim(fn: string, max: number, workerId: number): Promise<ClaimedTask[]> {
    return settle(() => this.claimNow(fn, max, workerId));
  }
  finish(id: string, ending: TaskEnding): Promise<void> {
    return settle(() => this.finishNow(id, ending));
  }
  read(id: string): Promise<TaskRecord | undefined> {
    return settle(() => this.readNow(id));
  }
  cancel(id: string): Promise<TaskRecord> {
    return settle(() => this.cancelNow(id));
  }
  list(query: TaskQuery): Promise<TaskPage> {
    return settle(() => this.listNow(query));
  }
  replay(id: string, maxQueue: number): Promise<TaskRecord> {
    return settle(() => this.replayNow(id, maxQueue));
  }
  expire(now: number): Promise<void> {
    return settle(() => {
      this.#records.evict(now);
      this.#keys.evict(now);
    });
  }

  submitNow(task: NewTask): TaskRecord {
    const earlier = this.#earlier(task);
    if (earlier) return markReplayed(earlier.toRecord());
    let record: TaskRecord | undefined;
    this.#accept(task, (entry) => {
      record = entry.toRecord();
      return record;
    });
    return record as TaskRecord;
  }

  /**
   * Submit and resolve with the terminal record: `Runtime.call`'s hot path, which needs no
   * snapshot of the queued record. Throws as `submitNow` does.
   */
  callNow(task: NewTask): Promise<TaskRecord> {
    const entry = this.#earlier(task) ?? this.#accept(task);
    if (entry.terminal) return Promise.resolve(entry.toRecord());
    return new Promise((resolve) => entry.onSettled(resolve));
  }

  /** The task an earlier submission with the same idempotency key created, if any. */
  #earlier(task: NewTask): TaskEntry | undefined {
    const key = task.idempotency;
    if (!key) return undefined;
    const id = this.#keys.taskOf(key, this.#clock.now());
    if (id === undefined) return undefined;
    const entry = this.#get(id);
    if (!entry) throw idempotentTaskExpired(key.key, id);
    return entry;
  }

  // `snapshot` sees the entry queued, before any listener could change it; subscribers share it.
  #accept(task: NewTask, snapshot?: (entry: TaskEntry) => TaskRecord): TaskEntry {
    if (task.id !== undefined && this.#get(task.id)) throw duplicateId(task.id);
    const queue = this.#queue(task.function);
    if (queue.queued >= task.maxQueue) throw queueFull(task.function, task.maxQueue);
    const entry = new TaskEntry(
      task,
      task.id ?? crypto.randomUUID(),
      this.#clock.now(),
      this.#seq++,
    );
    this.#records.add(entry);
    queue.push(entry);
    if (task.idempotency) this.#keys.add(task.idempotency, entry.fn, entry.id, entry.submittedAt);
    this.#listeners.entryChanged(entry, snapshot?.(entry));
    this.#listeners.available(entry.fn);
    return entry;
  }

  claimNow(fn: string, max: number, workerId: number): ClaimedTask[] {
    const queue = this.#queues.get(fn);
    if (!queue || queue.claimable === 0) return [];
    const now = this.#clock.now();
    return queue.take(max, (entry) => {
      const claimed = entry.claim(workerId, now);
      this.#listeners.entryChanged(entry);
      return claimed;
    });
  }

  finishNow(id: string, ending: TaskEnding): void {
    const entry = this.#records.peek(id);
    // Unknown, or cancelled meanwhile: the late ending is dropped.
    if (entry?.status !== 'running') return;
    const queue = this.#queue(entry.fn);
    const now = this.#clock.now();
    if (ending.status === 'unstarted') {
      entry.unstart();
      queue.unshift(entry);
      this.#listeners.entryChanged(entry);
      this.#listeners.available(entry.fn);
    } else if (ending.status === 'completed') {
      entry.complete(ending, now);
      this.#ended(entry, now);
    } else if (shouldRetry(ending.errorCode, entry.attempt, entry.retry)) {
      entry.retryLater(ending);
      queue.backOff(entry, retryDelay(entry.retry.backoffMs, entry.attempt - 1, this.#random));
      this.#listeners.entryChanged(entry);
    } else {
      entry.fail(ending, now);
      this.#ended(entry, now);
    }
  }

  readNow(id: string): TaskRecord | undefined {
    return this.#get(id)?.toRecord();
  }

  wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    const entry = this.#get(id);
    if (!entry) return Promise.resolve(undefined);
    if (entry.terminal || !(ms > 0)) return Promise.resolve(entry.toRecord());
    return new Promise((resolve) => {
      if (ms === Number.POSITIVE_INFINITY) return entry.onSettled(resolve);
      const waiter: Waiter = (record) => {
        stop();
        resolve(record);
      };
      const stop = after(this.#clock, ms, () => {
        entry.offSettled(waiter);
        resolve(this.readNow(id));
      });
      entry.onSettled(waiter);
    });
  }

  cancelNow(id: string): TaskRecord {
    const entry = this.#get(id);
    if (!entry) throw unknownTask(id);
    if (entry.terminal) throw alreadyTerminal(id, entry.status);
    const running = entry.status === 'running';
    if (!running) this.#queue(entry.fn).remove(entry);
    const now = this.#clock.now();
    entry.cancel(
      running
        ? 'cancelled while running'
        : entry.attempt > 1
          ? 'cancelled while waiting for its next attempt'
          : 'cancelled before it started',
      now,
    );
    const record = entry.toRecord();
    this.#ended(entry, now, record);
    if (running) this.#listeners.cancelled(id);
    return record;
  }

  listNow(query: TaskQuery): TaskPage {
    return this.#records.page(query, this.#clock.now());
  }

  replayNow(id: string, maxQueue: number): TaskRecord {
    const old = this.#get(id);
    if (!old) throw unknownTask(id);
    if (old.status !== 'failed' && old.status !== 'cancelled') throw notRetryable(id, old.status);
    return this.submitNow({
      function: old.fn,
      args: old.args,
      timeoutMs: old.timeoutMs,
      retry: old.retry,
      retryOf: old.id,
      maxQueue,
    });
  }

  queued(fn: string): number {
    return this.#queues.get(fn)?.queued ?? 0;
  }

  /** Queued tasks of `fn` that a claim would take now (not backing off). */
  claimable(fn: string): number {
    return this.#queues.get(fn)?.claimable ?? 0;
  }

  /** Entries the queue of `fn` holds, cancelled ones not yet skipped included (bounded). */
  held(fn: string): number {
    return this.#queues.get(fn)?.held ?? 0;
  }

  /**
   * Fail every queued task of `fn`, those backing off included (its module stopped loading, or
   * the runtime shuts down); how many. Running tasks are left to their `finish`.
   */
  failQueued(fn: string, error: string, errorCode: FailureCode): number {
    const queue = this.#queues.get(fn);
    if (!queue || queue.queued === 0) return 0;
    const now = this.#clock.now();
    let failed = 0;
    for (const entry of queue.drain()) {
      entry.fail({ status: 'failed', error, errorCode, endedAt: now }, now);
      this.#ended(entry, now);
      failed++;
    }
    return failed;
  }

  onAvailable(listener: (fn: string) => void): void {
    this.#listeners.onAvailable(listener);
  }

  onCancel(listener: (id: string) => void): void {
    this.#listeners.onCancel(listener);
  }

  subscribe(listener: TaskListener): () => void {
    return this.#listeners.subscribe(listener);
  }

  /**
   * Told once per task as it ends, with its terminal record (memory only): what `subscribe`
   * would tell, without the snapshots of every intermediate state (the metrics' hot path).
   */
  onEnded(listener: TaskListener): () => void {
    return this.#listeners.onEnded(listener);
  }

  close(): Promise<void> {
    for (const queue of this.#queues.values()) queue.close();
    return Promise.resolve();
  }

  #get(id: string): TaskEntry | undefined {
    return this.#records.get(id, this.#clock.now());
  }

  #queue(fn: string): FunctionQueue {
    let queue = this.#queues.get(fn);
    if (!queue) {
      queue = new FunctionQueue(this.#clock, () => this.#listeners.available(fn));
      this.#queues.set(fn, queue);
    }
    return queue;
  }

  /** After an entry became terminal: its time to live starts, and everyone is told. */
  #ended(entry: TaskEntry, now: number, built?: TaskRecord): void {
    this.#records.ended(entry, now);
    this.#listeners.ended(entry, entry.takeWaiters(), built);
  }
}

/** A promise of what `run` returns, rejected with what it throws. */
const settle = <T>(run: () => T): Promise<T> => {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error);
  }
};
