/**
 * The embedded task store on the host this process runs on: its SQLite binding (libsql on Node,
 * `bun:sqlite` on Bun, `node:sqlite` on Deno), loaded on demand so a host never loads another's.
 * @module
 */
import type { SqliteDriver } from '../backend/sqlite/driver.ts';
import {
  openSqliteStore,
  type SqliteStoreOptions,
  type SqliteTaskBackend,
} from '../backend/sqlite/store.ts';
import { detectHost, type HostName } from './detect.ts';

/** The SQLite binding of `host`. */
export const sqliteDriver = async (host: HostName = detectHost()): Promise<SqliteDriver> => {
  switch (host) {
    case 'bun':
      return (await import('./sqlite-bun.ts')).bunSqliteDriver;
    case 'deno':
      return (await import('./sqlite-deno.ts')).denoSqliteDriver;
    case 'node':
      return (await import('./sqlite-libsql.ts')).libsqlDriver;
    default:
      throw new Error(`ebbflow has no SQLite binding for this runtime (${host})`);
  }
};

/**
 * A task store in a SQLite file, for `createRuntime({ backend })`: tasks survive a restart.
 * Close it after the runtime.
 * @example
 * const store = await sqliteStore({ path: '.ebbflow/tasks.db', ttlMs: 3_600_000, maxResults: 100_000 });
 * const runtime = await createRuntime({ source, host, backend: store });
 */
export const sqliteStore = async (
  options: Omit<SqliteStoreOptions, 'driver'> & { driver?: SqliteDriver },
): Promise<SqliteTaskBackend> =>
  openSqliteStore({ ...options, driver: options.driver ?? (await sqliteDriver()) });
