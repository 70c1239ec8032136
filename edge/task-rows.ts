/**
 * The rows of a shard's tasks in its SQLite storage: the schema and every query, and no rule of
 * a task's life (those are `SqlTaskTable`'s). A row keeps the record as JSON beside the columns
 * that the queue (`status`, `fn`, `due_at`), the listing (`submitted_at`, `id`) and expiry
 * (`ended_at`, on the table's clock) search by.
 * @module
 */
import type { SqlStorage } from '@cloudflare/workers-types/latest/index.ts';
import type { TaskQuery, TaskRecord, TaskStatus } from '../runtime/types.ts';

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

type SqlValue = ArrayBuffer | string | number | null;

export interface TaskRow extends Record<string, SqlValue> {
  id: string;
  fn: string;
  status: TaskStatus;
  args: string | null;
  timeout_ms: number;
  backoff_ms: number;
  ended_at: number | null;
  record: string;
}

/** Where a listing continues: the record the previous page ended with. */
export interface ListCursor {
  submittedAt: number;
  id: string;
}

export class TaskRows {
  #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(SCHEMA);
  }

  get(id: string): TaskRow | undefined {
    return this.#sql.exec<TaskRow>('SELECT * FROM tasks WHERE id = ?', id).toArray()[0];
  }

  delete(id: string): void {
    this.#sql.exec('DELETE FROM tasks WHERE id = ?', id);
  }

  /** A new task, queued and due at once. */
  insert(record: TaskRecord, args: unknown[], timeoutMs: number, backoffMs: number): void {
    this.#sql.exec(
      `INSERT INTO tasks (id, fn, status, submitted_at, due_at, args, timeout_ms, backoff_ms, record)
       VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?)`,
      record.id,
      record.function,
      record.submittedAt,
      record.submittedAt,
      JSON.stringify(args),
      timeoutMs,
      backoffMs,
      JSON.stringify(record),
    );
  }

  /** Store `record` with its status, and the columns it changes. */
  write(record: TaskRecord, columns: { due_at?: number | null; ended_at?: number }): void {
    const names = Object.keys(columns);
    this.#sql.exec(
      `UPDATE tasks SET record = ?, status = ?${names.map((n) => `, ${n} = ?`).join('')}
       WHERE id = ?`,
      JSON.stringify(record),
      record.status,
      ...(Object.values(columns) as SqlValue[]),
      record.id,
    );
  }

  /** Up to `max` queued rows of `fn` due by `now`, the first due first (then the oldest). */
  claimable(fn: string, now: number, max: number): TaskRow[] {
    return this.#sql
      .exec<TaskRow>(
        `SELECT * FROM tasks WHERE status = 'queued' AND fn = ? AND due_at <= ?
         ORDER BY due_at, seq LIMIT ?`,
        fn,
        now,
        max,
      )
      .toArray();
  }

  count(status: TaskStatus, fn: string): number {
    return this.#sql
      .exec<{ n: number }>(
        'SELECT count(*) AS n FROM tasks WHERE status = ? AND fn = ?',
        status,
        fn,
      )
      .one().n;
  }

  /** When the first queued task (of `fn`, or of any function) is due, if any waits. */
  firstDue(fn?: string): number | undefined {
    const { at } = (
      fn === undefined
        ? this.#sql.exec<{ at: number | null }>(
            `SELECT min(due_at) AS at FROM tasks WHERE status = 'queued'`,
          )
        : this.#sql.exec<{ at: number | null }>(
            `SELECT min(due_at) AS at FROM tasks WHERE status = 'queued' AND fn = ?`,
            fn,
          )
    ).one();
    return at ?? undefined;
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

  /** When the first kept record ended, if any. */
  firstEnd(): number | undefined {
    const { at } = this.#sql
      .exec<{ at: number | null }>(
        'SELECT min(ended_at) AS at FROM tasks WHERE ended_at IS NOT NULL',
      )
      .one();
    return at ?? undefined;
  }

  /** Ids of the running tasks. */
  running(): string[] {
    return this.#sql
      .exec<{ id: string }>(`SELECT id FROM tasks WHERE status = 'running'`)
      .toArray()
      .map((row) => row.id);
  }

  /** Queued and running tasks by function. */
  live(): { fn: string; status: 'queued' | 'running'; n: number }[] {
    return this.#sql
      .exec<{ fn: string; status: 'queued' | 'running'; n: number }>(
        `SELECT fn, status, count(*) AS n FROM tasks WHERE status IN ('queued', 'running')
         GROUP BY fn, status`,
      )
      .toArray();
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
      .exec<{ record: string }>(
        `SELECT record FROM tasks WHERE ${where.join(' AND ')}
         ORDER BY submitted_at DESC, id DESC LIMIT ?`,
        ...params,
        query.limit,
      )
      .toArray()
      .map((row) => JSON.parse(row.record) as TaskRecord);
  }

  /**
   * Drop the records ended by `endedBy`, then all but the `keep` that ended last. One read when
   * there is nothing to drop: a write, even one that deletes nothing, costs a commit.
   */
  trim(endedBy: number, keep: number): void {
    const { n, first } = this.#sql
      .exec<{ n: number; first: number | null }>(
        'SELECT count(*) AS n, min(ended_at) AS first FROM tasks WHERE ended_at IS NOT NULL',
      )
      .one();
    if (first !== null && first <= endedBy) {
      this.#sql.exec('DELETE FROM tasks WHERE ended_at IS NOT NULL AND ended_at <= ?', endedBy);
    } else if (n <= keep) return;
    this.#sql.exec(
      `DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks WHERE ended_at IS NOT NULL
       ORDER BY ended_at DESC LIMIT -1 OFFSET ?)`,
      keep,
    );
  }
}
