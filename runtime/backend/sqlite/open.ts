/**
 * Opening the embedded store's file: write-ahead logging, the synchronous level, incremental
 * auto-vacuum, and an exclusive lock held for as long as the connection is open. The lock is
 * SQLite's own (a POSIX lock on the file, the same on every host and binding): it goes with the
 * process however it ends, so a second server on the same file is refused at once and a
 * `kill -9` leaves nothing to clean up.
 * @module
 */
import { EbbflowError, messageOf } from '../../errors.ts';
import type { SqliteConnection, SqliteDriver } from './driver.ts';

/**
 * When a commit reaches the disk. `normal`: at each checkpoint (the write-ahead log is written
 * at each commit, so a killed process loses nothing; a power cut may lose the last commits).
 * `full`: at each commit.
 */
export type SyncLevel = 'normal' | 'full';

/** The schema this code writes (`PRAGMA user_version`); a newer file is refused. */
export const SCHEMA_VERSION = 1;

/** The write-ahead log is cut back to this size after a checkpoint. */
const WAL_LIMIT_BYTES = 16 * 1024 * 1024;
/**
 * SQLite checkpoints by itself once the log holds this many pages (64 MiB); the store also does
 * each second when there were commits (store.ts), which is what usually happens first.
 */
const AUTO_CHECKPOINT_PAGES = 16_384;

export const storeLocked = (file: string) =>
  new EbbflowError(
    'store_locked',
    `another process has the task database ${file} open (another ebbflow server?): two servers never share one database file; stop the other one, or give this one a file of its own`,
  );

const unusable = (file: string, why: string) =>
  new EbbflowError('store_unavailable', `the task database ${file} cannot be used: ${why}`);

const isBusy = (error: unknown): boolean =>
  /\b(SQLITE_BUSY|SQLITE_LOCKED)\b|database is locked|database table is locked/i.test(
    `${(error as { code?: unknown })?.code ?? ''} ${messageOf(error)}`,
  );

/** Open `path` for this process alone; throws `store_locked` when another holds it. */
export const openDatabase = (
  driver: SqliteDriver,
  path: string,
  sync: SyncLevel,
): SqliteConnection => {
  let connection: SqliteConnection;
  try {
    connection = driver.open(path);
  } catch (error) {
    throw unusable(path, messageOf(error));
  }
  const { file } = connection;
  try {
    // Locks taken are kept until the connection closes; the empty exclusive transaction takes it.
    connection.exec('PRAGMA locking_mode = EXCLUSIVE');
    connection.exec('PRAGMA busy_timeout = 0');
    // Only a new file takes it (before its first table): freed pages can then be given back.
    connection.exec('PRAGMA auto_vacuum = INCREMENTAL');
    connection.exec('PRAGMA journal_mode = WAL');
    connection.exec(`PRAGMA synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`);
    connection.exec(`PRAGMA journal_size_limit = ${WAL_LIMIT_BYTES}`);
    connection.exec(`PRAGMA wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    connection.exec('BEGIN EXCLUSIVE');
    connection.exec('COMMIT');
    const version = Number(connection.prepare('PRAGMA user_version').all()[0]?.user_version ?? 0);
    if (version > SCHEMA_VERSION) {
      throw unusable(
        file,
        `it was written by a newer ebbflow (schema ${version}; this one knows ${SCHEMA_VERSION})`,
      );
    }
    if (version < SCHEMA_VERSION) connection.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  } catch (error) {
    connection.close();
    if (error instanceof EbbflowError) throw error;
    if (isBusy(error)) throw storeLocked(file);
    throw unusable(file, messageOf(error));
  }
  return connection;
};

/**
 * Release the file: the log checkpointed into it and removed (a stopped store is one file), the
 * lock given up, then the connection closed. The lock goes even where a binding keeps a closed
 * connection alive until its statements are collected (libsql), so the same process may open
 * the file again at once. Best effort: a failure here leaves the log for the next open.
 */
export const closeDatabase = (connection: SqliteConnection): void => {
  try {
    // Pragmas that answer a row are stepped through (exec may leave them unfinished).
    connection.prepare('PRAGMA journal_mode = DELETE').all();
    connection.prepare('PRAGMA locking_mode = NORMAL').all();
    // In normal mode the locks go at the end of the next statement.
    connection.prepare('SELECT count(*) AS n FROM sqlite_master').all();
  } catch {
    // Closing still releases what the binding lets go.
  }
  connection.close();
};
