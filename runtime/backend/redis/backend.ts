/**
 * The TaskBackend of several servers: BullMQ on Redis. One BullMQ queue per function (a server
 * claims tasks of one function at a time, for the pool that has room, and a server that lacks a
 * function never takes its tasks); the task id is the job id (see `toJobId`).
 *
 * Running a task is BullMQ's manual fetching: `claim` takes jobs with a lock token
 * (`worker.getNextJob`), this server renews the locks while its workers run them, and `finish`
 * moves each job with that token (`moveToCompleted` / `moveToFailed`). A report whose lock was
 * lost is refused by BullMQ, so a task is reported once. A server that dies stops renewing; the
 * stalled-job check of any live server puts its jobs back in the queue, and the next claim runs
 * them again if attempts are left (a lost run spends one) or fails them with `server_lost`.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
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
import type {
  ClaimedTask,
  NewTask,
  TaskEnding,
  TaskPage,
  TaskQuery,
  TaskRecord,
} from '../../types.ts';
import type { TaskBackend, TaskListener } from '../contract.ts';
import {
  type Idempotency,
  idempotencyKeyReused,
  idempotentTaskExpired,
  markReplayed,
} from '../idempotency.ts';
import { BackendListeners } from '../listeners.ts';
import { ClusterView } from './cluster-view.ts';
import { type Keys, keysFor, toJobId } from './keys.ts';
import {
  decodeRaw,
  finishedAt,
  isTerminal,
  type JobData,
  type RawTask,
  toRecord,
} from './records.ts';
import { Runner } from './runner.ts';
import { scriptsOf } from './scripts.ts';

export interface RedisBackendOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  url: string;
  /** Kept finished records this long (BullMQ `removeOnComplete/removeOnFail.age`). */
  resultTtlMs: number;
  /** Finished records kept per function, the oldest going first (BullMQ `…count`). */
  maxResults: number;
  /**
   * Longest time from a server's death to its tasks being retried or failed. Locks last a third
   * of it and the stalled-job check runs every third: a lock lapses at most one third after the
   * last renewal, and two checks later the job is back in the queue. @default 30000
   */
  lostAfterMs?: number;
  /** Keys start with this, so several clusters can share one Redis. @default 'ebbflow' */
  prefix?: string;
  /** Shown in the cluster's server list. */
  describe?: Record<string, unknown>;
  log?: (message: string) => void;
}

const BACKOFF = 'ebbflow';
const WAIT_POLL_MS = 1_000;
/** How long a repeated key waits for the task another server is adding (then: expired). */
const REPEAT_WAIT_MS = 2_000;

type Waiter = (record?: TaskRecord) => void;
const MAX_REPORTED = 10_000;

/** The URL without its password, for messages. */
export const displayUrl = (url: string): string => {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
};

export const backendUnavailable = (url: string, why?: string) =>
  new EbbflowError(
    'backend_unavailable',
    `the task store (Redis at ${displayUrl(url)}) is unreachable${why ? ` (${why})` : ''}; retry later`,
  );

