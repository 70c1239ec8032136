/**
 * Where a server alone keeps its tasks, as the settings say (docs/storage.md): the embedded
 * SQLite store at `EBBFLOW_DATA` by default, or nothing on disk with `EBBFLOW_STORE=memory` (the
 * runtime's in-memory backend). The host's entry supplies its SQLite binding, loaded only here.
 * @module
 */
import {
  DEFAULTS,
  messageOf,
  openSqliteStore,
  type SqliteDriver,
  type SqliteTaskBackend,
} from '../runtime/index.ts';
import type { Settings } from './settings.ts';

/** Why the store could not be opened, for the server to print before it exits. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/**
 * The embedded store the settings ask for, opened and locked, or undefined for memory. Throws a
 * `StoreError` naming the setting when the file cannot be used (held by another server, inside
 * the functions folder, unreadable).
 */
export const localStore = async (
  settings: Settings,
  driver: () => Promise<SqliteDriver>,
  log: (message: string) => void,
): Promise<SqliteTaskBackend | undefined> => {
  if (settings.store === 'memory') return undefined;
  let sqlite: SqliteDriver;
  try {
    sqlite = await driver();
  } catch (error) {
    throw new StoreError(
      `no SQLite binding on this host (${messageOf(error)}); set EBBFLOW_STORE=memory to keep tasks in memory only`,
    );
  }
  const file = sqlite.resolve(settings.data);
  const functions = sqlite.resolve(settings.functions);
  // Workers may read their functions folder (every host; Deno grants it): never the tasks.
  if (file === functions || file.startsWith(`${functions.replace(/\/+$/, '')}/`)) {
    throw new StoreError(
      `EBBFLOW_DATA (--data) ${file} is inside the functions folder ${functions}: functions could read every task there; put it elsewhere`,
    );
  }
  let store: SqliteTaskBackend;
  try {
    store = openSqliteStore({
      path: file,
      driver: sqlite,
      ttlMs: settings.resultTtlMs ?? DEFAULTS.resultTtlMs,
      maxResults: settings.maxResults ?? DEFAULTS.maxResults,
      sync: settings.dataSync,
      log,
    });
  } catch (error) {
    throw new StoreError(`cannot use EBBFLOW_DATA (--data): ${messageOf(error)}`);
  }
  const { queued, lost } = store.recovered;
  const found =
    queued + lost === 0
      ? ''
      : `; found ${queued} queued${lost > 0 ? ` and ${lost} lost with the last process (run again while attempts last, else failed server_lost)` : ''}`;
  log(`ebbflow: tasks are kept in ${store.file} (SQLite through ${sqlite.name})${found}`);
  return store;
};
