/**
 * The task rules over SQLite, for any `SqlExecutor`: records, the queue, retries with backoff,
 * waits, cancels, listing, expiry and idempotency keys. Two owners run it: a Durable Object
 * shard at the edge (over `ctx.storage.sql`) and the embedded store (`runtime/backend/sqlite/`,
 * over a file); each runs what it `claim`s and reports with `finish`.
 *
 * The queue is the `queued` rows of a function by `due_at`: a new task is due when submitted, a
 * retry once its backoff is over, and a task that never began goes before every other. The table
 * keeps no timer for a backoff's end, so `onAvailable` does not hear of it: its owner asks
 * `nextDue()` and `due(now)` (an edge shard by its alarm, since a pending timer is lost when the
 * object is evicted; the embedded store by one timer). Times to live count from when the table
 * recorded the end, on its own clock.
 *
 * Every method does its reads and writes synchronously before it returns (the async signatures
 * are the `TaskBackend`'s): an owner that wraps calls in a transaction sees all of a call's
 * writes inside it. The queued counts are kept in memory once read (every change passes here);
 * an owner whose transaction rolled back calls `forget()`.
 * @module
 */
import {
  alreadyTerminal,
  duplicateId,
  notRetryable,
  queueFull,
  unknownCursor,
  unknownTask,
} from '../../errors.ts';
import { type Clock, systemClock } from '../../time/clock.ts';
import type {
  ClaimedTask,
  NewTask,
  TaskEnding,
  TaskOutcome,
  TaskPage,
  TaskQuery,
  TaskRecord,
} from '../../types.ts';
import type { TaskBackend, TaskListener } from '../contract.ts';
import {
  type Idempotency,
  idempotencyKeyReused,
  idempotentTaskExpired,
  markReplayed,
} from '../idempotency.ts';
import { BackendListeners } from '../listeners.ts';
import { pageOf } from '../page-size.ts';
import { retryDelay, shouldRetry } from '../retry.ts';
import type { SqlExecutor } from './executor.ts';
import {
  type KeptRows,
  type ListCursor,
  type RowColumns,
  type TaskRow,
  TaskRows,
} from './task-rows.ts';

export type { ListCursor } from './task-rows.ts';

/** How long finished records stay and how many are kept (an edge shard's share). */
export interface TableLimits {
  ttlMs: number;
  maxResults: number;
}

/** What an owner may add or replace. */
export interface TableOptions {
  /** @default the system clock */
  clock?: Clock;
  /** Retry jitter, [0, 1). @default Math.random */
  random?: () => number;
  /** Where a throwing listener is reported. @default console.error */
  log?: (message: string) => void;
  /** Told of each task that ended, inside the same write (the edge counts outcomes so). */
  ended?: (fn: string, outcome: TaskOutcome, runMs: number | undefined) => void;
  /** Told when a task of `fn` waits until `dueAt` (a retry's backoff): an owner's timer may wake then. */
  deferred?: (fn: string, dueAt: number) => void;
  /** Told of each task inserted, inside the write that inserts it. */
  inserted?: (id: string) => void;
}

/** What a replay of a task runs again. */
export interface ReplaySource {
  function: string;
  args: unknown[];
  timeoutMs: number;
  retry: { attempts: number; backoffMs: number };
}

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

export class SqlTaskTable implements TaskBackend {
  #rows: TaskRows;
  #limits: TableLimits;
  #waiters = new Map<string, Set<(record: TaskRecord) => void>>();
  #listeners: BackendListeners;
  #clock: Clock;
  #random: () => number;
  #ended: TableOptions['ended'];
  #deferredHook: TableOptions['deferred'];
  #insertedHook: TableOptions['inserted'];
  /** Queued tasks per function, counted once and then kept by every change. */
  #queued = new Map<string, number>();
  /** Per function: queued tasks not due yet (backing off), and when the first of them is due. */
  #deferred = new Map<string, { n: number; at: number | undefined }>();
  /**
   * The rows of the tasks running here as their claim wrote them: a run's ending needs no read
   * (a cancel or `forget()` drops the entry, and then the row is read as before).
   */
  #running = new Map<string, TaskRow>();
  /**
   * The ended records and keys as `expire` needs them, once read and then kept by every change
   * (undefined: read them again), so a shard going idle with nothing to drop reads nothing.
   */
  #kept: KeptRows | undefined;

