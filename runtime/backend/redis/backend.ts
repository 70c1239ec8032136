/**
 * The TaskBackend of several servers, on Redis: ebbflow's own task model in Lua scripts
 * (`scripts.ts`), one script per step, each one round trip: a task costs three (submit, claim,
 * finish), and claims and reports of the same turn share one. Every change is announced on the
 * events channel by the script that makes it; waiters and listeners on every server hear it.
 *
 * A claim gives each run a token; only a report with that token counts, so a task ends once. A
 * server renews its lease with every tick; a server whose lease lapses is lost, and any live
 * server's tick takes its runs back (run again while attempts are left, else `server_lost`).
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  alreadyTerminal,
  duplicateId,
  EbbflowError,
  messageOf,
  notRetryable,
  queueFull,
  unknownCursor,
  unknownTask,
} from '../../errors.ts';
import { afterIo } from '../../time/timers.ts';
import type {
  ClaimedTask,
  NewTask,
  TaskEnding,
  TaskPage,
  TaskQuery,
  TaskRecord,
} from '../../types.ts';
import type { TaskBackend, TaskListener } from '../contract.ts';
import { idempotencyKeyReused, idempotentTaskExpired, markReplayed } from '../idempotency.ts';
import { BackendListeners } from '../listeners.ts';
import { PageBudget } from '../page-size.ts';
import { Batch } from './batch.ts';
import { ClusterView, steadyNow } from './cluster-view.ts';
import { backendUnavailable, type Connections, connect, displayUrl } from './connection.ts';
import { type Keys, keysFor } from './keys.ts';
import { type ChangeEvent, isTerminal, parseEvent, parseRecord } from './records.ts';
import { Runner } from './runner.ts';
import { type Header, type Scripts, scriptsOf } from './scripts.ts';
import { TaskWatch } from './watch.ts';

export { backendUnavailable, displayUrl } from './connection.ts';

export interface RedisBackendOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  url: string;
  /** Kept finished records this long. */
  resultTtlMs: number;
  /** Finished records kept, the oldest finished going first. */
  maxResults: number;
  /**
   * Longest time from a server's death to its tasks being retried or failed. A lease lasts half
   * of it; every server checks the others' leases four times per lease. @default 30000
   */
  lostAfterMs?: number;
  /**
   * Longest wait for Redis on a caller's behalf: past it the call fails `backend_unavailable`.
   * @default 5000
   */
  timeoutMs?: number;
  /** Keys start with this, so several clusters can share one Redis. @default 'ebbflow' */
  prefix?: string;
  /** Shown in the cluster's server list. */
  describe?: Record<string, unknown>;
  log?: (message: string) => void;
}

/** One task's values for the SUBMIT script, and its answer (see `task-scripts.ts`). */
type SubmitArgs = [
  string,
  string,
  number,
  number,
  number,
  number,
  string,
  string,
  number | '',
  string,
  string,
  number,
];
type SubmitAnswer = [string, string?, string?];

/** A waiter reads the record again this often, should an event have been missed. */
const WAIT_POLL_MS = 1_000;
const MAX_REPORTED = 10_000;

/** Connect to Redis, or throw an error that names the URL. */
export const createRedisBackend = async (
  options: RedisBackendOptions,
): Promise<RedisTaskBackend> => {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const connections = await connect(options.url, timeoutMs);
  const backend = new RedisTaskBackend(connections, { ...options, timeoutMs });
  try {
    await backend.start();
  } catch (error) {
    await backend.close();
    throw new Error(
      `cannot reach Redis at ${displayUrl(options.url)} (EBBFLOW_REDIS_URL): ${messageOf(error)}`,
    );
  }
  return backend;
};