/** Connect to Redis, or throw an error that names the URL. */
export const createRedisBackend = async (
  options: RedisBackendOptions,
): Promise<RedisTaskBackend> => {
  const redis = new Redis(options.url, {
    lazyConnect: true,
    // Our own commands fail fast while Redis is away (503), instead of queueing for ever.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  let lastError = '';
  redis.on('error', (error: Error) => {
    lastError = error.message;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    const why = lastError || messageOf(error);
    throw new Error(`cannot reach Redis at ${displayUrl(options.url)} (EBBFLOW_REDIS_URL): ${why}`);
  }
  const backend = new RedisTaskBackend(redis, options);
  await backend.start();
  return backend;
};

export class RedisTaskBackend implements TaskBackend {
  readonly shared = true;
  readonly serverId = randomUUID();
  readonly cluster: ClusterView;
  #redis: Redis;
  #scripts: ReturnType<typeof scriptsOf>;
  #sub: Redis;
  /** Workers' own connection (BullMQ wants `maxRetriesPerRequest: null` there). */
  #workerRedis: Redis;
  #keys: Keys;
  #prefix: string;
  #url: string;
  #ttlMs: number;
  #maxResults: number;
  #runner: Runner;
  #log: (message: string) => void;
  #queues = new Map<string, Queue>();
  #listeners: BackendListeners;
  /** Local waiters for a task's next change, woken by the events channel. */
  #changes = new Map<string, Set<Waiter>>();
  #closed = false;
  #leaving = false;
  #reported = new Set<string>();
  #lastWorkerError = 0;

  constructor(redis: Redis, options: RedisBackendOptions) {
    this.#redis = redis;
    this.#scripts = scriptsOf(redis);
    this.#url = options.url;
    this.#prefix = options.prefix ?? 'ebbflow';
    this.#keys = keysFor(this.#prefix);
    this.#ttlMs = options.resultTtlMs;
    this.#maxResults = options.maxResults;
    this.#log = options.log ?? ((message) => console.error(message));
    this.#listeners = new BackendListeners(this.#log);
    this.#sub = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.#workerRedis = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.#sub.on('error', () => {});
    this.#workerRedis.on('error', () => {});
    this.#runner = new Runner({
      keys: this.#keys,
      serverId: this.serverId,
      redis: this.#workerRedis,
      lockMs: Math.max(300, Math.floor((options.lostAfterMs ?? 30_000) / 3)),
      ttlMs: this.#ttlMs,
      readRaw: (ids) => this.#readRaw(ids),
      read: (id) => this.read(id),
      publish: (record) => this.#publish(record),
      reported: (id) => this.#reportedHere(id),
      waiting: (fn) => this.cluster.backlog(fn),
      backlog: (fn, delta) => {
        this.cluster.adjust(fn, delta);
        if (delta > 0) this.#tellAvailable(fn);
      },
      cancelled: (id) => this.#listeners.cancelled(id),
      warn: (message) => this.#warn(message),
    });
    this.cluster = new ClusterView({
      redis,
      keys: this.#keys,
      serverId: this.serverId,
      describe: options.describe ?? {},
      onBacklog: (fn) => this.#tellAvailable(fn),
      sweep: () => this.expire(Date.now()),
    });
  }

  /** Subscribe to the channels and start the timers. */
  async start(): Promise<void> {
    await this.#sub.subscribe(this.#keys.events, this.#keys.cancels);
    this.#sub.on('message', (channel: string, message: string) => {
      if (channel === this.#keys.cancels) void this.#runner.stop(message);
      else this.#onEvent(parseEvent(message));
    });
    this.cluster.start();
  }

  /** Whether Redis answers now. */
  get connected(): boolean {
    return this.#redis.status === 'ready';
  }

  async submit(task: NewTask): Promise<TaskRecord> {
    this.#ensureUp();
    const fn = task.function;
    const key = task.idempotency;
    const k = this.#keys;
    // A repeat is answered before the queue is counted: it creates nothing.
    if (key) {
      const held = await this.#call(() => this.#redis.get(k.idempotency(key.key)));
      if (held !== null) return this.#repeat(key, held.split('|'));
    }
    if (this.queued(fn) >= task.maxQueue) throw queueFull(fn, task.maxQueue);
    const id = task.id ?? randomUUID();
    const jobId = toJobId(id);
    const reserved = await this.#call(() =>
      this.#scripts.reserve(
        k.id(id),
        k.sequence,
        k.all,
        k.byFunction(fn),
        k.job(fn, jobId),
        k.functions,
        k.idempotency(key?.key ?? ''),
        fn,
        id,
        key?.fingerprint ?? '',
        key?.ttlMs ?? 0,
      ),
    );
    if (reserved === null) throw duplicateId(id);
    // Another server took the key between the read above and the reservation.
    if (Array.isArray(reserved) && key) return this.#repeat(key, reserved.slice(1) as string[]);
    const submittedAt = Date.now();
    const data: JobData = {
      args: task.args,
      timeoutMs: task.timeoutMs,
      attempts: task.retry.attempts,
      backoffMs: task.retry.backoffMs,
    };
    if (task.version !== undefined) data.version = task.version;
    if (task.retryOf !== undefined) data.retryOf = task.retryOf;
    const keep = { age: Math.ceil(this.#ttlMs / 1000), count: this.#maxResults };
    try {
      await this.#queue(fn).add(fn, data, {
        jobId,
        timestamp: submittedAt,
        attempts: task.retry.attempts,
        backoff: { type: BACKOFF, delay: task.retry.backoffMs },
        removeOnComplete: keep,
        removeOnFail: keep,
      });
    } catch (error) {
      const undo = this.#redis.multi().del(k.id(id)).zrem(k.all, id).zrem(k.byFunction(fn), id);
      if (key) undo.del(k.idempotency(key.key));
      void undo.exec().catch(() => {});
      throw backendUnavailable(this.#url, messageOf(error));
    }
    this.cluster.adjust(fn, 1);
    this.#tellAvailable(fn);
    const record: TaskRecord = {
      id,
      function: fn,
      status: 'queued',
      submittedAt,
      attempt: 1,
      attempts: task.retry.attempts,
    };
    if (task.retryOf !== undefined) record.retryOf = task.retryOf;
    if (task.version !== undefined) record.version = task.version;
    this.#publish(record);
    return record;
  }

  /**
   * The answer to a key held already (`[function, task id, fingerprint]`): the task it created,
   * marked, or a refusal. The task may still be on its way in from the server that took the key
   * (a moment between the reservation and BullMQ's add): its record is awaited briefly.
   */
  async #repeat(key: Idempotency, [fn = '', id = '', fingerprint]: string[]): Promise<TaskRecord> {
    if (fingerprint !== key.fingerprint) throw idempotencyKeyReused(key.key, fn, id);
    const deadline = Date.now() + REPEAT_WAIT_MS;
    for (;;) {
      const record = await this.read(id);
      if (record) return markReplayed(record);
      if (Date.now() >= deadline) throw idempotentTaskExpired(key.key, id);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  claim(fn: string, max: number, workerId: number): Promise<ClaimedTask[]> {
    if (this.#closed || !this.connected) return Promise.resolve([]);
    return this.#runner.claim(fn, max, workerId);
  }

  finish(id: string, ending: TaskEnding): Promise<void> {
    return this.#runner.finish(id, ending);
  }

  async read(id: string): Promise<TaskRecord | undefined> {
    const raw = (await this.#readRaw([id]))[0];
    return raw ? toRecord(id, raw) : undefined;
  }

  async #readRaw(ids: string[]): Promise<(RawTask | undefined)[]> {
    if (ids.length === 0) return [];
    const args = ids.flatMap((id) => [id, toJobId(id)]);
    const answer = (await this.#call(() => this.#scripts.read(this.#prefix, ...args))) as unknown[];
    const now = Date.now();
    return answer.map((entry) => {
      const raw = decodeRaw(entry);
      const ended = raw && finishedAt(raw);
      // BullMQ removes an expired job only when another one finishes: hide it already.
      if (ended !== undefined && ended + this.#ttlMs <= now) return undefined;
      return raw;
    });
  }

  async wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    const deadline = Date.now() + ms;
    let record: TaskRecord | undefined;
    for (;;) {
      const left = deadline - Date.now();
      // Listen before reading, so a change between the two is not missed.
      const changed = this.#nextChange(id, Math.min(WAIT_POLL_MS, Math.max(0, left)));
      record = record && isTerminal(record) ? record : await this.read(id);
      if (!record || isTerminal(record) || left <= 0) {
        changed.cancel();
        return record;
      }
      // A terminal event carries the whole record (result included): no read needed then.
      record = await changed.promise;
    }
  }

  /** Resolves with the task's next change heard on the events channel, or undefined after `ms`. */
  #nextChange(id: string, ms: number) {
    let wake: (record?: TaskRecord) => void = () => {};
    const promise = new Promise<TaskRecord | undefined>((resolve) => {
      wake = resolve;
    });
    const waiters = this.#changes.get(id) ?? new Set<Waiter>();
    this.#changes.set(id, waiters);
    const done: Waiter = (record) => {
      clearTimeout(timer);
      waiters.delete(done);
      if (waiters.size === 0 && this.#changes.get(id) === waiters) this.#changes.delete(id);
      wake(record);
    };
    const timer = setTimeout(done, ms);
    waiters.add(done);
    return { promise, cancel: () => done() };
  }

  async cancel(id: string): Promise<TaskRecord> {
    this.#ensureUp();
    const answer = (await this.#call(() =>
      this.#scripts.cancel(this.#prefix, id, toJobId(id), Date.now()),
    )) as [string, string?, number?];
    if (answer[0] === 'unknown') throw unknownTask(id);
    if (answer[0] === 'terminal') throw alreadyTerminal(id, answer[1] as string);
    const fn = answer[1] as string;
    const running = answer[2] === 1;
    if (running) {
      // Whichever server holds it stops its worker (this one included, through the channel).
      await this.#call(() => this.#redis.publish(this.#keys.cancels, id));
    } else {
      this.cluster.adjust(fn, -1);
    }
    const record = (await this.read(id)) as TaskRecord;
    if (!running) {
      // Ended here and now: its time to live starts (a running one's starts when its run is settled).
      const k = this.#keys;
      await this.#call(() =>
        this.#redis
          .multi()
          .pexpire(k.id(id), this.#ttlMs)
          .pexpire(k.cancel(id), this.#ttlMs)
          .exec(),
      );
    }
    this.#reportedHere(id);
    this.#publish(record);
    return record;
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    const k = this.#keys;
    const index = query.function ? k.byFunction(query.function) : k.all;
    let max = '+inf';
    if (query.before !== undefined) {
      const before = query.before;
      const score = await this.#call(() => this.#redis.zscore(k.all, before));
      if (score === null) throw unknownCursor(before);
      max = `(${score}`;
    }
    const tasks: TaskRecord[] = [];
    const batch = Math.max(50, Math.min(1000, query.limit * 2));
    while (tasks.length <= query.limit) {
      const page = await this.#call(() =>
        this.#redis.zrevrangebyscore(index, max, '-inf', 'WITHSCORES', 'LIMIT', 0, batch),
      );
      if (page.length === 0) break;
      const ids = page.filter((_, i) => i % 2 === 0);
      max = `(${page[page.length - 1]}`;
      const raws = await this.#readRaw(ids);
      const gone: string[] = [];
      raws.forEach((raw, i) => {
        const id = ids[i] as string;
        if (!raw) {
          gone.push(id);
          return;
        }
        const record = toRecord(id, raw);
        if (query.status === undefined || record.status === query.status) tasks.push(record);
      });
      if (gone.length > 0) void this.#forget(gone);
      if (ids.length < batch) break;
    }
    const page: TaskPage = { tasks: tasks.slice(0, query.limit) };
    if (tasks.length > query.limit) page.next = (page.tasks.at(-1) as TaskRecord).id;
    return page;
  }

  /** Drop index entries of records BullMQ removed or that expired. */
  async #forget(ids: string[]) {
    const multi = this.#redis.multi().zrem(this.#keys.all, ...ids);
    for (const fn of this.cluster.functionNames()) multi.zrem(this.#keys.byFunction(fn), ...ids);
    await multi.exec().catch(() => {});
  }

  async replay(id: string, maxQueue: number): Promise<TaskRecord> {
    const raw = (await this.#readRaw([id]))[0];
    if (!raw) throw unknownTask(id);
    const record = toRecord(id, raw);
    if (record.status !== 'failed' && record.status !== 'cancelled') {
      throw notRetryable(id, record.status);
    }
    const data = JSON.parse(raw.hash.data as string) as JobData;
    const task: NewTask = {
      function: raw.fn,
      args: data.args,
      timeoutMs: data.timeoutMs,
      retry: { attempts: data.attempts, backoffMs: data.backoffMs },
      retryOf: id,
      maxQueue,
    };
    if (data.version !== undefined) task.version = data.version;
    return this.submit(task);
  }

  /** Sweep the oldest index entries whose records are gone; BullMQ trims the jobs themselves. */
  async expire(_now: number): Promise<void> {
    if (!this.connected) return;
    const oldest = await this.#redis.zrange(this.#keys.all, 0, 499).catch(() => []);
    if (oldest.length === 0) return;
    const raws = await this.#readRaw(oldest).catch(() => []);
    const gone = oldest.filter((_, i) => raws.length > 0 && !raws[i]);
    if (gone.length > 0) await this.#forget(gone);
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

  #reportedHere(id: string) {
    this.#reported.add(id);
    // Endings whose event never came back (Redis lost meanwhile) must not pile up.
    if (this.#reported.size > MAX_REPORTED) {
      for (const old of this.#reported) {
        this.#reported.delete(old);
        if (this.#reported.size <= MAX_REPORTED / 2) break;
      }
    }
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
    await this.cluster.leave().catch(() => {});
    await this.#runner.close();
    await Promise.all([...this.#queues.values()].map((queue) => queue.close().catch(() => {})));
    for (const client of [this.#sub, this.#workerRedis, this.#redis]) client.disconnect();
  }

  #onEvent(event: ChangeEvent | undefined) {
    if (!event) return;
    const { record } = event;
    this.#listeners.changed(record);
    const waiters = this.#changes.get(record.id);
    if (waiters) for (const wake of [...waiters]) wake(record);
    // Another server's submit or claim moves the backlog before the next count: this server's
    // pools claim at once instead of waiting for the refresh (it corrects any drift).
    if (event.server !== this.serverId) {
      if (record.status === 'queued') this.cluster.adjust(record.function, 1);
      else if (record.status === 'running') this.cluster.adjust(record.function, -1);
    }
    if (record.status === 'queued') this.#tellAvailable(record.function);
  }

  #publish(record: TaskRecord | undefined) {
    if (!record) return;
    const event: ChangeEvent = { server: this.serverId, record };
    this.#redis.publish(this.#keys.events, JSON.stringify(event)).catch(() => {});
  }

  #tellAvailable(fn: string) {
    this.#listeners.available(fn);
  }

  #queue(fn: string): Queue {
    let queue = this.#queues.get(fn);
    if (!queue) {
      queue = new Queue(fn, { connection: this.#redis, prefix: this.#keys.bull });
      queue.on('error', () => {});
      this.#queues.set(fn, queue);
    }
    return queue;
  }

  #ensureUp() {
    if (!this.connected || this.#closed) throw backendUnavailable(this.#url);
  }

  /** Run a Redis command; a connection failure becomes `backend_unavailable` (503). */
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
    if (now - this.#lastWorkerError < 5_000) return;
    this.#lastWorkerError = now;
    this.#log(`ebbflow cluster: ${message}`);
  }
}

/** A message of the events channel: a task's new record and the server that changed it. */
interface ChangeEvent {
  server: string;
  record: TaskRecord;
}

/** Anything else published there is ignored. */
const parseEvent = (message: string): ChangeEvent | undefined => {
  try {
    const event = JSON.parse(message) as ChangeEvent;
    return typeof event?.record?.id === 'string' ? event : undefined;
  } catch {
    return undefined;
  }
};