  constructor(sql: SqlExecutor, limits: TableLimits, options: TableOptions = {}) {
    this.#rows = new TaskRows(sql);
    this.#limits = limits;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#ended = options.ended;
    this.#deferredHook = options.deferred;
    this.#insertedHook = options.inserted;
    this.#listeners = new BackendListeners(options.log ?? ((message) => console.error(message)));
  }

  async submit(task: NewTask): Promise<TaskRecord> {
    if (task.idempotency) {
      const earlier = this.reservedKey(task.idempotency);
      if (earlier !== undefined) return this.#repeat(task.idempotency, earlier);
    }
    const record = this.#accepted(task);
    const fn = task.function;
    this.#rows.insert(record, task.args, task.timeoutMs, task.retry.backoffMs);
    this.#count(fn, 1);
    this.#insertedHook?.(record.id);
    if (task.idempotency) this.reserveKey(task.idempotency, fn, record.id);
    this.#changed(record);
    this.#listeners.available(fn);
    return record;
  }

  /**
   * Submit `task` and claim it in the same write, for an owner that runs it at once: it holds a
   * free lane of the function and none of the function's tasks wait here (the caller checks).
   * One row written, where a submit then a claim write it, read the queue and write it again;
   * listeners see it `queued`, then `running`, as they would. Synchronous, so the caller's check
   * and its lane taken hold together. Not for a task with an idempotency key (`submit` it).
   * Returns the task to run and its record as submitted (`queued`, what a submit answers).
   */
  submitRunning(task: NewTask, workerId: number): { claimed: ClaimedTask; submitted: TaskRecord } {
    const queued = this.#accepted(task);
    const record: TaskRecord = { ...queued, status: 'running', startedAt: queued.submittedAt };
    record.workerId = workerId;
    const json = this.#rows.insert(record, task.args, task.timeoutMs, task.retry.backoffMs);
    this.#running.set(record.id, {
      id: record.id,
      fn: record.function,
      status: 'running',
      args: JSON.stringify(task.args),
      timeout_ms: task.timeoutMs,
      backoff_ms: task.retry.backoffMs,
      ended_at: null,
      record: json,
    });
    this.#insertedHook?.(record.id);
    this.#changed(queued);
    this.#changed(record);
    const claimed: ClaimedTask = {
      id: record.id,
      function: record.function,
      args: task.args,
      timeoutMs: task.timeoutMs,
      attempt: 1,
      submittedAt: record.submittedAt,
    };
    return { claimed, submitted: queued };
  }

  /** A new task's record, once its id and its function's queue are checked. */
  #accepted(task: NewTask): TaskRecord {
    const fn = task.function;
    // A chosen id is checked first (an expired record gives its id back); a new UUID cannot clash.
    if (task.id !== undefined && !task.idDrawn && this.#row(task.id)) throw duplicateId(task.id);
    if (this.queued(fn) >= task.maxQueue) throw queueFull(fn, task.maxQueue);
    const record: TaskRecord = {
      id: task.id ?? crypto.randomUUID(),
      function: fn,
      status: 'queued',
      submittedAt: this.#clock.now(),
      attempt: 1,
      attempts: task.retry.attempts,
    };
    if (task.version !== undefined) record.version = task.version;
    if (task.retryOf !== undefined) record.retryOf = task.retryOf;
    return record;
  }

  /**
   * The task an unexpired `key` names, or undefined when it names none. Throws
   * `idempotency_key_reused` when it was used with another fingerprint.
   */
  reservedKey(key: Idempotency): string | undefined {
    const earlier = this.#rows.key(key.key, this.#clock.now());
    if (!earlier) return undefined;
    if (earlier.fingerprint !== key.fingerprint) {
      throw idempotencyKeyReused(key.key, earlier.fn, earlier.task_id);
    }
    return earlier.task_id;
  }

  /** `key` names task `id` of `fn` from now on, for its time to live. */
  reserveKey(key: Idempotency, fn: string, id: string): void {
    const expiresAt = this.#clock.now() + key.ttlMs;
    this.#rows.putKey(key.key, {
      fn,
      task_id: id,
      fingerprint: key.fingerprint,
      expires_at: expiresAt,
    });
    // It may replace an expired use of the key, the first to expire: read again then.
    if (this.#kept && (this.#kept.key ?? Number.POSITIVE_INFINITY) > expiresAt) {
      this.#kept.key = expiresAt;
    } else if (this.#kept?.key !== undefined && this.#kept.key <= this.#clock.now()) {
      this.#kept = undefined;
    }
  }

  /** Forget `key` if it still names task `id` (the task was not created after all). */
  releaseKey(key: Idempotency, id: string): void {
    this.#rows.deleteKey(key.key, id);
    this.#kept = undefined;
  }

  #repeat(key: Idempotency, id: string): TaskRecord {
    const row = this.#row(id);
    if (!row) throw idempotentTaskExpired(key.key, id);
    return markReplayed(JSON.parse(row.record) as TaskRecord);
  }

  async claim(fn: string, max: number, workerId: number): Promise<ClaimedTask[]> {
    const now = this.#clock.now();
    const claimed = this.#rows.claimable(fn, now, max).map((row) => {
      const record = JSON.parse(row.record) as TaskRecord;
      record.status = 'running';
      record.startedAt = now;
      record.workerId = workerId;
      const json = this.#rows.write(record, { due_at: null });
      this.#running.set(row.id, { ...row, status: 'running', record: json });
      this.#changed(record);
      return {
        id: row.id,
        function: fn,
        args: JSON.parse(row.args ?? '[]') as unknown[],
        timeoutMs: row.timeout_ms,
        attempt: record.attempt ?? 1,
        submittedAt: record.submittedAt,
      };
    });
    this.#count(fn, -claimed.length);
    return claimed;
  }

  /** Resolves `false` when the ending was dropped: the task was cancelled or expired meanwhile. */
  async finish(id: string, ending: TaskEnding): Promise<boolean> {
    const row = this.#running.get(id) ?? this.#row(id);
    this.#running.delete(id);
    if (row?.status !== 'running') return false; // cancelled (or expired) meanwhile
    const record = JSON.parse(row.record) as TaskRecord;
    const attempt = record.attempt ?? 1;
    const policy = { attempts: record.attempts ?? 1, backoffMs: row.backoff_ms };
    if (ending.status === 'unstarted') {
      // It never began: before every other queued task of its function, no attempt spent.
      const first = this.#rows.firstDue(row.fn) ?? Number.POSITIVE_INFINITY;
      this.#requeue(row, record, Math.min(first, this.#clock.now()) - 1);
    } else if (ending.status === 'failed' && shouldRetry(ending.errorCode, attempt, policy)) {
      // The failure stays visible until the next run ends.
      record.attempt = attempt + 1;
      record.error = ending.error;
      record.errorCode = ending.errorCode;
      setLogs(record, ending.logs);
      this.#requeue(
        row,
        record,
        this.#clock.now() + retryDelay(row.backoff_ms, attempt, this.#random),
      );
    } else if (ending.status === 'completed') {
      ran(record, ending);
      record.status = 'completed';
      record.completedAt = ending.endedAt;
      record.result = ending.result;
      delete record.error;
      delete record.errorCode;
      // Its args go: only a failed or cancelled task is replayed.
      this.#end(record, 'completed', ending.executionTime, { args: null });
    } else {
      ran(record, ending);
      record.status = 'failed';
      record.failedAt = ending.endedAt;
      record.error = ending.error;
      record.errorCode = ending.errorCode;
      if (ending.errorCode === 'timed_out') record.timedOut = true;
      this.#end(record, ending.errorCode === 'timed_out' ? 'timed_out' : 'failed');
    }
    return true;
  }

  async read(id: string): Promise<TaskRecord | undefined> {
    const row = this.#row(id);
    return row && (JSON.parse(row.record) as TaskRecord);
  }

  async wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    // Read and listen in the same call: its timer starts now, and no ending can slip between.
    const row = this.#row(id);
    const record = row && (JSON.parse(row.record) as TaskRecord);
    if (!record || TERMINAL.has(record.status) || ms <= 0) return record;
    return this.#untilEnd(id, ms);
  }

  /**
   * The record of `id` once it ends, for the owner of a run it started (`submitRunning`): no
   * read now, since the task is known to be live. A retry keeps it waiting; a cancel ends it.
   */
  ending(id: string): Promise<TaskRecord> {
    return this.#untilEnd(id, Number.POSITIVE_INFINITY) as Promise<TaskRecord>;
  }

  /** The record of live task `id` when it ends, or as it is after `ms`. */
  #untilEnd(id: string, ms: number): Promise<TaskRecord | undefined> {
    return new Promise((resolve) => {
      const waiters = this.#waiters.get(id) ?? new Set();
      this.#waiters.set(id, waiters);
      const done = (settled: TaskRecord) => {
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0) this.#waiters.delete(id);
        resolve(settled);
      };
      const timer =
        ms === Number.POSITIVE_INFINITY
          ? undefined
          : this.#clock.setTimeout(async () => {
              waiters.delete(done);
              if (waiters.size === 0) this.#waiters.delete(id);
              resolve(await this.read(id));
            }, ms);
      waiters.add(done);
    });
  }

  async cancel(id: string): Promise<TaskRecord> {
    const row = this.#row(id);
    if (!row) throw unknownTask(id);
    if (TERMINAL.has(row.status)) throw alreadyTerminal(id, row.status);
    const record = JSON.parse(row.record) as TaskRecord;
    const wasRunning = row.status === 'running';
    this.#running.delete(id);
    if (!wasRunning) {
      this.#count(row.fn, -1);
      this.#deferred.delete(row.fn);
    }
    record.status = 'cancelled';
    record.cancelledAt = this.#clock.now();
    record.error = wasRunning
      ? 'cancelled while running'
      : (record.attempt ?? 1) > 1
        ? 'cancelled while waiting for its next attempt'
        : 'cancelled before it started';
    delete record.errorCode;
    this.#end(record, 'cancelled');
    if (wasRunning) this.#listeners.cancelled(id);
    return record;
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    let cursor: ListCursor | undefined;
    if (query.before !== undefined) {
      const from = this.#row(query.before);
      if (!from) throw unknownCursor(query.before);
      cursor = { id: from.id, submittedAt: (JSON.parse(from.record) as TaskRecord).submittedAt };
    }
    // One more than asked: whether another page follows.
    const tasks = this.listAfter({ ...query, limit: query.limit + 1 }, cursor);
    // Cut short by size too (page-size.ts).
    return pageOf(tasks, query.limit);
  }

  /** Live records newest first, strictly older than `cursor` (how shards merge one listing). */
  listAfter(query: Omit<TaskQuery, 'before'>, cursor: ListCursor | undefined): TaskRecord[] {
    return this.#rows.list(query, cursor, this.#clock.now() - this.#limits.ttlMs);
  }

  async replay(id: string, maxQueue: number): Promise<TaskRecord> {
    const row = this.#row(id);
    if (!row) throw unknownTask(id);
    if (row.status !== 'failed' && row.status !== 'cancelled') throw notRetryable(id, row.status);
    const source = this.replaySource(id) as ReplaySource;
    return this.submit({ ...source, retryOf: id, maxQueue });
  }

  /**
   * Drop finished records past their time to live or the cap, and expired idempotency keys: one
   * read when there is nothing to drop.
   */
  async expire(now: number): Promise<void> {
    const endedBy = now - this.#limits.ttlMs;
    const kept = this.#kept ?? this.#rows.kept();
    const nothingDue =
      (kept.first === undefined || kept.first > endedBy) &&
      kept.n <= this.#limits.maxResults &&
      (kept.key === undefined || kept.key > now);
    if (nothingDue) {
      this.#kept = kept;
      return;
    }
    this.#rows.trim(endedBy, this.#limits.maxResults, now, kept);
    this.#kept = undefined;
  }

  queued(fn: string): number {
    let n = this.#queued.get(fn);
    if (n === undefined) {
      n = this.#rows.count('queued', fn);
      this.#queued.set(fn, n);
    }
    return n;
  }

  /** Queued tasks of `fn` that a claim would take now (retries backing off not counted). */
  claimable(fn: string): number {
    const queued = this.queued(fn);
    if (queued === 0) return 0;
    const now = this.#clock.now();
    let deferred = this.#deferred.get(fn);
    if (!deferred || (deferred.at !== undefined && deferred.at <= now)) {
      deferred = this.#rows.deferred(fn, now);
      this.#deferred.set(fn, deferred);
    }
    return queued - deferred.n;
  }

  /** Answer every wait now with its task's record as it is (its owner is shutting down). */
  endWaits(): void {
    for (const [id, waiters] of [...this.#waiters]) {
      const row = this.#rows.get(id);
      if (!row) continue;
      const record = JSON.parse(row.record) as TaskRecord;
      for (const waiter of [...waiters]) waiter(record);
    }
  }

  /** Forget what is kept in memory of the rows (a transaction of the owner rolled back). */
  forget(): void {
    this.#kept = undefined;
    this.#queued.clear();
    this.#deferred.clear();
    this.#running.clear();
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

  async close(): Promise<void> {
    this.#listeners.clear();
  }

  /** Functions with a queued task due by `now`. */
  due(now: number): string[] {
    return this.#rows.due(now);
  }

  /** When the earliest queued task becomes due, if any waits. */
  nextDue(): number | undefined {
    return this.#rows.firstDue();
  }

  /** When the first task backing off by `now` comes due, if any. */
  nextDeferred(now: number): number | undefined {
    return this.#rows.firstDeferred(now);
  }

  /** Functions with a task that came due after `after`, by `now` (backoffs that ended). */
  cameDue(after: number, now: number): string[] {
    return this.#rows.cameDue(after, now);
  }

  /** When the oldest finished record runs out of its time to live, if any is kept. */
  nextExpiry(): number | undefined {
    const ended = this.#rows.firstEnd();
    return ended === undefined ? undefined : ended + this.#limits.ttlMs;
  }

  /** Ids left `running` by an earlier life of the table's owner: their runs were lost with it. */
  running(): string[] {
    return this.#rows.running();
  }

  /** Queued and running tasks by function. */
  live(): { fn: string; status: 'queued' | 'running'; n: number }[] {
    return this.#rows.live();
  }

  /** What a replay of `id` runs again (the caller checked that it exists and may be replayed). */
  replaySource(id: string): ReplaySource | undefined {
    const row = this.#row(id);
    if (!row) return undefined;
    const record = JSON.parse(row.record) as TaskRecord;
    return {
      function: row.fn,
      args: JSON.parse(row.args ?? '[]') as unknown[],
      timeoutMs: row.timeout_ms,
      retry: { attempts: record.attempts ?? 1, backoffMs: row.backoff_ms },
    };
  }

  /** The row of `id`; one past its time to live is dropped on the way. */
  #row(id: string): TaskRow | undefined {
    const row = this.#rows.get(id);
    if (row?.ended_at != null && row.ended_at <= this.#clock.now() - this.#limits.ttlMs) {
      this.#rows.delete(id);
      this.#kept = undefined;
      return undefined;
    }
    return row;
  }

  #count(fn: string, delta: number): void {
    const n = this.#queued.get(fn);
    if (n !== undefined && delta !== 0) this.#queued.set(fn, n + delta);
  }

  /** Queued again (the claim's run is over), claimable from `dueAt`; told at once if due. */
  #requeue(row: TaskRow, record: TaskRecord, dueAt: number): void {
    record.status = 'queued';
    delete record.startedAt;
    delete record.workerId;
    delete record.executionTime;
    this.#rows.write(record, { due_at: dueAt });
    this.#count(row.fn, 1);
    const now = this.#clock.now();
    if (dueAt > now) {
      this.#deferred.delete(row.fn);
      this.#deferredHook?.(row.fn, dueAt);
    }
    this.#changed(record);
    if (dueAt <= now) this.#listeners.available(row.fn);
  }

  /** A terminal record: written, counted, its waiters told; its time to live starts now. */
  #end(record: TaskRecord, outcome: TaskOutcome, runMs?: number, columns: RowColumns = {}): void {
    // A failed or cancelled task keeps its args (bounded by the TTL and the cap): a replay runs them.
    const endedAt = this.#clock.now();
    this.#rows.write(record, { ended_at: endedAt, ...columns });
    if (this.#kept) {
      this.#kept.n++;
      this.#kept.first ??= endedAt;
    }
    this.#ended?.(record.function, outcome, runMs);
    this.#changed(record);
    const waiters = this.#waiters.get(record.id);
    this.#waiters.delete(record.id);
    if (waiters) for (const waiter of waiters) waiter(record);
  }

  #changed(record: TaskRecord): void {
    this.#listeners.changed(record);
  }
}

/** What a finished run reported, onto its record (the claim's values stay where it says none). */
const ran = (record: TaskRecord, ending: Exclude<TaskEnding, { status: 'unstarted' }>): void => {
  if (ending.version !== undefined) record.version = ending.version;
  if (ending.workerId !== undefined) record.workerId = ending.workerId;
  if (ending.startedAt !== undefined) record.startedAt = ending.startedAt;
  if (ending.executionTime !== undefined) record.executionTime = ending.executionTime;
  setLogs(record, ending.logs);
};

/** The logs of the last run, or none. */
const setLogs = (record: TaskRecord, logs: TaskRecord['logs']): void => {
  if (logs && logs.length > 0) record.logs = logs;
  else delete record.logs;
};
