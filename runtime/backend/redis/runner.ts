/**
 * The tasks this server runs. Claims asked for in the same turn (one per worker with room) go
 * to Redis together as one CLAIM script; endings reported in the same turn (`batch.ts`) as one
 * FINISH script. Each run carries the token its claim got: a report counts only while the task is
 * still that run's, so a task is reported once even when a server thought lost comes back.
 *
 * A report Redis did not take (away, or no answer in time) is kept and sent again, when Redis
 * answers again and at each reconcile pass, until it is taken (a repeat of one that was taken
 * late is refused): a task that ends while Redis is away is reported when it returns. A claim
 * whose answer was lost on the way (the connection dropped after Redis ran it) leaves tasks held
 * here that no worker has: the reconcile pass finds them in the server's held set, unknown here
 * twice in a row, and puts them back at the front.
 * @module
 */
import type { Redis } from 'ioredis';
import { unrefTimer } from '../../time/timers.ts';
import type { ClaimedTask, TaskEnding } from '../../types.ts';
import { retryDelay, shouldRetry } from '../retry.ts';
import { Batch } from './batch.ts';
import type { Keys } from './keys.ts';
import { type ClaimRow, decodeClaimRow, terminalRecord } from './records.ts';
import type { Header, Scripts } from './scripts.ts';

/** What the runner needs from the backend around it. */
export interface RunnerContext {
  /** The scripts on the store connection, and that connection. */
  scripts: Scripts;
  redis: Redis;
  /** When a claim sent now must no longer take tasks (Redis time, ms). */
  deadline(): number;
  keys: Keys;
  serverId: string;
  /** How long a lease lasts without renewal (the claim renews it). */
  leaseMs: number;
  header(): Header;
  /** Tasks seen joining `fn`'s backlog so far (read as a claim is sent). */
  joined(fn: string): number;
  /** After a claim: how many tasks of `fn` are left waiting or backing off, cluster-wide. */
  left(fn: string, count: number, joined: number): void;
  /** A task this server ran was cancelled: stop its worker. */
  cancelled(id: string): void;
  /** Tasks of `fn` went back to the front of the queue here: claim them again. */
  available(fn: string): void;
  warn(message: string): void;
}

interface ClaimRequest {
  workerId: number;
  max: number;
}

/** One run's report as FINISH takes it: id, token, kind, then three values. */
type Report = [string, string, string, string | number, string, string | number];

interface Held extends ClaimRow {
  /** Set once its ending is on its way (a cancel arriving then changes nothing here). */
  report?: Report;
}

export class Runner {
  #c: RunnerContext;
  #held = new Map<string, Held>();
  #claims = new Map<string, Batch<ClaimRequest, ClaimedTask[]>>();
  #reports = new Batch<Report, undefined>((reports) => this.#sendReports(reports));
  /** Reports Redis did not take (away, no answer in time): sent again until it does. */
  #unsent: Report[] = [];
  #claimTrips = 0;
  /** Ids held in Redis but unknown here at the last reconcile. */
  #strangers = new Set<string>();
  #inflight = new Set<Promise<unknown>>();
  #timer: ReturnType<typeof setInterval>;
  #closed = false;
  #leaving = false;

