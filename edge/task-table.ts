/**
 * The task backend of one Durable Object shard, over its SQLite storage (`ctx.storage.sql`,
 * synchronous): records, the queue, retries with backoff, waits, cancels, listing and expiry.
 * The object that owns it runs what it `claim`s and reports with `finish`.
 * @module
 */
import type { SqlStorage } from '@cloudflare/workers-types/latest/index.ts';
import type { TaskBackend, TaskListener } from '../runtime/backend/contract.ts';
import {
  alreadyTerminal,
  duplicateId,
  EbbflowError,
  queueFull,
  unknownTask,
} from '../runtime/errors.ts';
import {
  type ClaimedTask,
  type NewTask,
  RETRYABLE,
  type TaskEnding,
  type TaskOutcome,
  type TaskPage,
  type TaskQuery,
  type TaskRecord,
} from '../runtime/types.ts';
import { noOutcomes, type Outcomes, OutcomeTable } from './outcome-table.ts';

/** How long finished records stay and how many are kept (this shard's share). */
export interface TableLimits {
  ttlMs: number;
  maxResults: number;
}

/** Where a listing continues: the record the previous page ended with. */
export interface ListCursor {
  submittedAt: number;
  id: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  fn TEXT NOT NULL,
  status TEXT NOT NULL,
  submitted_at INTEGER NOT NULL,
  due_at INTEGER,
  ended_at INTEGER,
  args TEXT,
  timeout_ms INTEGER NOT NULL,
  backoff_ms INTEGER NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_queue ON tasks (status, fn, due_at);
CREATE INDEX IF NOT EXISTS tasks_newest ON tasks (submitted_at, id);
CREATE INDEX IF NOT EXISTS tasks_ended ON tasks (ended_at);`;

interface Row extends Record<string, SqlStorageValue> {
  id: string;
  fn: string;
  status: string;
  args: string | null;
  timeout_ms: number;
  backoff_ms: number;
  record: string;
}
type SqlStorageValue = ArrayBuffer | string | number | null;

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

export class SqlTaskTable implements TaskBackend {
  #sql: SqlStorage;
  #limits: TableLimits;
  #outcomes: OutcomeTable;
  #waiters = new Map<string, Set<(record: TaskRecord) => void>>();
  #listeners = new Set<TaskListener>();
  #available = new Set<(fn: string) => void>();
  #cancelled = new Set<(id: string) => void>();

  constructor(sql: SqlStorage, limits: TableLimits) {
    this.#sql = sql;
    this.#limits = limits;
    sql.exec(SCHEMA);
    this.#outcomes = new OutcomeTable(sql);
  }

  async submit(task: NewTask): Promise<TaskRecord> {
    const id = task.id ?? crypto.randomUUID();
    if (this.#row(id)) throw duplicateId(id);
    if (this.queued(task.function) >= task.maxQueue) throw queueFull(task.function, task.maxQueue);
    const now = Date.now();
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
    this.#sql.exec(
      `INSERT INTO tasks (id, fn, status, submitted_at, due_at, args, timeout_ms, backoff_ms, record)
       VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?)`,
      id,
      task.function,
      now,
      now,
      JSON.stringify(task.args),
      task.timeoutMs,
      task.retry.backoffMs,
      JSON.stringify(record),
    );
    this.#changed(record);
    for (const listener of this.#available) listener(task.function);
    return record;
  }

  async claim(fn: string, max: number, workerId: number): Promise<ClaimedTask[]> {
    const now = Date.now();
    const rows = this.#sql
      .exec<Row>(
        `SELECT * FROM tasks WHERE status = 'queued' AND fn = ? AND due_at <= ?
         ORDER BY due_at, seq LIMIT ?`,
        fn,
        now,
        max,
      )
      .toArray();
    return rows.map((row) => {
      const record = JSON.parse(row.record) as TaskRecord;
      // `attempt` counts runs begun: the first claim keeps 1, a retry's claim moves it on.
      if (record.status === 'queued' && record.startedAt !== undefined) {
        record.attempt = (record.attempt ?? 1) + 1;
      }
      record.status = 'running';
      record.startedAt = now;
      record.workerId = workerId;
      this.#write(row.id, record, { status: 'running', due_at: null });
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
    if (ending.status === 'unstarted') {
      // It never began: back to the front, this attempt not spent.
      delete record.startedAt;
      delete record.workerId;
      this.#requeue(row, record, 0);
      return;
    }
    if (ending.version !== undefined) record.version = ending.version;
    if (ending.logs && ending.logs.length > 0) record.logs = ending.logs;
    if (ending.workerId !== undefined) record.workerId = ending.workerId;
    if (ending.startedAt !== undefined) record.startedAt = ending.startedAt;
    if (ending.executionTime !== undefined) record.executionTime = ending.executionTime;
    if (ending.status === 'completed') {
      record.status = 'completed';
      record.completedAt = ending.endedAt;
      record.result = ending.result;
      this.#end(record, ending.endedAt, 'completed', ending.executionTime);
      return;
    }
    const attempt = record.attempt ?? 1;
    if (RETRYABLE.has(ending.errorCode) && attempt < (record.attempts ?? 1)) {
      // Kept as the reason of the last run until the next one ends.
      record.error = ending.error;
      record.errorCode = ending.errorCode;
      this.#requeue(row, record, backoff(row.backoff_ms, attempt));
      return;
    }
    record.status = 'failed';
    record.failedAt = ending.endedAt;
    record.error = ending.error;
    record.errorCode = ending.errorCode;
    if (ending.errorCode === 'timed_out') record.timedOut = true;
    this.#end(record, ending.endedAt, ending.errorCode === 'timed_out' ? 'timed_out' : 'failed');
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
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0) this.#waiters.delete(id);
        resolve(settled);
      };
      const timer =
        ms === Number.POSITIVE_INFINITY
          ? undefined
          : setTimeout(async () => {
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
    record.cancelledAt = Date.now();
    record.error = 'cancelled by request';
    this.#end(record, record.cancelledAt, 'cancelled');
    if (wasRunning) for (const listener of this.#cancelled) listener(id);
    return record;
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    const cursorRow = query.before === undefined ? undefined : this.#row(query.before);
    const cursor = cursorRow && {
      id: cursorRow.id,
      submittedAt: (JSON.parse(cursorRow.record) as TaskRecord).submittedAt,
    };
    const tasks = this.listAfter(query, cursor);
    const last = tasks.at(-1);
    return tasks.length === query.limit && last ? { tasks, next: last.id } : { tasks };
  }

  /** Newest first, strictly older than `cursor` when given (how shards merge one listing). */
  listAfter(query: Omit<TaskQuery, 'before'>, cursor: ListCursor | undefined): TaskRecord[] {
    const where: string[] = [];
    const params: SqlStorageValue[] = [];
    if (query.function !== undefined) where.push('fn = ?') && params.push(query.function);
    if (query.status !== undefined) where.push('status = ?') && params.push(query.status);
    if (cursor) {
      where.push('(submitted_at < ? OR (submitted_at = ? AND id < ?))');
      params.push(cursor.submittedAt, cursor.submittedAt, cursor.id);
    }
    const sql = `SELECT record FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY submitted_at DESC, id DESC LIMIT ?`;
    return this.#sql
      .exec<{ record: string }>(sql, ...params, query.limit)
      .toArray()
      .map((row) => JSON.parse(row.record) as TaskRecord);
  }

  async replay(id: string, maxQueue: number): Promise<TaskRecord> {
    const row = this.#row(id);
    if (!row) throw unknownTask(id);
    if (row.status !== 'failed' && row.status !== 'cancelled') {
      throw new EbbflowError(
        'not_retryable',
        `task "${id}" is ${row.status}; only a failed or cancelled task can be run again`,
      );
    }
    const source = this.replaySource(id) as NonNullable<ReturnType<SqlTaskTable['replaySource']>>;
    return this.submit({ ...source, retryOf: id, maxQueue });
  }

  async expire(now: number): Promise<void> {
    this.#sql.exec(
      `DELETE FROM tasks WHERE ended_at IS NOT NULL AND ended_at <= ?`,
      now - this.#limits.ttlMs,
    );
    this.#sql.exec(
      `DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks WHERE ended_at IS NOT NULL
       ORDER BY ended_at DESC LIMIT -1 OFFSET ?)`,
      this.#limits.maxResults,
    );
  }

  queued(fn: string): number {
    return this.#sql
      .exec<{ n: number }>(`SELECT count(*) AS n FROM tasks WHERE status = 'queued' AND fn = ?`, fn)
      .one().n;
  }

  onAvailable(listener: (fn: string) => void): void {
    this.#available.add(listener);
  }

  onCancel(listener: (id: string) => void): void {
    this.#cancelled.add(listener);
  }

  subscribe(listener: TaskListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }

  /** Functions with a queued task due by `now`. */
  due(now: number): string[] {
    return this.#sql
      .exec<{ fn: string }>(
        `SELECT DISTINCT fn FROM tasks WHERE status = 'queued' AND due_at <= ?`,
        now,
      )
      .toArray()
      .map((row) => row.fn);
  }

  /** When the earliest queued task becomes due, if any waits. */
  nextDue(): number | undefined {
    const row = this.#sql
      .exec<{ at: number | null }>(`SELECT min(due_at) AS at FROM tasks WHERE status = 'queued'`)
      .one();
    return row.at ?? undefined;
  }

  /** When the oldest finished record runs out of its time to live, if any is kept. */
  nextExpiry(): number | undefined {
    const row = this.#sql
      .exec<{ at: number | null }>(
        'SELECT min(ended_at) AS at FROM tasks WHERE ended_at IS NOT NULL',
      )
      .one();
    return row.at === null ? undefined : row.at + this.#limits.ttlMs;
  }

  /** Ids left `running` by an earlier life of the object: their runs were lost with it. */
  running(): string[] {
    return this.#sql
      .exec<{ id: string }>(`SELECT id FROM tasks WHERE status = 'running'`)
      .toArray()
      .map((row) => row.id);
  }

  /** Tasks of `fn` running now. */
  runningCount(fn: string): number {
    return this.#sql
      .exec<{ n: number }>(
        `SELECT count(*) AS n FROM tasks WHERE status = 'running' AND fn = ?`,
        fn,
      )
      .one().n;
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
    for (const row of this.#sql.exec<{ fn: string; status: string; n: number }>(
      `SELECT fn, status, count(*) AS n FROM tasks WHERE status IN ('queued', 'running')
       GROUP BY fn, status`,
    )) {
      const entry = out[row.fn] ?? { queued: 0, running: 0, ...noOutcomes() };
      out[row.fn] = entry;
      if (row.status === 'queued') entry.queued = row.n;
      else entry.running = row.n;
    }
    return out;
  }

  #row(id: string): Row | undefined {
    const row = this.#sql
      .exec<Row & { ended_at: number | null }>('SELECT * FROM tasks WHERE id = ?', id)
      .toArray()[0];
    if (row?.ended_at != null && row.ended_at <= Date.now() - this.#limits.ttlMs) {
      this.#sql.exec('DELETE FROM tasks WHERE id = ?', id);
      return undefined;
    }
    return row;
  }

  #write(id: string, record: TaskRecord, columns: Record<string, SqlStorageValue>): void {
    const names = Object.keys(columns);
    this.#sql.exec(
      `UPDATE tasks SET record = ?${names.map((n) => `, ${n} = ?`).join('')} WHERE id = ?`,
      JSON.stringify(record),
      ...Object.values(columns),
      id,
    );
  }

  #requeue(row: Row, record: TaskRecord, delayMs: number): void {
    record.status = 'queued';
    delete record.workerId;
    this.#write(row.id, record, { status: 'queued', due_at: Date.now() + delayMs });
    this.#changed(record);
    if (delayMs <= 0) for (const listener of this.#available) listener(row.fn);
  }

  /** A terminal record: written, counted, its args dropped, its waiters told. */
  #end(record: TaskRecord, at: number, outcome: TaskOutcome, runMs?: number): void {
    // Args stay (bounded by the TTL and the cap): a replay runs them again.
    this.#write(record.id, record, { status: record.status, ended_at: at });
    this.#outcomes.record(record.function, outcome, runMs);
    this.#changed(record);
    const waiters = this.#waiters.get(record.id);
    this.#waiters.delete(record.id);
    if (waiters) for (const waiter of waiters) waiter(record);
  }

  #changed(record: TaskRecord): void {
    for (const listener of this.#listeners) listener(record);
  }
}

/** The n-th retry waits `backoffMs × 2^(n-1)` plus up to 20 % jitter, never less. */
const backoff = (backoffMs: number, attempt: number): number => {
  const base = backoffMs * 2 ** (attempt - 1);
  return Math.round(base * (1 + Math.random() * 0.2));
};
