/**
 * The tasks this server runs, by BullMQ's manual fetching: a claim takes a job with a fresh lock
 * token (`worker.getNextJob`), the locks are renewed while the pools run them, and the ending is
 * reported with that token (`moveToCompleted` / `moveToFailed` / `moveToWait`). BullMQ refuses a
 * report whose lock was lost, so each task is reported once.
 *
 * Writes go through a connection that waits out a Redis outage (BullMQ's `maxRetriesPerRequest:
 * null`), with the claim kept (and its lock renewed) until the report lands: a task that ends
 * while Redis is away is reported when it returns.
 * @module
 */
import { type Job, type MinimalJob, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ClaimedTask, TaskEnding, TaskRecord } from '../../types.ts';
import { retryDelay, shouldRetry } from '../retry.ts';
import { type Keys, toTaskId } from './keys.ts';
import { type EndMark, isTerminal, type JobData, type RawTask, type RunMark } from './records.ts';

/** What the runner needs from the backend around it. */
export interface RunnerContext {
  keys: Keys;
  serverId: string;
  /** The waiting connection (offline queue on). */
  redis: Redis;
  lockMs: number;
  ttlMs: number;
  readRaw(ids: string[]): Promise<(RawTask | undefined)[]>;
  read(id: string): Promise<TaskRecord | undefined>;
  publish(record: TaskRecord | undefined): void;
  /** This server reported the end of task `id` (its metrics count it, no other server's). */
  reported(id: string): void;
  /** Tasks of `fn` known to wait across the cluster (a hint for how many to fetch at once). */
  waiting(fn: string): number;
  /** `delta` tasks of `fn` joined (+) or left (-) the cluster's backlog here. */
  backlog(fn: string, delta: number): void;
  /** A task this server ran was cancelled elsewhere: stop its worker. */
  cancelled(id: string): void;
  warn(message: string): void;
}

interface Claim {
  job: Job;
  token: string;
  fn: string;
  attempt: number;
  data: JobData;
  /** Set once its ending is being reported (a cancel arriving then changes nothing here). */
  finishing?: boolean;
}

const LOST = 'the server running it was lost';

export class Runner {
  #c: RunnerContext;
  #workers = new Map<string, Promise<Worker>>();
  #claims = new Map<string, Claim>();
  #tokens = 0;
  #renewTimer: ReturnType<typeof setInterval>;
  #closed = false;
  #leaving = false;

  constructor(context: RunnerContext) {
    this.#c = context;
    // Renew three times per lock period, so a late timer on a loaded machine still makes it.
    this.#renewTimer = setInterval(() => void this.#renew(), Math.floor(context.lockMs / 3));
  }

  /** Tasks held by this server now. */
  get running(): number {
    return this.#claims.size;
  }

  /** Take no more tasks (a draining server leaves the queue to the others); report the rest. */
  leave(): void {
    this.#leaving = true;
  }

