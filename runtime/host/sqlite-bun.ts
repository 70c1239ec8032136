/**
 * The embedded store's SQLite on Bun: its built-in `bun:sqlite`.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { SqlValue } from '../backend/sql/executor.ts';
import type { SqliteDriver } from '../backend/sqlite/driver.ts';

interface BunStatement {
  run(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): Record<string, unknown>[];
  get(...params: SqlValue[]): Record<string, unknown> | null | undefined;
  finalize(): void;
}

interface BunDatabase {
  exec(sql: string): void;
  prepare(sql: string): BunStatement;
  close(): void;
}

// A specifier TypeScript does not resolve (it has no types for Bun's built-ins here).
const BUN_SQLITE = 'bun:sqlite';
const { Database } = (await import(BUN_SQLITE)) as {
  Database: new (file: string, options: { create: boolean }) => BunDatabase;
};

export const bunSqliteDriver: SqliteDriver = {
  name: 'bun:sqlite',
  resolve: (path) => resolve(path),
  open(path) {
    const file = resolve(path);
    // A new folder is its owner's alone: tasks carry arguments and results.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const db = new Database(file, { create: true });
    // Bun closes a connection with statements left as a zombie that keeps its locks.
    const prepared: BunStatement[] = [];
    return {
      file,
      exec: (sql) => db.exec(sql),
      prepare: (sql) => {
        const statement = db.prepare(sql);
        prepared.push(statement);
        return {
          run: (...params) => {
            statement.run(...params);
          },
          all: (...params) => statement.all(...params),
          one: (...params) => statement.get(...params) ?? undefined,
        };
      },
      close: () => {
        for (const statement of prepared.splice(0)) statement.finalize();
        db.close();
      },
    };
  },
};
