/**
 * What the embedded store needs of a host's SQLite binding, and nothing more: open a file,
 * prepare statements, run them synchronously. Each host implements it in a small adapter
 * (`runtime/host/sqlite-*.ts`: libsql on Node, `bun:sqlite` on Bun, `node:sqlite` on Deno).
 * @module
 */
import type { SqlValue } from '../sql/executor.ts';

export interface SqliteStatement {
  run(...params: SqlValue[]): void;
  /** Every row, as objects keyed by column name (extra keys a binding adds are ignored). */
  all(...params: SqlValue[]): Record<string, unknown>[];
  /** The first row, if any. */
  one(...params: SqlValue[]): Record<string, unknown> | undefined;
}

/** One open connection to a database file. */
export interface SqliteConnection {
  /** The file, as an absolute path (for messages). */
  readonly file: string;
  /** Run one statement that returns nothing (a pragma, BEGIN, COMMIT). */
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  close(): void;
}

export interface SqliteDriver {
  /** The binding and the SQLite version it carries, e.g. `libsql (SQLite 3.45.1)`. */
  readonly name: string;
  /** `path` as an absolute path (relative ones against the working folder). */
  resolve(path: string): string;
  /** Open `path` (relative to the working folder), creating the file and its folder. */
  open(path: string): SqliteConnection;
}
