/**
 * The one thing the SQL task table needs of a database: run a statement, read rows, both
 * synchronously. Two executors implement it: a Durable Object's `ctx.storage.sql` (the edge)
 * and an embedded SQLite file (`runtime/backend/sqlite/`, over a host's driver). Statements are
 * SQLite's dialect; parameters are positional (`?`).
 * @module
 */

export type SqlValue = string | number | null;

export interface SqlExecutor {
  /** Run a statement that returns no rows (an insert, update, delete, or schema). */
  run(sql: string, ...params: SqlValue[]): void;
  /** Every row a query returns, as objects keyed by column name. */
  all<T extends object>(sql: string, ...params: SqlValue[]): T[];
  /** The first row a query returns, if any (a binding may read one row for less than all). */
  one<T extends object>(sql: string, ...params: SqlValue[]): T | undefined;
}
