/**
 * Group commit: the writes of one turn of the event loop share one transaction. The first write
 * begins it; it is committed once the turn's I/O callbacks are done (`afterIo`), so the
 * submissions of every request that arrived together cost one commit, and the store does not
 * serialise the server. Callers learn that their writes are durable from `settled()`, and
 * `afterCommit` holds what must not be told before then (events, a cancelled run's stop).
 * A failed commit (or write) rolls the whole batch back and rejects everyone waiting on it.
 * @module
 */
import { afterIo } from '../../time/timers.ts';
import type { SqliteConnection } from './driver.ts';

/** What the group commit achieved so far (the bench reports it). */
export interface CommitCounts {
  /** Transactions committed. */
  commits: number;
  /** Tasks accepted in them (submissions; claims and endings ride along). */
  tasks: number;
  /** Batches rolled back. */
  failures: number;
}

/** The writes of one turn: settled when they are committed (or rolled back). */
export interface BatchRef {
  readonly promise: Promise<void>;
  /** Tasks inserted in it: none of them exists outside it. */
  readonly inserted: Set<string>;
  /** One more task accepted in it (for the counts). */
  accept(): void;
}

class Batch implements BatchRef {
  readonly promise: Promise<void>;
  readonly inserted = new Set<string>();
  tasks = 0;
  after: Array<() => void> = [];
  #resolve!: () => void;
  #reject!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Nobody may be waiting on a batch that fails: that is not an unhandled rejection.
    this.promise.catch(() => {});
  }

  accept(): void {
    this.tasks++;
  }

  done(): void {
    this.#resolve();
    for (const fn of this.after) fn();
  }

  fail(error: unknown): void {
    this.#reject(error);
  }
}

const SETTLED = Promise.resolve();

export class GroupCommit {
  #connection: SqliteConnection;
  #schedule: (fn: () => void) => void;
  #rolledBack: (error: unknown) => void;
  #batch: Batch | undefined;
  #closed = false;
  #counts: CommitCounts = { commits: 0, tasks: 0, failures: 0 };

  /**
   * `rolledBack` is told of each batch rolled back, with why (the store forgets what it kept in
   * memory of the rows). `schedule` runs the commit; by default after the turn's I/O.
   */
  constructor(
    connection: SqliteConnection,
    rolledBack: (error: unknown) => void,
    schedule: (fn: () => void) => void = afterIo,
  ) {
    this.#connection = connection;
    this.#rolledBack = rolledBack;
    this.#schedule = schedule;
  }

  get counts(): Readonly<CommitCounts> {
    return this.#counts;
  }

  /** Before each write: the first of a turn begins the transaction and schedules its commit. */
  begin(): void {
    if (this.#batch) return;
    if (this.#closed) throw new Error('the task store is closed');
    this.#connection.exec('BEGIN');
    const batch = new Batch();
    this.#batch = batch;
    this.#schedule(() => {
      this.#commit(batch);
    });
  }

  /** The batch open now, if any: the writes made so far are in it. */
  current(): BatchRef | undefined {
    return this.#batch;
  }

  /** Resolves once every write so far is committed; rejects with why if its commit failed. */
  settled(): Promise<void> {
    return this.current()?.promise ?? SETTLED;
  }

  /** Run `fn` once the writes so far are committed (at once when none wait); never if they fail. */
  afterCommit(fn: () => void): void {
    if (this.#batch) this.#batch.after.push(fn);
    else fn();
  }

  /** Commit what is open now, without waiting for the turn to end; throws if that failed. */
  flush(): void {
    const failed = this.#batch && this.#commit(this.#batch);
    if (failed) throw failed.error;
  }

  /** A write failed: the open batch is rolled back at once, and everyone on it told `error`. */
  abort(error: unknown): void {
    const batch = this.#batch;
    if (!batch) return;
    this.#batch = undefined;
    this.#rollBack(batch, error);
  }

  /** Commit what is open; later writes are refused. */
  close(): void {
    this.flush();
    this.#closed = true;
  }

  /** Commit `batch` (unless flushed or aborted already); what went wrong, if anything. */
  #commit(batch: Batch): { error: unknown } | undefined {
    if (this.#batch !== batch) return undefined;
    this.#batch = undefined;
    try {
      this.#connection.exec('COMMIT');
    } catch (error) {
      this.#rollBack(batch, error);
      return { error };
    }
    this.#counts.commits++;
    this.#counts.tasks += batch.tasks;
    batch.done();
    return undefined;
  }

  #rollBack(batch: Batch, error: unknown): void {
    try {
      this.#connection.exec('ROLLBACK');
    } catch {
      // SQLite rolled it back itself (a full disk, an I/O error).
    }
    this.#counts.failures++;
    this.#rolledBack(error);
    batch.fail(error);
  }
}