  async claim(fn: string, max: number, workerId: number): Promise<ClaimedTask[]> {
    if (this.#closed || this.#leaving) return [];
    const worker = await this.#worker(fn);
    const claimed: ClaimedTask[] = [];
    while (claimed.length < max && !this.#closed) {
      // Fetch as many at once as are wanted and known to wait: one round trip, not one each.
      const wanted = Math.min(max - claimed.length, Math.max(1, this.#c.waiting(fn)));
      const tokens = Array.from({ length: wanted }, () => `${this.#c.serverId}:${++this.#tokens}`);
      const jobs = await Promise.all(
        tokens.map((token) =>
          worker.getNextJob(token, { block: false }).catch((error: unknown) => {
            this.#c.warn(`claiming a task of ${fn} failed: ${String(error)}`);
            return undefined;
          }),
        ),
      );
      const taken = await Promise.all(
        jobs.map((job, i) =>
          job?.id
            ? this.#take(job, tokens[i] as string, fn, workerId).catch((error: unknown) => {
                this.#c.warn(`claiming task ${job.id} failed: ${String(error)}`);
                return undefined;
              })
            : undefined,
        ),
      );
      for (const task of taken) if (task) claimed.push(task);
      if (jobs.some((job) => !job?.id)) break; // the queue ran dry
    }
    if (claimed.length > 0) this.#c.backlog(fn, -claimed.length);
    return claimed;
  }

  /** A fetched job: run it, or settle it at once when it was cancelled or its attempts were lost. */
  async #take(job: Job, token: string, fn: string, workerId: number) {
    const id = toTaskId(job.id as string);
    const data = job.data as JobData;
    // A run lost with its server spends an attempt, as a reported failure does.
    const attempt = job.attemptsMade + job.stalledCounter + 1;
    const claim: Claim = { job, token, fn, attempt, data };
    const run: RunMark = { w: workerId, s: Date.now(), a: attempt, srv: this.#c.serverId };
    const [[, cancelled] = []] =
      (await this.#c.redis
        .multi()
        .exists(this.#c.keys.cancel(id))
        .hset(this.#c.keys.job(fn, job.id as string), 'ebr', JSON.stringify(run))
        .exec()) ?? [];
    if (cancelled === 1) {
      this.#c.backlog(fn, -1);
      await this.#fail(claim, 'cancelled', undefined, false);
      return undefined;
    }
    if (attempt > data.attempts) {
      // Every attempt it had was spent, the last one on a server that was lost.
      this.#c.backlog(fn, -1);
      await this.#fail(claim, LOST, { a: attempt - 1, c: 'server_lost', e: LOST }, false);
      return undefined;
    }
    this.#claims.set(id, claim);
    this.#c.publish({
      id,
      function: fn,
      status: 'running',
      submittedAt: job.timestamp,
      startedAt: run.s,
      workerId,
      attempt,
      attempts: data.attempts,
    });
    return {
      id,
      function: fn,
      args: data.args,
      timeoutMs: data.timeoutMs,
      attempt,
      submittedAt: job.timestamp,
    };
  }

  async finish(id: string, ending: TaskEnding): Promise<void> {
    const claim = this.#claims.get(id);
    if (!claim || claim.finishing) return; // cancelled meanwhile, or reported already
    claim.finishing = true;
    try {
      await this.#report(id, claim, ending);
    } catch (error) {
      // BullMQ refused: the lock was lost (this server went too long without renewing it) and
      // the task went back to the queue; the server that runs it next reports it.
      this.#c.warn(`the ending of task ${id} was dropped: ${String(error)}`);
    } finally {
      this.#release(id, claim);
    }
  }

  async #report(id: string, claim: Claim, ending: TaskEnding) {
    if (ending.status === 'unstarted') {
      await claim.job.moveToWait(claim.token);
      this.#c.backlog(claim.fn, 1);
      await this.#requeued(id);
      return;
    }
    const end: EndMark = { a: claim.attempt, t: ending.endedAt, w: ending.workerId };
    if (ending.startedAt !== undefined) end.s = ending.startedAt;
    if (ending.executionTime !== undefined) end.x = ending.executionTime;
    if (ending.version !== undefined) end.v = ending.version;
    if (ending.logs && ending.logs.length > 0) end.l = ending.logs;
    if (ending.status === 'completed') {
      end.r = ending.result;
      await claim.job.moveToCompleted(end, claim.token, false);
      await this.#settled(id);
      return;
    }
    end.c = ending.errorCode;
    end.e = ending.error;
    const retry = shouldRetry(ending.errorCode, claim.attempt, claim.data);
    await this.#fail(claim, ending.error, end, retry);
  }

