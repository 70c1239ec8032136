/**
 * The task backend of one Durable Object shard, over its SQLite storage (`ctx.storage.sql`,
 * synchronous): records, the queue, retries with backoff, waits, cancels, listing and expiry.
 * The object that owns it runs what it `claim`s and reports with `finish`.
 *
 * The queue is the `queued` rows of a function by `due_at`: a new task is due when submitted, a
 * retry once its backoff is over, and a task that never began goes before every other. The table
 * keeps no timer for a backoff's end, so `onAvailable` does not hear of it: a pending timer is
 * lost when the object is evicted, and from compatibility date 2026-10-01 it keeps the object
 * running (and billed) for the whole wait. The object's alarm, set for `nextDue()`, claims what
 * came due instead. Times to live count from when the table recorded the end, on its own clock.
 * @module
 */
import type { SqlStorage } from '@cloudflare/workers-types/latest/index.ts';
import type { TaskBackend, TaskListener } from '../runtime/backend/contract.ts';
import { BackendListeners } from '../runtime/backend/listeners.ts';
import { pageOf } from '../runtime/backend/page-size.ts';
import { retryDelay, shouldRetry } from '../runtime/backend/retry.ts';
import {
  alreadyTerminal,
  duplicateId,
  notRetryable,
  queueFull,
  unknownCursor,
  unknownTask,
} from '../runtime/errors.ts';
import { type Clock, systemClock } from '../runtime/time/clock.ts';
import type {
  ClaimedTask,
  NewTask,
  TaskEnding,
  TaskOutcome,
  TaskPage,
  TaskQuery,
  TaskRecord,
} from '../runtime/types.ts';
import { noOutcomes, type Outcomes, OutcomeTable } from './outcome-table.ts';
import { type ListCursor, type TaskRow, TaskRows } from './task-rows.ts';

/** How long finished records stay and how many are kept (this shard's share). */
export interface TableLimits {
  ttlMs: number;
  maxResults: number;
}

/** What a test may replace; the Durable Object uses the defaults. */
export interface TableOptions {
  /** @default the system clock */
  clock?: Clock;
  /** Retry jitter, [0, 1). @default Math.random */
  random?: () => number;
  /** Where a throwing listener is reported. @default console.error */
  log?: (message: string) => void;
}

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

export class SqlTaskTable implements TaskBackend {
  #rows: TaskRows;
  #limits: TableLimits;
  #outcomes: OutcomeTable;
  #waiters = new Map<string, Set<(record: TaskRecord) => void>>();
  #listeners: BackendListeners;
  #clock: Clock;
  #random: () => number;

  constructor(sql: SqlStorage, limits: TableLimits, options: TableOptions = {}) {
    this.#rows = new TaskRows(sql);
    this.#limits = limits;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#listeners = new BackendListeners(options.log ?? ((message) => console.error(message)));
    this.#outcomes = new OutcomeTable(sql);
  }

  async submit(task: NewTask): Promise<TaskRecord> {
    const id = task.id ?? crypto.randomUUID();
    if (this.#row(id)) throw duplicateId(id);
    if (this.queued(task.function) >= task.maxQueue) throw queueFull(task.function, task.maxQueue);
    const now = this.#clock.now();
    const record: TaskRecord = {
      id,
      function: task.function,
      status: 'queued',
      submittedAt: now,
      attempt: 1,
      attempts: task.retry.attempts,
    };
    if (task.version !== undefined) record.version = task.version;
    if (task.retryOf !== undefined) record.retryOf = task.retryOf;
    this.#rows.insert(record, task.args, task.timeoutMs, task.retry.backoffMs);
    this.#changed(record);
    this.#listeners.available(task.function);
    return record;
  }

  async claim(fn: string, max: number, workerId: number): Promise<ClaimedTask[]> {
    const now = this.#clock.now();
    return this.#rows.claimable(fn, now, max).map((row) => {
      const record = JSON.parse(row.record) as TaskRecord;
      record.status = 'running';
      record.startedAt = now;
      record.workerId = workerId;
      this.#rows.write(record, { due_at: null });
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
  }

  async finish(id: string, ending: TaskEnding): Promise<void> {
    const row = this.#row(id);
    if (row?.status !== 'running') return; // cancelled (or expired) meanwhile
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
      this.#end(record, 'completed', ending.executionTime);
    } else {
      ran(record, ending);
      record.status = 'failed';
      record.failedAt = ending.endedAt;
      record.error = ending.error;
      record.errorCode = ending.errorCode;
      if (ending.errorCode === 'timed_out') record.timedOut = true;
      this.#end(record, ending.errorCode === 'timed_out' ? 'timed_out' : 'failed');
    }
  }

