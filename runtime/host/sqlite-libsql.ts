/**
 * The embedded store's SQLite on Node: libsql, a better-sqlite3-compatible synchronous binding
 * whose compiled library comes from the npm registry as an optional platform package (Node 20
 * has no `node:sqlite`; better-sqlite3 compiles from source where its prebuilt download is out
 * of reach). Parameters go as one array (libsql reads a lone `null` as named parameters).
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { SqliteDriver } from '../backend/sqlite/driver.ts';

// Imported when this adapter is, not with the package: a server in memory, or on a platform
// without a libsql build, never loads it (a bundler keeps this import where it is).
const { default: Database } = await import('libsql');

export const libsqlDriver: SqliteDriver = {
  name: 'libsql',
  resolve: (path) => resolve(path),
  open(path) {
    const file = resolve(path);
    // A new folder is its owner's alone: tasks carry arguments and results.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const db = new Database(file);
    return {
      file,
      exec: (sql) => {
        db.exec(sql);
      },
      prepare: (sql) => {
        const statement = db.prepare(sql);
        return {
          run: (...params) => {
            statement.run(params);
          },
          all: (...params) => statement.all(params) as Record<string, unknown>[],
          // One native call instead of a cursor's two: about a third of all()'s time for one row.
          one: (...params) =>
            (statement.get(params) as Record<string, unknown> | undefined) ?? undefined,
        };
      },
      close: () => db.close(),
    };
  },
};