  constructor(context: RunnerContext) {
    this.#c = context;
    this.#timer = setInterval(() => void this.#reconcile(), context.leaseMs);
    unrefTimer(this.#timer);
  }

  /** Tasks held by this server now. */
  get running(): number {
    return this.#held.size;
  }

  /** Take no more tasks (a draining server leaves the queue to the others); report the rest. */
  leave(): void {
    this.#leaving = true;
  }

  /** Up to `max` tasks of `fn` for worker `workerId`; asked with the others of this turn. */
  claim(fn: string, max: number, workerId: number): Promise<ClaimedTask[]> {
    if (this.#closed || this.#leaving || max <= 0) return Promise.resolve([]);
    let batch = this.#claims.get(fn);
    if (!batch) {
      batch = new Batch((requests) => this.#track(this.#sendClaims(fn, requests)));
      this.#claims.set(fn, batch);
    }
    return batch.add({ workerId, max });
  }

  async #sendClaims(fn: string, batch: ClaimRequest[]): Promise<ClaimedTask[][]> {
    const given: ClaimedTask[][] = batch.map(() => []);
    if (this.#closed || this.#leaving) return given;
    try {
      const header = this.#c.header();
      const joined = this.#c.joined(fn);
      const tokens = `${this.#c.serverId}:${++this.#claimTrips}`;
      const pairs = batch.flatMap((r) => [r.workerId, r.max]);
      const [left, rows] = (await this.#c.scripts.claim(
        header,
        fn,
        this.#c.leaseMs,
        tokens,
        this.#c.deadline(),
        ...pairs,
      )) as [number, unknown[][]];
      // Registered at once, in the answer's own turn: the reconcile pass relies on it.
      for (const row of rows) {
        const claimed = decodeClaimRow(row, fn, header.now);
        this.#held.set(claimed.task.id, claimed);
        given[claimed.pair]?.push(claimed.task);
      }
      this.#c.left(fn, left, joined);
    } catch (error) {
      this.#c.warn(`claiming tasks of ${fn} failed: ${String(error)}`);
    }
    return given;
  }

  /** Report how a claimed task ended; resolves once Redis has it (or dropped it). */
  finish(id: string, ending: TaskEnding): Promise<void> {
    const claim = this.#held.get(id);
    if (!claim || claim.report) return Promise.resolve(); // cancelled meanwhile, or reported
    claim.report = reportOf(claim, ending);
    return this.#reports.add(claim.report);
  }

  async #sendReports(reports: Report[]): Promise<undefined[]> {
    try {
      await this.#track(this.#c.scripts.finish(this.#c.header(), ...reports.flat()));
      this.#requeued(reports);
    } catch (error) {
      // Kept held, so the reconcile pass does not take them for orphans; it sends them again.
      this.#c.warn(`reporting ${reports.length} task endings failed: ${String(error)}`);
      this.#unsent.push(...reports);
    }
    return reports.map(() => undefined);
  }

  /** Send again the reports Redis did not take (it answers again). */
  async resend(): Promise<void> {
    if (this.#unsent.length === 0) return;
    const again = this.#unsent.splice(0);
    try {
      await this.#track(this.#c.scripts.finish(this.#c.header(), ...again.flat()));
      this.#requeued(again);
    } catch (error) {
      this.#unsent.unshift(...again);
      throw error;
    }
  }

  /** A cancel reached this server: if it runs the task, stop it (Redis has settled it already). */
  stop(id: string): void {
    const claim = this.#held.get(id);
    if (!claim || claim.report) return;
    this.#held.delete(id);
    this.#c.cancelled(id);
  }

  /** Reports made: forget their runs; tell of tasks that can be claimed again at once. */
  #requeued(reports: Report[]) {
    const again = new Set<string>();
    for (const [id, , kind, , , delay] of reports) {
      const claim = this.#held.get(id);
      this.#held.delete(id);
      if (claim && (kind === 'unstarted' || kind === 'orphan' || (kind === 'retry' && !delay))) {
        again.add(claim.task.function);
      }
    }
    for (const fn of again) this.#c.available(fn);
  }

  /**
   * Find tasks Redis says this server holds but no worker here has (a claim whose answer was
   * lost), seen so twice in a row a lease apart, and queue them again; resend failed reports.
   */
  async #reconcile(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.resend();
      const held = await this.#c.redis.smembers(this.#c.keys.held(this.#c.serverId));
      const strangers = held.filter((id) => !this.#held.has(id));
      const orphans = strangers.filter((id) => this.#strangers.has(id));
      this.#strangers = new Set(strangers.filter((id) => !this.#strangers.has(id)));
      if (orphans.length > 0) {
        this.#c.warn(`${orphans.length} task(s) held here without a worker went back to the queue`);
        await this.#c.scripts.finish(
          this.#c.header(),
          ...orphans.flatMap((id) => [id, '*', 'orphan', '', '', '']),
        );
      }
    } catch (error) {
      this.#c.warn(`checking the tasks held here failed: ${String(error)}`);
    }
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise);
    void promise.finally(() => this.#inflight.delete(promise)).catch(() => {});
    return promise;
  }

  /** Stop claiming; wait (at most `ms`) for claims and reports already on their way. */
  async close(ms: number): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    void this.#reports.flush(); // tracked below, as any report on its way
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inflight]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }
}

/** How a run ended, as FINISH takes it (the retry decided here, with its backoff drawn). */
const reportOf = (claim: ClaimRow, ending: TaskEnding): Report => {
  const { id, attempt } = claim.task;
  if (ending.status === 'unstarted') return [id, claim.token, 'unstarted', '', '', ''];
  const policy = { attempts: claim.attempts, backoffMs: claim.backoffMs };
  if (ending.status === 'failed' && shouldRetry(ending.errorCode, attempt, policy)) {
    const delay = retryDelay(claim.backoffMs, attempt, Math.random);
    return [id, claim.token, 'retry', ending.error, ending.errorCode, delay];
  }
  return [id, claim.token, ending.status, JSON.stringify(terminalRecord(claim, ending)), '', ''];
};
