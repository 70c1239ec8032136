/**
 * The embedded task store: the SQL task rules (`runtime/backend/sql/`, the same module the edge
 * runs in its Durable Objects) over one SQLite file, for a server alone. Tasks survive a restart,
 * drained or `kill -9`.
 *
 * - Durable before it is told: every answer (a submit's record, a claim's tasks, a wait's end,
 *   a cancel) resolves only once the writes behind it are committed, and events and a cancelled
 *   run's stop are told after the commit too. Writes of one turn share one commit (group commit).
 * - At open: tasks left `running` by the last process were lost with it: each runs again if it
 *   has attempts left (after its backoff), else fails `server_lost`. Queued ones wait for their
 *   function's pool, as any queued task does.
 * - One server per file: an exclusive lock held by the connection (open.ts).
 * - Bounded: finished records go after their time to live and past the cap (a sweep each
 *   second), and pages freed by them are given back to the file system (incremental vacuum).
 *
 * Usage (a server's entry picks the driver for its host, `runtime/host/sqlite-*.ts`):
 * ```ts
 * const store = openSqliteStore({ path: '.ebbflow/tasks.db', driver, ttlMs, maxResults });
 * const runtime = await createRuntime({ source, host, backend: store });
 * // ... on shutdown, after runtime.close():
 * await store.close();
 * ```
 * @module
 */
import { EbbflowError, messageOf } from '../../errors.ts';
import type {
  ClaimedTask,
  NewTask,
  TaskEnding,
  TaskPage,
  TaskQuery,
  TaskRecord,
} from '../../types.ts';
import type { TaskBackend, TaskListener } from '../contract.ts';
import { isReplay, markReplayed } from '../idempotency.ts';
import { BackendListeners } from '../listeners.ts';
import { type BackendClock, REAL_CLOCK } from '../memory/timers.ts';
import { SqlTaskTable } from '../sql/task-table.ts';
import type { SqliteConnection, SqliteDriver, SqliteStatement } from './driver.ts';
import { FileExecutor } from './file-executor.ts';
import { type BatchRef, type CommitCounts, GroupCommit } from './group-commit.ts';
import { closeDatabase, openDatabase, type SyncLevel } from './open.ts';

export type { SyncLevel } from './open.ts';

export interface SqliteStoreOptions {
  /** The database file; it and its folder are created on first use. */
  path: string;
  /** The host's SQLite binding (`runtime/host/sqlite-*.ts`). */
  driver: SqliteDriver;
  /** How long a finished record stays readable, in ms. */
  ttlMs: number;
  /** Finished records kept at most; the oldest finished go first. */
  maxResults: number;
  /** When a commit reaches the disk (see `SyncLevel`). @default 'normal' */
  sync?: SyncLevel;
  /**
   * The most the file may hold (rounded down to whole pages): a write past it fails its batch
   * with `store_unavailable` and loses nothing already committed. @default no bound but the disk
   */
  maxBytes?: number;
  /** @default the real clock */
  clock?: BackendClock;
  /** Retry jitter, [0, 1). @default Math.random */
  random?: () => number;
  /** Where a throwing listener and store trouble are reported. @default console.error */
  log?: (message: string) => void;
}

/** What the store found at open. */
export interface Recovered {
  /** Tasks that were waiting to run. */
  queued: number;
  /** Tasks the last process was running: run again, or failed `server_lost`. */
  lost: number;
}

/** How the file is used, in pages (`PRAGMA page_count`, `freelist_count`, `page_size`). */
export interface SpaceUsed {
  pageSize: number;
  pages: number;
  freePages: number;
}

/** How often finished records past their time to live or the cap are dropped, and the log checkpointed. */
const SWEEP_MS = 1_000;
/** Sweeps between two looks at expired idempotency keys when nothing else calls for one. */
const KEY_SWEEPS = 60;
/** Free pages kept before some are given back, and the most given back per sweep (4 KiB each). */
const FREE_PAGES_KEPT = 1_024;
const VACUUM_STEP = 2_048;

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

const LOST = 'the server running it was lost (it stopped while the task ran; found at restart)';

/** Open the store at `options.path` (synchronously); throws `store_locked` or `store_unavailable`. */
export const openSqliteStore = (options: SqliteStoreOptions): SqliteTaskBackend =>
  new SqliteTaskBackend(options);

