/**
 * The task store a bench runtime keeps its tasks in: the in-memory default, or the embedded
 * SQLite store (libsql, the server's defaults for time to live and cap) in a temporary folder
 * that goes with it.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { libsqlDriver } from '../../runtime/host/sqlite-libsql.ts';
import {
  DEFAULTS,
  openSqliteStore,
  type SqliteTaskBackend,
  type SyncLevel,
} from '../../runtime/index.ts';

export type StoreName = 'memory' | 'sqlite' | 'sqlite-full';

export interface BenchStore {
  /** For `createRuntime({ backend })`; undefined keeps the runtime's in-memory default. */
  backend: SqliteTaskBackend | undefined;
  /** Commits, the tasks they accepted, and the file's size in bytes (SQLite only). */
  figures(): { commits: number; tasksCommitted: number; fileBytes: number } | undefined;
  close(): Promise<void>;
}

export const benchStore = (name: StoreName): BenchStore => {
  if (name === 'memory')
    return { backend: undefined, figures: () => undefined, close: async () => {} };
  const folder = mkdtempSync(join(tmpdir(), 'ebbflow-bench-store-'));
  const file = join(folder, 'tasks.db');
  const sync: SyncLevel = name === 'sqlite-full' ? 'full' : 'normal';
  const backend = openSqliteStore({
    path: file,
    driver: libsqlDriver,
    ttlMs: DEFAULTS.resultTtlMs,
    maxResults: DEFAULTS.maxResults,
    sync,
  });
  const size = (path: string) => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  return {
    backend,
    figures: () => ({
      commits: backend.commits.commits,
      tasksCommitted: backend.commits.tasks,
      // The file and its write-ahead log, as they are on disk now.
      fileBytes: size(file) + size(`${file}-wal`),
    }),
    close: async () => {
      await backend.close();
      rmSync(folder, { recursive: true, force: true });
    },
  };
};
