/**
 * The embedded store's SQLite on Deno: its `node:sqlite` (`DatabaseSync`). Deno asks for read
 * and write permission on the file; `deno task start` grants its folder to the server process
 * only (server/deno-grants.ts), never to function workers.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { SqlValue } from '../backend/sql/executor.ts';
import type { SqliteDriver } from '../backend/sqlite/driver.ts';

interface DenoStatement {
  run(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): Record<string, unknown>[];
  get(...params: SqlValue[]): Record<string, unknown> | null | undefined;
}

interface DenoDatabase {
  exec(sql: string): void;
  prepare(sql: string): DenoStatement;
  close(): void;
}

// Node 20's types have no `node:sqlite` (it came in Node 22.5); Deno has it.
const NODE_SQLITE = 'node:sqlite';
const { DatabaseSync } = (await import(NODE_SQLITE)) as {
  DatabaseSync: new (file: string) => DenoDatabase;
};

export const denoSqliteDriver: SqliteDriver = {
  name: 'node:sqlite (Deno)',
  resolve: (path) => resolve(path),
  open(path) {
    const file = resolve(path);
    // A new folder is its owner's alone: tasks carry arguments and results.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const db = new DatabaseSync(file);
    return {
      file,
      exec: (sql) => db.exec(sql),
      prepare: (sql) => {
        const statement = db.prepare(sql);
        return {
          run: (...params) => {
            statement.run(...params);
          },
          all: (...params) => statement.all(...params),
          one: (...params) => statement.get(...params) ?? undefined,
        };
      },
      close: () => db.close(),
    };
  },
};