export class SqliteTaskBackend implements TaskBackend {
  /** Records outlive the process: a shutdown leaves queued tasks for the next start. */
  readonly durable = true;
  /** The database file, as an absolute path. */
  readonly file: string;
  readonly recovered: Recovered;
  #connection: SqliteConnection;
  #commit: GroupCommit;
  #table: SqlTaskTable;
  #listeners: BackendListeners;
  #clock: BackendClock;
  #log: (message: string) => void;
  #closed = false;
  #backoffTimer: unknown;
  #backoffAt: number | undefined;
  /** Backoffs ending after this time are still to be told to `onAvailable`. */
  #toldUntil: number;
  #sweepTimer: unknown;
  #sweeps = 0;
  /** Tasks ended since the last sweep. */
  #endedSinceSweep = 0;
  /** Commits counted at the last checkpoint. */
  #checkpointed = 0;
  #pragmas = new Map<string, SqliteStatement>();
  /** Tasks someone waits for here, and the batch their ending was written in, once it was. */
  #watched = new Map<string, { waiters: number; ending?: BatchRef }>();

  constructor(options: SqliteStoreOptions) {
    this.#clock = options.clock ?? REAL_CLOCK;
    this.#log = options.log ?? ((message) => console.error(message));
    this.#listeners = new BackendListeners(this.#log);
    this.#connection = openDatabase(options.driver, options.path, options.sync ?? 'normal');
    this.file = this.#connection.file;
    if (options.maxBytes !== undefined) {
      const pages = Math.max(1, Math.floor(options.maxBytes / this.space().pageSize));
      this.#connection.prepare(`PRAGMA max_page_count = ${pages}`).all();
    }
    this.#commit = new GroupCommit(this.#connection, (error) => {
      this.#table.forget();
      this.#log(`ebbflow: the task store ${this.file} could not commit: ${messageOf(error)}`);
    });
    const executor = new FileExecutor(this.#connection, {
      beforeWrite: () => this.#commit.begin(),
      writeFailed: (error) => this.#commit.abort(error),
    });
    try {
      this.#table = new SqlTaskTable(
        executor,
        { ttlMs: options.ttlMs, maxResults: options.maxResults },
        {
          clock: this.#clock,
          random: options.random,
          log: this.#log,
          deferred: (_fn, dueAt) => this.#wakeAt(dueAt),
          inserted: (id) => this.#commit.current()?.inserted.add(id),
        },
      );
      this.#toldUntil = this.#clock.now();
      this.recovered = this.#recover();
      this.#commit.flush();
    } catch (error) {
      closeDatabase(this.#connection);
      throw this.#failure(error);
    }
    // Events and a cancelled run's stop are told once the change is durable; claims join the
    // batch of the submit that made them possible.
    this.#table.subscribe((record) => {
      const watch = this.#watched.get(record.id);
      if (TERMINAL.has(record.status)) {
        this.#endedSinceSweep++;
        if (watch) watch.ending = this.#commit.current();
      }
      this.#commit.afterCommit(() => this.#listeners.changed(record));
    });
    this.#table.onAvailable((fn) => this.#listeners.available(fn));
    this.#table.onCancel((id) => this.#commit.afterCommit(() => this.#listeners.cancelled(id)));
    const next = this.#table.nextDeferred(this.#toldUntil);
    if (next !== undefined) this.#wakeAt(next);
    this.#sweepTimer = this.#every(SWEEP_MS, () => this.#sweep());
  }

  /** Commits so far and the tasks they accepted (group commit at work). */
  get commits(): Readonly<CommitCounts> {
    return this.#commit.counts;
  }

  /** The file's pages: in use, free, and their size. */
  space(): SpaceUsed {
    const read = (pragma: string) => {
      let statement = this.#pragmas.get(pragma);
      if (!statement) {
        statement = this.#connection.prepare(`PRAGMA ${pragma}`);
        this.#pragmas.set(pragma, statement);
      }
      return Number(Object.values(statement.all()[0] ?? {})[0] ?? 0);
    };
    return {
      pageSize: read('page_size'),
      pages: read('page_count'),
      freePages: read('freelist_count'),
    };
  }

  submit(task: NewTask): Promise<TaskRecord> {
    return this.#settle(() => this.#table.submit(task), true);
  }

  /**
   * Tasks claimed are handed out once the claim is committed: a run must never start from a
   * state a crash could undo (it would run again on the same attempt). Tasks inserted in the
   * batch still open are the exception: if that batch is lost, so is the task, whose submitter
   * was never answered; so a submit and its run need one commit, not two.
   */
  async claim(fn: string, max: number, workerId: number): Promise<ClaimedTask[]> {
    if (this.#closed) return [];
    let pending: Promise<ClaimedTask[]>;
    try {
      pending = this.#table.claim(fn, max, workerId);
    } catch (error) {
      throw this.#failure(error);
    }
    const batch = this.#commit.current();
    const tasks = await pending;
    if (batch && !tasks.every((task) => batch.inserted.has(task.id))) {
      try {
        await batch.promise;
      } catch (error) {
        throw this.#failure(error);
      }
    }
    return tasks;
  }

  /**
   * Submit and resolve with the task's terminal record (marked when a repeated key named an
   * earlier task), once that record is committed; with the record as it is when the store stops
   * waiting (a shutdown). The submit's own commit is not waited for apart: the ending's comes
   * after it. Rejects if the submit's batch is rolled back (the task never was).
   */
  async invoke(task: NewTask): Promise<TaskRecord> {
    if (this.#closed) throw this.#failure(new Error('the task store is closed'));
    let submitted: Promise<TaskRecord>;
    try {
      submitted = this.#table.submit(task);
    } catch (error) {
      throw this.#failure(error);
    }
    const batch = this.#commit.current();
    let record: TaskRecord;
    try {
      record = await submitted;
    } catch (error) {
      throw this.#failure(error);
    }
    if (!isReplay(record)) batch?.accept();
    const lost = new Promise<never>((_, reject) => {
      batch?.promise.catch((error: unknown) => reject(this.#failure(error)));
    });
    const ended =
      (await Promise.race([this.wait(record.id, Number.POSITIVE_INFINITY), lost])) ?? record;
    return isReplay(record) ? markReplayed({ ...ended }) : ended;
  }

  finish(id: string, ending: TaskEnding): Promise<boolean> {
    return this.#settle(() => this.#table.finish(id, ending));
  }

  read(id: string): Promise<TaskRecord | undefined> {
    return this.#settle(() => this.#table.read(id));
  }

  async wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    if (this.#closed) throw this.#failure(new Error('the task store is closed'));
    // The ending it waits for is written by another call, into the batch open then (noted as
    // it is told); an answer read now waits for the batch open now.
    let watch = this.#watched.get(id);
    if (!watch) {
      watch = { waiters: 0 };
      this.#watched.set(id, watch);
    }
    watch.waiters++;
    const seen = watch;
    try {
      return await this.#answer(
        this.#table.wait(id, ms),
        () => seen.ending ?? this.#commit.current(),
      );
    } finally {
      if (--seen.waiters === 0 && this.#watched.get(id) === seen) this.#watched.delete(id);
    }
  }

  cancel(id: string): Promise<TaskRecord> {
    return this.#settle(() => this.#table.cancel(id));
  }

  list(query: TaskQuery): Promise<TaskPage> {
    return this.#settle(() => this.#table.list(query));
  }

  replay(id: string, maxQueue: number): Promise<TaskRecord> {
    return this.#settle(() => this.#table.replay(id, maxQueue), true);
  }

  expire(now: number): Promise<void> {
    return this.#settle(() => this.#table.expire(now));
  }

  queued(fn: string): number {
    return this.#closed ? 0 : this.#table.queued(fn);
  }

  /** Queued tasks of `fn` a claim would take now (retries backing off not counted). */
  claimable(fn: string): number {
    return this.#closed ? 0 : this.#table.claimable(fn);
  }

  onAvailable(listener: (fn: string) => void): void {
    this.#listeners.onAvailable(listener);
  }

  onCancel(listener: (id: string) => void): void {
    this.#listeners.onCancel(listener);
  }

  subscribe(listener: TaskListener): () => void {
    return this.#listeners.subscribe(listener);
  }

  /**
   * Answer every long-poll now with its task as it is (a drained server keeps its queued tasks
   * for the next start, so their waits end here rather than with the connection).
   */
  endWaits(): void {
    if (!this.#closed) this.#table.endWaits();
  }

  /** Commit what is pending, stop the timers and release the file (its lock goes with it). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#sweepTimer);
    if (this.#backoffTimer !== undefined) this.#clock.clearTimeout(this.#backoffTimer);
    try {
      this.#commit.close();
    } catch (error) {
      this.#log(`ebbflow: the task store ${this.file}: ${messageOf(error)}`);
    }
    this.#table.endWaits();
    this.#listeners.clear();
    await this.#table.close();
    closeDatabase(this.#connection);
  }

  /**
   * Run a call of the table (its reads and writes happen before it returns) and answer once the
   * batch its writes joined, or that held what it read, is committed.
   */
  #settle<T>(work: () => Promise<T>, accepts = false): Promise<T> {
    let pending: Promise<T>;
    try {
      if (this.#closed) throw new Error('the task store is closed');
      pending = work();
    } catch (error) {
      return Promise.reject(this.#failure(error));
    }
    const batch = this.#commit.current();
    return this.#answer(pending, () => batch, accepts);
  }

  /** `pending`'s value once `batch()` (asked when the value is there) is committed. */
  async #answer<T>(
    pending: Promise<T>,
    batch: () => BatchRef | undefined,
    accepts = false,
  ): Promise<T> {
    let value: T;
    try {
      value = await pending;
    } catch (error) {
      throw this.#failure(error);
    }
    const joined = batch();
    if (accepts && !isReplay(value as TaskRecord)) joined?.accept();
    try {
      await joined?.promise;
    } catch (error) {
      throw this.#failure(error);
    }
    return value;
  }

  #failure(error: unknown): unknown {
    if (error instanceof EbbflowError) return error;
    return new EbbflowError(
      'store_unavailable',
      `the task store (SQLite at ${this.file}) failed: ${messageOf(error)}`,
    );
  }

  /** Runs lost with the last process: again while attempts are left, else `server_lost`. */
  #recover(): Recovered {
    const endedAt = this.#clock.now();
    const queued = this.#table
      .live()
      .reduce((n, row) => n + (row.status === 'queued' ? row.n : 0), 0);
    const lost = this.#table.running();
    for (const id of lost) {
      void this.#table.finish(id, {
        status: 'failed',
        errorCode: 'server_lost',
        error: LOST,
        endedAt,
      });
    }
    return { queued, lost: lost.length };
  }

  /** Make sure the backoff timer fires by `at`. */
  #wakeAt(at: number): void {
    if (this.#closed || (this.#backoffAt !== undefined && this.#backoffAt <= at)) return;
    if (this.#backoffTimer !== undefined) this.#clock.clearTimeout(this.#backoffTimer);
    this.#backoffAt = at;
    this.#backoffTimer = this.#clock.setTimeout(
      () => this.#backoffsOver(),
      Math.max(0, at - this.#clock.now()),
    );
    this.#clock.unref?.(this.#backoffTimer);
  }

  /** Backoffs ended: their functions are told, and the timer is set for the next one. */
  #backoffsOver(): void {
    this.#backoffTimer = undefined;
    this.#backoffAt = undefined;
    if (this.#closed) return;
    const now = this.#clock.now();
    try {
      const due = this.#table.cameDue(this.#toldUntil, now);
      this.#toldUntil = now;
      for (const fn of due) this.#listeners.available(fn);
      const next = this.#table.nextDeferred(now);
      if (next !== undefined) this.#wakeAt(next);
    } catch (error) {
      this.#log(`ebbflow: the task store ${this.file}: ${messageOf(error)}`);
    }
  }

  /** Drop what is past its time to live or the cap, and give back pages that freed. */
  #sweep(): void {
    if (this.#closed) return;
    this.#checkpoint();
    const now = this.#clock.now();
    // Records go when their time is up or past the cap: only worth a look when something ended,
    // the oldest record's time is up, or (idempotency keys) once a minute.
    this.#sweeps++;
    if (
      this.#endedSinceSweep > 0 ||
      (this.#table.nextExpiry() ?? Number.POSITIVE_INFINITY) <= now ||
      this.#sweeps % KEY_SWEEPS === 0
    ) {
      this.#endedSinceSweep = 0;
      this.expire(now).catch((error: unknown) =>
        this.#log(`ebbflow: expiring records in ${this.file}: ${messageOf(error)}`),
      );
    }
    try {
      const { pages, freePages } = this.space();
      if (freePages > FREE_PAGES_KEPT && freePages * 4 > pages) {
        this.#commit.begin();
        this.#connection.exec(`PRAGMA incremental_vacuum(${Math.min(VACUUM_STEP, freePages)})`);
      }
    } catch (error) {
      this.#commit.abort(error);
      this.#log(`ebbflow: giving back free pages of ${this.file}: ${messageOf(error)}`);
    }
  }

  /**
   * Commits reach the disk at a checkpoint (with `synchronous=NORMAL`): one each sweep when any
   * commit happened since the last, so a power cut loses at most about a second of them, and a
   * busy store pays its two `fsync`s once a second rather than every 4 MB of log.
   */
  #checkpoint(): void {
    const commits = this.#commit.counts.commits;
    if (commits === this.#checkpointed || this.#commit.current()) return;
    this.#checkpointed = commits;
    try {
      this.#connection.prepare('PRAGMA wal_checkpoint(PASSIVE)').all();
    } catch (error) {
      this.#log(`ebbflow: checkpointing ${this.file}: ${messageOf(error)}`);
    }
  }

  /** `fn` every `ms`, on the store's clock, never holding the process open. */
  #every(ms: number, fn: () => void): unknown {
    const tick = () => {
      fn();
      if (!this.#closed) this.#sweepTimer = this.#every(ms, fn);
    };
    const timer = this.#clock.setTimeout(tick, ms);
    this.#clock.unref?.(timer);
    return timer;
  }
}
