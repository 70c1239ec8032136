/**
 * The rows of a task table in SQLite: the schema and every query, and no rule of a task's life
 * (those are `SqlTaskTable`'s). One module for both executors: a Durable Object's storage (the
 * edge) and the embedded store's file. A row keeps the record as JSON beside the columns that
 * the queue (`status`, `fn`, `due_at`), the listing (`submitted_at`, `id`) and expiry
 * (`ended_at`, on the table's clock) search by. Idempotency keys have a table of their own: a
 * key outlives its task's record (`EBBFLOW_IDEMPOTENCY_TTL_MS` against `EBBFLOW_RESULT_TTL_MS`).
 * @module
 */
import type { TaskQuery, TaskRecord, TaskStatus } from '../../types.ts';
import type { SqlExecutor, SqlValue } from './executor.ts';

/** One statement each: not every executor runs several in one call. */
export const SCHEMA: readonly string[] = [
  // seq orders tasks due at the same time; a plain rowid (no AUTOINCREMENT, which costs a write
  // of its own per insert) is always above every row there, which is all that order needs.
  `CREATE TABLE IF NOT EXISTS tasks (
  seq INTEGER PRIMARY KEY,
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
)`,
  'CREATE INDEX IF NOT EXISTS tasks_queue ON tasks (status, fn, due_at)',
  'CREATE INDEX IF NOT EXISTS tasks_newest ON tasks (submitted_at, id)',
  'CREATE INDEX IF NOT EXISTS tasks_ended ON tasks (ended_at)',
  `CREATE TABLE IF NOT EXISTS idempotency_keys (
  key TEXT PRIMARY KEY,
  fn TEXT NOT NULL,
  task_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  expires_at INTEGER NOT NULL
)`,
  'CREATE INDEX IF NOT EXISTS idempotency_expiry ON idempotency_keys (expires_at)',
];

export interface TaskRow {
  id: string;
  fn: string;
  status: TaskStatus;
  args: string | null;
  timeout_ms: number;
  backoff_ms: number;
  ended_at: number | null;
  record: string;
}

/** What an idempotency key was first used for. */
export interface KeyRow {
  fn: string;
  task_id: string;
  fingerprint: string;
  expires_at: number;
}

/** The kept records that ended and the idempotency keys, as expiry needs them. */
export interface KeptRows {
  /** Records that ended (their count). */
  n: number;
  /** When the first of them ended. */
  first: number | undefined;
  /** When the first idempotency key expires. */
  key: number | undefined;
}

/** Where a listing continues: the record the previous page ended with. */
export interface ListCursor {
  submittedAt: number;
  id: string;
}

/** Columns a state change sets beside the record and its status. */
export interface RowColumns {
  due_at?: number | null;
  ended_at?: number;
  /** Dropped (null) once a task completed: only failed and cancelled ones are replayed. */
  args?: null;
}

export class TaskRows {
  #sql: SqlExecutor;

  constructor(sql: SqlExecutor) {
    this.#sql = sql;
    for (const statement of SCHEMA) sql.run(statement);
  }

  get(id: string): TaskRow | undefined {
    return this.#sql.one<TaskRow>('SELECT * FROM tasks WHERE id = ?', id);
  }

  delete(id: string): void {
    this.#sql.run('DELETE FROM tasks WHERE id = ?', id);
  }