  async read(id: string): Promise<TaskRecord | undefined> {
    const row = this.#row(id);
    return row && (JSON.parse(row.record) as TaskRecord);
  }

  async wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    const record = await this.read(id);
    if (!record || TERMINAL.has(record.status) || ms <= 0) return record;
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
    // Cut short by size too (runtime/backend/page-size.ts).
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
    const source = this.replaySource(id) as NonNullable<ReturnType<SqlTaskTable['replaySource']>>;
    return this.submit({ ...source, retryOf: id, maxQueue });
  }

  async expire(now: number): Promise<void> {
    this.#rows.trim(now - this.#limits.ttlMs, this.#limits.maxResults);
  }

  queued(fn: string): number {
    return this.#rows.count('queued', fn);
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

  /** When the oldest finished record runs out of its time to live, if any is kept. */
  nextExpiry(): number | undefined {
    const ended = this.#rows.firstEnd();
    return ended === undefined ? undefined : ended + this.#limits.ttlMs;
  }

  /** Ids left `running` by an earlier life of the object: their runs were lost with it. */
  running(): string[] {
    return this.#rows.running();
  }

  /** Tasks of `fn` running now. */
  runningCount(fn: string): number {
    return this.#rows.count('running', fn);
  }

  /** What a replay of `id` runs again (the caller checked that it exists and may be replayed). */
  replaySource(id: string):
    | {
        function: string;
        args: unknown[];
        timeoutMs: number;
        retry: { attempts: number; backoffMs: number };
      }
    | undefined {
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

  /** Per function: queued and running counts, and the outcomes so far. */
  counts(): Record<string, { queued: number; running: number } & Outcomes> {
    const out: Record<string, { queued: number; running: number } & Outcomes> = {};
    for (const [fn, outcomes] of Object.entries(this.#outcomes.read())) {
      out[fn] = { queued: 0, running: 0, ...outcomes };
    }
    for (const row of this.#rows.live()) {
      const entry = out[row.fn] ?? { queued: 0, running: 0, ...noOutcomes() };
      out[row.fn] = entry;
      if (row.status === 'queued') entry.queued = row.n;
      else entry.running = row.n;
    }
    return out;
  }

  /** The row of `id`; one past its time to live is dropped on the way. */
  #row(id: string): TaskRow | undefined {
    const row = this.#rows.get(id);
    if (row?.ended_at != null && row.ended_at <= this.#clock.now() - this.#limits.ttlMs) {
      this.#rows.delete(id);
      return undefined;
    }
    return row;
  }

  /** Queued again (the claim's run is over), claimable from `dueAt`; told at once if due. */
  #requeue(row: TaskRow, record: TaskRecord, dueAt: number): void {
    record.status = 'queued';
    delete record.startedAt;
    delete record.workerId;
    delete record.executionTime;
    this.#rows.write(record, { due_at: dueAt });
    this.#changed(record);
    if (dueAt <= this.#clock.now()) this.#listeners.available(row.fn);
  }

  /** A terminal record: written, counted, its waiters told; its time to live starts now. */
  #end(record: TaskRecord, outcome: TaskOutcome, runMs?: number): void {
    // Args stay (bounded by the TTL and the cap): a replay runs them again.
    this.#rows.write(record, { ended_at: this.#clock.now() });
    this.#outcomes.record(record.function, outcome, runMs);
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
