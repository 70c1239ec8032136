/**
 * A connection as the SQL task table's executor: each statement prepared once and kept, every
 * write preceded by `beforeWrite` (the group commit opens its transaction there, so reads alone
 * never begin one), and a write that fails reported to `writeFailed` before it is thrown (the
 * batch it was part of cannot be committed whole any more).
 * @module
 */
import type { SqlExecutor, SqlValue } from '../sql/executor.ts';
import type { SqliteConnection, SqliteStatement } from './driver.ts';

export interface WriteHooks {
  beforeWrite(): void;
  writeFailed(error: unknown): void;
}

interface Prepared {
  statement: SqliteStatement;
  writes: boolean;
}

export class FileExecutor implements SqlExecutor {
  #connection: SqliteConnection;
  #prepared = new Map<string, Prepared>();
  #hooks: WriteHooks;

  constructor(connection: SqliteConnection, hooks: WriteHooks) {
    this.#connection = connection;
    this.#hooks = hooks;
  }

  run(sql: string, ...params: SqlValue[]): void {
    this.#execute(sql, (statement) => statement.run(...params));
  }

  all<T extends object>(sql: string, ...params: SqlValue[]): T[] {
    return this.#execute(sql, (statement) => statement.all(...params) as T[]);
  }

  one<T extends object>(sql: string, ...params: SqlValue[]): T | undefined {
    return this.#execute(sql, (statement) => statement.one(...params) as T | undefined);
  }

  #execute<R>(sql: string, go: (statement: SqliteStatement) => R): R {
    const prepared = this.#prepare(sql);
    if (!prepared.writes) return go(prepared.statement);
    this.#hooks.beforeWrite();
    try {
      return go(prepared.statement);
    } catch (error) {
      this.#hooks.writeFailed(error);
      throw error;
    }
  }

  #prepare(sql: string): Prepared {
    let prepared = this.#prepared.get(sql);
    if (!prepared) {
      // Only a SELECT (or a pragma read) leaves the file as it was.
      const writes = !/^\s*(SELECT|PRAGMA)\b/i.test(sql);
      prepared = { statement: this.#connection.prepare(sql), writes };
      this.#prepared.set(sql, prepared);
    }
    return prepared;
  }
}