  /** Move a claimed job to failed, or to its retry, with ebbflow's fields on the hash. */
  async #fail(claim: Claim, error: string, end: EndMark | undefined, retry: boolean) {
    const id = toTaskId(claim.job.id as string);
    if (end) {
      await this.#c.redis.hset(
        this.#c.keys.job(claim.fn, claim.job.id as string),
        'ebf',
        JSON.stringify(end),
      );
    }
    const reason = new Error(error);
    // BullMQ counts only reported failures; a run lost with its server is spent too, so ebbflow
    // decides whether to retry and tells BullMQ when not to.
    if (!retry) reason.name = 'UnrecoverableError';
    await claim.job.moveToFailed(reason, claim.token, false);
    if (retry) {
      this.#c.backlog(claim.fn, 1);
      await this.#requeued(id);
    } else {
      await this.#settled(id);
    }
  }

  /** A task went back to the queue: tell every server, unless it has already moved on. */
  async #requeued(id: string) {
    const record = await this.#c.read(id).catch(() => undefined);
    // A short backoff may have let another server run and end it already: its ending was told.
    if (record && !isTerminal(record)) this.#c.publish(record);
  }

  /** A task became terminal: start its time to live, and tell every server. */
  async #settled(id: string) {
    const { keys, ttlMs } = this.#c;
    await this.#c.redis.multi().pexpire(keys.id(id), ttlMs).pexpire(keys.cancel(id), ttlMs).exec();
    const record = await this.#c.read(id).catch(() => undefined);
    // A cancelled task was announced by the cancel itself: one terminal event per task.
    if (record && record.status !== 'cancelled') {
      this.#c.reported(id);
      this.#c.publish(record);
    }
  }

  /** A cancel reached this server: if it runs the task, stop it and settle the job. */
  async stop(id: string): Promise<void> {
    const claim = this.#claims.get(id);
    if (!claim || claim.finishing) return;
    claim.finishing = true;
    this.#c.cancelled(id);
    try {
      await this.#fail(claim, 'cancelled', undefined, false);
    } catch (error) {
      this.#c.warn(`settling cancelled task ${id} failed: ${String(error)}`);
    } finally {
      this.#release(id, claim);
    }
  }

  /**
   * Forget a claim once reported. Only that claim: a retry with a short backoff may already have
   * been claimed again here, under a new token, while this report was finishing.
   */
  #release(id: string, claim: Claim) {
    if (this.#claims.get(id) === claim) this.#claims.delete(id);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#renewTimer);
    const workers = await Promise.all(this.#workers.values());
    await Promise.all(workers.map((worker) => worker.close(true).catch(() => {})));
  }

  /** The BullMQ worker of one function, in manual mode (no processor, no main loop). */
  #worker(fn: string): Promise<Worker> {
    let worker = this.#workers.get(fn);
    if (!worker) {
      const created = new Worker(fn, null, {
        connection: this.#c.redis,
        prefix: this.#c.keys.bull,
        autorun: false,
        lockDuration: this.#c.lockMs,
        stalledInterval: this.#c.lockMs,
        // A stall is not a failure to BullMQ here: the next claim counts it as a spent attempt.
        maxStalledCount: Number.MAX_SAFE_INTEGER,
        settings: { backoffStrategy: backoff },
      });
      created.on('error', (error) => this.#c.warn(`BullMQ worker of ${fn}: ${error.message}`));
      worker = created.waitUntilReady().then(() => {
        // Every server that runs a function watches its queue for stalled jobs.
        void created.startStalledCheckTimer();
        return created;
      });
      this.#workers.set(fn, worker);
    }
    return worker;
  }

  /** Keep the locks of what this server runs, one call per function. */
  async #renew() {
    const byFn = new Map<string, Claim[]>();
    for (const claim of this.#claims.values()) {
      byFn.set(claim.fn, [...(byFn.get(claim.fn) ?? []), claim]);
    }
    for (const [fn, claims] of byFn) {
      const worker = await this.#workers.get(fn);
      await worker
        ?.extendJobLocks(
          claims.map((c) => c.job.id as string),
          claims.map((c) => c.token),
          this.#c.lockMs,
        )
        .catch(() => {});
    }
  }
}

/** BullMQ's custom backoff: the shared rule, `backoffMs × 2^(n-1)` plus up to 20 % jitter. */
const backoff = (attemptsMade: number, _type?: string, _err?: Error, job?: MinimalJob) =>
  retryDelay((job?.data as JobData | undefined)?.backoffMs ?? 0, attemptsMade, Math.random);