  /**
   * A new task (its id checked free by the caller), queued and due at once or already running;
   * the record as written.
   */
  insert(record: TaskRecord, args: unknown[], timeoutMs: number, backoffMs: number): string {
    const json = JSON.stringify(record);
    this.#sql.run(
      `INSERT INTO tasks (id, fn, status, submitted_at, due_at, args, timeout_ms, backoff_ms, record)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      record.id,
      record.function,
      record.status,
      record.submittedAt,
      record.status === 'queued' ? record.submittedAt : null,
      JSON.stringify(args),
      timeoutMs,
      backoffMs,
      json,
    );
    return json;
  }

  /** Store `record` with its status, and the columns it changes; the record as written. */
  write(record: TaskRecord, columns: RowColumns): string {
    const names = Object.keys(columns);
    const json = JSON.stringify(record);
    this.#sql.run(
      `UPDATE tasks SET record = ?, status = ?${names.map((n) => `, ${n} = ?`).join('')}
       WHERE id = ?`,
      json,
      record.status,
      ...(Object.values(columns) as SqlValue[]),
      record.id,
    );
    return json;
  }

  /** Up to `max` queued rows of `fn` due by `now`, the first due first (then the oldest). */
  claimable(fn: string, now: number, max: number): TaskRow[] {
    return this.#sql.all<TaskRow>(
      `SELECT * FROM tasks WHERE status = 'queued' AND fn = ? AND due_at <= ?
       ORDER BY due_at, seq LIMIT ?`,
      fn,
      now,
      max,
    );
  }

  count(status: TaskStatus, fn: string): number {
    return (
      this.#sql.one<{ n: number }>(
        'SELECT count(*) AS n FROM tasks WHERE status = ? AND fn = ?',
        status,
        fn,
      )?.n ?? 0
    );
  }

  /** Queued tasks of `fn` not due by `now` (retries backing off), and when the first is due. */
  deferred(fn: string, now: number): { n: number; at: number | undefined } {
    const row = this.#sql.one<{ n: number; at: number | null }>(
      `SELECT count(*) AS n, min(due_at) AS at FROM tasks
       WHERE status = 'queued' AND fn = ? AND due_at > ?`,
      fn,
      now,
    );
    return { n: row?.n ?? 0, at: row?.at ?? undefined };
  }

  /** When the first queued task (of `fn`, or of any function) is due, if any waits. */
  firstDue(fn?: string): number | undefined {
    const row =
      fn === undefined
        ? this.#sql.one<{ at: number | null }>(
            `SELECT min(due_at) AS at FROM tasks WHERE status = 'queued'`,
          )
        : this.#sql.one<{ at: number | null }>(
            `SELECT min(due_at) AS at FROM tasks WHERE status = 'queued' AND fn = ?`,
            fn,
          );
    return row?.at ?? undefined;
  }

  /** Functions with a queued task due by `now`. */
  due(now: number): string[] {
    return this.#sql
      .all<{ fn: string }>(
        `SELECT DISTINCT fn FROM tasks WHERE status = 'queued' AND due_at <= ?`,
        now,
      )
      .map((row) => row.fn);
  }

  /** When the first queued task not due by `now` is due (the next backoff to end), if any. */
  firstDeferred(now: number): number | undefined {
    return (
      this.#sql.one<{ at: number | null }>(
        `SELECT min(due_at) AS at FROM tasks WHERE status = 'queued' AND due_at > ?`,
        now,
      )?.at ?? undefined
    );
  }

  /** Functions with a queued task that came due after `after`, by `now`. */
  cameDue(after: number, now: number): string[] {
    return this.#sql
      .all<{ fn: string }>(
        `SELECT DISTINCT fn FROM tasks WHERE status = 'queued' AND due_at > ? AND due_at <= ?`,
        after,
        now,
      )
      .map((row) => row.fn);
  }

  /** When the first kept record ended, if any. */
  firstEnd(): number | undefined {
    return (
      this.#sql.one<{ at: number | null }>(
        'SELECT min(ended_at) AS at FROM tasks WHERE ended_at IS NOT NULL',
      )?.at ?? undefined
    );
  }

  /** Ids of the running tasks. */
  running(): string[] {
    return this.#sql
      .all<{ id: string }>(`SELECT id FROM tasks WHERE status = 'running'`)
      .map((row) => row.id);
  }

  /** Queued and running tasks by function. */
  live(): { fn: string; status: 'queued' | 'running'; n: number }[] {
    return this.#sql.all<{ fn: string; status: 'queued' | 'running'; n: number }>(
      `SELECT fn, status, count(*) AS n FROM tasks WHERE status IN ('queued', 'running')
       GROUP BY fn, status`,
    );
  }

  /**
   * Records not ended by `endedBy`, newest first (by submission time, then id: one order every
   * shard shares), strictly older than `cursor` when given.
   */
  list(
    query: Omit<TaskQuery, 'before'>,
    cursor: ListCursor | undefined,
    endedBy: number,
  ): TaskRecord[] {
    const where = ['(ended_at IS NULL OR ended_at > ?)'];
    const params: SqlValue[] = [endedBy];
    if (query.function !== undefined) where.push('fn = ?') && params.push(query.function);
    if (query.status !== undefined) where.push('status = ?') && params.push(query.status);
    if (cursor) {
      where.push('(submitted_at < ? OR (submitted_at = ? AND id < ?))');
      params.push(cursor.submittedAt, cursor.submittedAt, cursor.id);
    }
    return this.#sql
      .all<{ record: string }>(
        `SELECT record FROM tasks WHERE ${where.join(' AND ')}
         ORDER BY submitted_at DESC, id DESC LIMIT ?`,
        ...params,
        query.limit,
      )
      .map((row) => JSON.parse(row.record) as TaskRecord);
  }

  /** How many kept records ended, when the first of them ended, and when the first key expires. */
  kept(): KeptRows {
    const row = this.#sql.one<{ n: number; first: number | null; key: number | null }>(
      `SELECT count(*) AS n, min(ended_at) AS first,
       (SELECT min(expires_at) FROM idempotency_keys) AS key
       FROM tasks WHERE ended_at IS NOT NULL`,
    );
    return { n: row?.n ?? 0, first: row?.first ?? undefined, key: row?.key ?? undefined };
  }

  /**
   * Drop the records ended by `endedBy`, then all but the `keep` that ended last, and the
   * idempotency keys expired by `keysBy`, given what `kept()` read. Only the deletes that remove
   * something run (a write, even one that deletes nothing, costs a commit); only the rows past
   * the cap are visited, not the `keep` that stay.
   */
  trim(endedBy: number, keep: number, keysBy: number, seen: KeptRows): void {
    let ended = seen.n;
    if (seen.first !== undefined && seen.first <= endedBy) {
      this.#sql.run('DELETE FROM tasks WHERE ended_at IS NOT NULL AND ended_at <= ?', endedBy);
      ended =
        this.#sql.one<{ n: number }>('SELECT count(*) AS n FROM tasks WHERE ended_at IS NOT NULL')
          ?.n ?? 0;
    }
    if (ended > keep) {
      this.#sql.run(
        `DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks WHERE ended_at IS NOT NULL
         ORDER BY ended_at, seq LIMIT ?)`,
        ended - keep,
      );
    }
    if (seen.key !== undefined && seen.key <= keysBy) {
      this.#sql.run('DELETE FROM idempotency_keys WHERE expires_at <= ?', keysBy);
    }
  }

  /** What `key` was first used for, unless it expired by `now`. */
  key(key: string, now: number): KeyRow | undefined {
    return this.#sql.one<KeyRow>(
      'SELECT fn, task_id, fingerprint, expires_at FROM idempotency_keys WHERE key = ? AND expires_at > ?',
      key,
      now,
    );
  }

  /** `key` now names task `taskId` (an expired use of it is replaced). */
  putKey(key: string, row: KeyRow): void {
    this.#sql.run(
      `INSERT INTO idempotency_keys (key, fn, task_id, fingerprint, expires_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET fn = excluded.fn,
       task_id = excluded.task_id, fingerprint = excluded.fingerprint,
       expires_at = excluded.expires_at`,
      key,
      row.fn,
      row.task_id,
      row.fingerprint,
      row.expires_at,
    );
  }

  /** Forget `key` if it still names task `taskId` (its submission failed after all). */
  deleteKey(key: string, taskId: string): void {
    this.#sql.run('DELETE FROM idempotency_keys WHERE key = ? AND task_id = ?', key, taskId);
  }
}