export class RedisTaskBackend implements TaskBackend {
  readonly shared = true;
  readonly serverId = randomUUID();
  readonly cluster: ClusterView;
  #c: Connections;
  #scripts: Scripts;
  #keys: Keys;
  #url: string;
  #ttlMs: number;
  #maxResults: number;
  #timeoutMs: number;
  /** Redis's clock minus this server's steady clock (ms): deadlines are checked on Redis's. */
  #offsetMs = 0;
  #runner: Runner;
  #log: (message: string) => void;
  #listeners: BackendListeners;
  #watch = new TaskWatch();
  /** Functions with tasks queued by other servers in this turn. */
  #remote = new Set<string>();
  #submits = new Batch<SubmitArgs, SubmitAnswer>((tasks) =>
    this.#call(
      async () =>
        (await this.#scripts.submit(
          this.#header(),
          this.#deadline(),
          ...tasks.flat(),
        )) as SubmitAnswer[],
    ),
  );
  #closed = false;
  #leaving = false;
  #reported = new Set<string>();
  #lastWarning = 0;

  constructor(connections: Connections, options: RedisBackendOptions & { timeoutMs: number }) {
    this.#c = connections;
    this.#scripts = scriptsOf(connections.store);
    this.#url = options.url;
    this.#keys = keysFor(options.prefix ?? 'ebbflow');
    this.#ttlMs = options.resultTtlMs;
    this.#maxResults = options.maxResults;
    this.#timeoutMs = options.timeoutMs;
    this.#log = options.log ?? ((message) => console.error(message));
    this.#listeners = new BackendListeners(this.#log);
    const leaseMs = Math.max(300, Math.floor((options.lostAfterMs ?? 30_000) / 2));
    this.#runner = new Runner({
      scripts: this.#scripts,
      redis: connections.store,
      deadline: () => this.#deadline(),
      keys: this.#keys,
      serverId: this.serverId,
      leaseMs,
      header: () => this.#header(),
      joined: (fn) => this.cluster.joined(fn),
      left: (fn, count, joined) => this.cluster.left(fn, count, joined),
      cancelled: (id) => this.#listeners.cancelled(id),
      available: (fn) => {
        this.cluster.adjust(fn, 1);
        this.#listeners.available(fn);
      },
      warn: (message) => this.#warn(message),
    });
    this.cluster = new ClusterView({
      scripts: this.#scripts,
      header: () => this.#header(),
      serverId: this.serverId,
      leaseMs,
      describe: options.describe ?? {},
      onBacklog: (fn) => this.#listeners.available(fn),
      onReachable: (reachable) => {
        if (!reachable) this.#watch.fail(backendUnavailable(this.#url, 'no answer'));
        else void this.#runner.resend().catch(() => {});
      },
      onClock: (offsetMs) => {
        this.#offsetMs = offsetMs;
      },
      sweep: () => this.expire(Date.now()),
    });
  }

  /** Subscribe to the channels, tick once (lease, clock, counts), start the timers. */
  async start(): Promise<void> {
    const { events } = this.#c;
    events.on('message', (channel: string, message: string) => {
      if (channel === this.#keys.cancels) this.#runner.stop(message);
      else this.#onEvent(parseEvent(message));
    });
    // Whatever was published while the subscription was down is lost: waiters read again.
    events.on('close', () => this.#watch.broken());
    // Reports made while the connection was down go out as soon as it is back.
    this.#c.store.on('ready', () => void this.#runner.resend().catch(() => {}));
    await events.subscribe(this.#keys.events, this.#keys.cancels);
    await this.cluster.refresh();
    this.cluster.start();
  }

  /** Whether Redis answers now. */
  get connected(): boolean {
    return this.#c.store.status === 'ready' && this.cluster.reachable;
  }

  /**
   * One SUBMIT script for the tasks submitted in this turn (`#submits`); each caller gets its
   * own outcome. The id, queue limit, deadline and idempotency key are checked inside Redis,
   * atomically: a repeated key costs no round trip more than a submit.
   */
  async submit(task: NewTask): Promise<TaskRecord> {
    this.#ensureUp();
    const id = task.id ?? randomUUID();
    const key = task.idempotency;
    this.#watch.expect(id, Date.now());
    const accepted = this.#submits.add([
      id,
      task.function,
      task.maxQueue,
      task.retry.attempts,
      task.retry.backoffMs,
      task.timeoutMs,
      JSON.stringify(task.args),
      task.retryOf ?? '',
      task.version ?? '',
      key?.key ?? '',
      key?.fingerprint ?? '',
      key?.ttlMs ?? 0,
    ]);
    // Told before it is sent: a pool with room claims in this same turn, and the claim leaves
    // right behind the submit on the same connection, so both take one round trip (a claim that
    // finds nothing, should the submit be refused, is harmless).
    this.cluster.adjust(task.function, 1);
    this.#listeners.available(task.function);
    let answer: SubmitAnswer;
    try {
      answer = await accepted;
    } catch (error) {
      this.#watch.forget(id);
      this.cluster.adjust(task.function, -1);
      throw error;
    }
    const [outcome, detail, taskId] = answer;
    if (outcome !== 'ok') {
      this.#watch.forget(id);
      this.cluster.adjust(task.function, -1);
    }
    if (outcome === 'duplicate') throw duplicateId(id);
    if (outcome === 'full') throw queueFull(task.function, task.maxQueue);
    if (outcome === 'late') throw this.#late();
    // A repeated key: the task it created, as it is now; nothing created.
    if (key && outcome === 'replay') return markReplayed(parseRecord(detail) as TaskRecord);
    if (key && outcome === 'expired') throw idempotentTaskExpired(key.key, detail as string);
    if (key && outcome === 'reused') {
      throw idempotencyKeyReused(key.key, detail as string, taskId as string);
    }
    const record = parseRecord(detail) as TaskRecord;
    this.#watch.submitted(record);
    return record;
  }

  claim(fn: string, max: number, workerId: number): Promise<ClaimedTask[]> {
    if (this.#closed || this.#leaving) return Promise.resolve([]);
    return this.#runner.claim(fn, max, workerId);
  }

  finish(id: string, ending: TaskEnding): Promise<void> {
    return this.#runner.finish(id, ending);
  }

  async read(id: string): Promise<TaskRecord | undefined> {
    return (await this.#readMany([id]))[0];
  }

  async #readMany(ids: string[]): Promise<(TaskRecord | undefined)[]> {
    if (ids.length === 0) return [];
    const answer = (await this.#call(() =>
      this.#scripts.read(this.#header(), ...ids),
    )) as unknown[];
    return answer.map(parseRecord);
  }

  async wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    const deadline = Date.now() + ms;
    // Follow before reading, so a change between the two is not missed.
    const follower = this.#watch.follow(id);
    try {
      // A task submitted here: what the events told of it since, without a read.
      let record = this.#watch.known(id) ?? (await this.read(id));
      for (;;) {
        const left = deadline - Date.now();
        if (!record || isTerminal(record)) {
          this.#watch.forget(id);
          return record;
        }
        if (left <= 0) return record;
        // A change carries the whole record (a terminal one its result): read only after a
        // silence, should an event have been missed.
        record = (await follower.next(Math.min(WAIT_POLL_MS, left))) ?? (await this.read(id));
      }
    } finally {
      follower.close();
    }
  }

  async cancel(id: string): Promise<TaskRecord> {
    this.#ensureUp();
    const answer = (await this.#call(() =>
      this.#scripts.cancel(this.#header(), id, this.#deadline()),
    )) as [string, string?, number?];
    const [outcome, detail, running] = answer;
    if (outcome === 'unknown') throw unknownTask(id);
    if (outcome === 'terminal') throw alreadyTerminal(id, detail as string);
    if (outcome === 'late') throw this.#late();
    const record = parseRecord(detail) as TaskRecord;
    if (running !== 1) this.cluster.adjust(record.function, -1);
    return record;
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    const k = this.#keys;
    const index = query.function ? k.byFunction(query.function) : k.all;
    let max = '+inf';
    if (query.before !== undefined) {
      const before = query.before;
      const score = await this.#call(() => this.#c.store.zscore(k.all, before));
      if (score === null) throw unknownCursor(before);
      max = `(${score}`;
    }
    const tasks: TaskRecord[] = [];
    // A page is cut short rather than grow past about 16 MiB (page-size.ts).
    const budget = new PageBudget();
    let more = false;
    const batch = Math.max(50, Math.min(1000, query.limit * 2));
    while (!more) {
      const page = await this.#call(() =>
        this.#c.store.zrevrangebyscore(index, max, '-inf', 'WITHSCORES', 'LIMIT', 0, batch),
      );
      if (page.length === 0) break;
      const ids = page.filter((_, i) => i % 2 === 0);
      max = `(${page[page.length - 1]}`;
      const records = await this.#readMany(ids);
      const gone: string[] = [];
      records.forEach((record, i) => {
        if (!record) {
          gone.push(ids[i] as string);
          return;
        }
        if (more) return;
        if (query.status !== undefined && record.status !== query.status) return;
        if (tasks.length === query.limit || !budget.take(record)) more = true;
        else tasks.push(record);
      });
      if (gone.length > 0) void this.#scripts.sweep(this.#header(), ...gone).catch(() => {});
      if (ids.length < batch) break;
    }
    const page: TaskPage = { tasks };
    if (more) page.next = (tasks.at(-1) as TaskRecord).id;
    return page;
  }

  async replay(id: string, maxQueue: number): Promise<TaskRecord> {
    const [status, fn, args, timeoutMs, attempts, backoffMs, version] = await this.#call(() =>
      this.#c.store.hmget(this.#keys.task(id), 'st', 'fn', 'args', 'to', 'n', 'bo', 'v'),
    );
    if (!status || !fn) throw unknownTask(id);
    if (status !== 'failed' && status !== 'cancelled') throw notRetryable(id, status);
    const task: NewTask = {
      function: fn,
      args: JSON.parse(args ?? '[]') as unknown[],
      timeoutMs: Number(timeoutMs),
      retry: { attempts: Number(attempts), backoffMs: Number(backoffMs) },
      retryOf: id,
      maxQueue,
    };
    if (version) task.version = Number(version);
    return this.submit(task);
  }

  /**
   * Records expire by themselves (a time to live in Redis, the cap enforced as tasks end); this
   * drops the oldest listing entries whose record is gone.
   */
  async expire(_now: number): Promise<void> {
    if (!this.connected) return;
    await this.#scripts.sweep(this.#header()).catch(() => {});
  }

  queued(fn: string): number {
    // A server that left takes no more: its pools see nothing waiting, so its drain ends with
    // what it runs, and the cluster's queue stays for the others.
    return this.#leaving ? 0 : this.cluster.backlog(fn);
  }

  /**
   * Stop taking tasks (before a drain): `claim` hands out none and `queued` reads 0 here, while
   * what this server runs still reports and every read keeps answering.
   */
  leave(): void {
    this.#leaving = true;
    this.#runner.leave();
  }

  /**
   * Whether this server reported the end of task `id` (and forget it): every server hears every
   * ending, and a server's own metrics count only its own.
   */
  reportedHere(id: string): boolean {
    return this.#reported.delete(id);
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.cluster.stop();
    await this.#runner.close(this.#timeoutMs);
    // Leave the server list at once; a lease given up lets others take back what is still held.
    const k = this.#keys;
    await this.#c.store
      .multi()
      .zrem(k.servers, this.serverId)
      .del(k.server(this.serverId), k.lease(this.serverId))
      .exec()
      .catch(() => {});
    for (const client of [this.#c.events, this.#c.store]) client.disconnect();
  }

  #onEvent(event: ChangeEvent | undefined) {
    if (!event) return;
    const here = event.server === this.serverId;
    for (const record of event.records) {
      if (here && isTerminal(record)) this.#markReported(record.id);
      this.#listeners.changed(record);
      this.#watch.changed(record);
      // Another server's submit or claim moves the backlog before the next tick (the tick
      // corrects any drift). This server's own requeues tell its pools themselves, and backoffs
      // that end are the ticks' to tell.
      if (here) continue;
      if (record.status === 'queued') {
        this.cluster.adjust(record.function, 1);
        this.#remoteAvailable(record.function);
      } else if (record.status === 'running') {
        this.cluster.adjust(record.function, -1);
      }
    }
  }

  /**
   * Tasks queued by another server: claim them here once this turn's messages are read. The
   * submitting server's own claim usually follows its submit at once, and its announcement
   * arrives with the submit's: then nothing is left, and no claim is sent only to find nothing.
   */
  #remoteAvailable(fn: string) {
    if (this.#remote.size === 0) {
      afterIo(() => {
        const fns = [...this.#remote];
        this.#remote.clear();
        for (const name of fns) if (this.cluster.backlog(name) > 0) this.#listeners.available(name);
      });
    }
    this.#remote.add(fn);
  }

  #markReported(id: string) {
    this.#reported.add(id);
    // Endings this server's listeners never asked about must not pile up.
    if (this.#reported.size > MAX_REPORTED) {
      for (const old of this.#reported) {
        this.#reported.delete(old);
        if (this.#reported.size <= MAX_REPORTED / 2) break;
      }
    }
  }

  #header(): Header {
    return {
      prefix: this.#keys.prefix,
      serverId: this.serverId,
      now: Date.now(),
      ttlMs: this.#ttlMs,
      maxFinished: this.#maxResults,
    };
  }

  /**
   * When, on Redis's clock, a change asked for now must no longer be made: a little before this
   * server gives up on the answer, so a change Redis makes late is one the caller still hears of.
   */
  #deadline(): number {
    const margin = Math.min(500, this.#timeoutMs / 10);
    return Math.round(steadyNow() + this.#offsetMs + this.#timeoutMs - margin);
  }

  #late() {
    return backendUnavailable(this.#url, `no answer within ${this.#timeoutMs} ms`);
  }

  #ensureUp() {
    if (this.#closed || this.#c.store.status !== 'ready') {
      throw backendUnavailable(this.#url);
    }
  }

  /** Run a Redis command; a failure to reach Redis becomes `backend_unavailable` (503). */
  async #call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      if (error instanceof EbbflowError) throw error;
      throw backendUnavailable(this.#url, messageOf(error));
    }
  }

  #warn(message: string) {
    const now = Date.now();
    if (now - this.#lastWarning < 5_000) return;
    this.#lastWarning = now;
    this.#log(`ebbflow cluster: ${message}`);
  }
}
