/**
 * What this server knows of the cluster, refreshed from Redis twice a second: each function's
 * backlog (waiting, and retries in their backoff) and running count across every server, and the
 * live servers by heartbeat. The backlog drives each server's scaling and 429s synchronously.
 * @module
 */
import type { Redis } from 'ioredis';
import type { ClusterFunction, ClusterServer, ClusterStats } from '../contract.ts';
import type { Keys } from './keys.ts';

const REFRESH_MS = 500;
const HEARTBEAT_MS = 1_000;
/** A server missing this many heartbeats is no longer listed (its tasks wait for the lock check). */
const LIVE_MS = 5 * HEARTBEAT_MS;
const SWEEP_MS = 10_000;

export interface ClusterViewOptions {
  redis: Redis;
  keys: Keys;
  serverId: string;
  describe: Record<string, unknown>;
  /** Told after each refresh for every function with work waiting. */
  onBacklog(fn: string): void;
  sweep(): Promise<void>;
}

export class ClusterView {
  #o: ClusterViewOptions;
  #functions = new Map<string, ClusterFunction>();
  #servers: ClusterServer[] = [];
  #at = 0;
  #timers: ReturnType<typeof setInterval>[] = [];
  #startedAt = Date.now();
  #refreshing = false;

  constructor(options: ClusterViewOptions) {
    this.#o = options;
  }

  start(): void {
    const every = (ms: number, run: () => Promise<unknown>) => {
      const timer = setInterval(() => void run().catch(() => {}), ms);
      (timer as { unref?: () => void }).unref?.();
      this.#timers.push(timer);
    };
    every(REFRESH_MS, () => this.refresh());
    every(HEARTBEAT_MS, () => this.#beat());
    every(SWEEP_MS, () => this.#o.sweep());
    void this.#beat().catch(() => {});
    void this.refresh().catch(() => {});
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
  }

  backlog(fn: string): number {
    return this.#functions.get(fn)?.queued ?? 0;
  }

  /** A local change seen before the next refresh (a submit here, a claim here). */
  adjust(fn: string, delta: number): void {
    const entry = this.#functions.get(fn) ?? { queued: 0, running: 0 };
    entry.queued = Math.max(0, entry.queued + delta);
    entry.running = Math.max(0, entry.running - delta);
    this.#functions.set(fn, entry);
  }

  functionNames(): string[] {
    return [...this.#functions.keys()];
  }

  stats(): ClusterStats {
    const functions: Record<string, ClusterFunction> = {};
    let queueSize = 0;
    let activeTasks = 0;
    for (const [fn, entry] of [...this.#functions].sort(([a], [b]) => a.localeCompare(b))) {
      functions[fn] = { ...entry };
      queueSize += entry.queued;
      activeTasks += entry.running;
    }
    return {
      serverId: this.#o.serverId,
      servers: this.#servers.map((s) => ({ ...s })),
      queueSize,
      activeTasks,
      functions,
      at: this.#at,
    };
  }

  async refresh(): Promise<void> {
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      const { redis, keys } = this.#o;
      const names = await redis.smembers(keys.functions);
      const now = Date.now();
      const read = redis.multi();
      for (const fn of names) {
        const q = `${keys.bull}:${fn}`;
        read.llen(`${q}:wait`).zcard(`${q}:prioritized`).zcard(`${q}:delayed`).llen(`${q}:active`);
      }
      read.zrangebyscore(keys.servers, now - LIVE_MS, '+inf');
      const answers = ((await read.exec()) ?? []).map(([, value]) => value);
      const ids = answers.at(-1) as string[];
      names.forEach((fn, i) => {
        const [wait, prioritized, delayed, active] = answers.slice(i * 4, i * 4 + 4) as number[];
        const waiting = (wait ?? 0) + (prioritized ?? 0);
        this.#functions.set(fn, { queued: waiting + (delayed ?? 0), running: active ?? 0 });
        if (waiting > 0 || (delayed ?? 0) > 0) this.#o.onBacklog(fn);
      });
      const details = ids.length > 0 ? await redis.mget(ids.map((id) => keys.server(id))) : [];
      this.#servers = ids.flatMap((id, i) => {
        const text = details[i];
        return text ? [{ ...(JSON.parse(text) as object), id } as ClusterServer] : [];
      });
      this.#at = now;
    } finally {
      this.#refreshing = false;
    }
  }

  async #beat(): Promise<void> {
    const { redis, keys, serverId, describe } = this.#o;
    const now = Date.now();
    const info = { ...describe, startedAt: this.#startedAt, lastSeen: now };
    await redis
      .multi()
      .zadd(keys.servers, now, serverId)
      .set(keys.server(serverId), JSON.stringify(info), 'PX', LIVE_MS)
      .zremrangebyscore(keys.servers, '-inf', now - 10 * LIVE_MS)
      .exec();
  }

  /** Leave the list at once on a clean shutdown. */
  async leave(): Promise<void> {
    const { redis, keys, serverId } = this.#o;
    await redis.multi().zrem(keys.servers, serverId).del(keys.server(serverId)).exec();
  }
}
