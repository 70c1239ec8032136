/**
 * What this server knows of the cluster, from one TICK script a few times a second: its own
 * heartbeat and lease, each function's backlog (waiting, and retries in their backoff) and
 * running count across every server, the live servers, and lost servers' runs taken back. The
 * backlog drives each server's scaling and dispatch synchronously. A tick that fails (Redis away,
 * or not answering within the timeout) marks Redis unreachable until one succeeds again.
 * @module
 */
import { unrefTimer } from '../../time/timers.ts';
import type { ClusterFunction, ClusterServer, ClusterStats } from '../contract.ts';
import type { Header, Scripts } from './scripts.ts';

/** At most this long between ticks (less when the lease is short). */
const TICK_MS = 500;
/** A server missing heartbeats this long is no longer listed (its tasks wait for its lease). */
const LIVE_MS = 5_000;
const SWEEP_MS = 10_000;

/**
 * This server's clock for deadlines: epoch milliseconds that only move forward at a steady pace
 * (a wall clock set back or forward in between does not move a deadline).
 */
export const steadyNow = (): number => performance.timeOrigin + performance.now();

export interface ClusterViewOptions {
  scripts: Scripts;
  header(): Header;
  serverId: string;
  leaseMs: number;
  describe: Record<string, unknown>;
  /** Told after each tick for every function with tasks a claim can take now. */
  onBacklog(fn: string): void;
  /** Redis stopped answering (true) or answers again (false). */
  onReachable(reachable: boolean): void;
  /** Redis's clock minus this server's steady clock (`steadyNow`), as the last tick measured it. */
  onClock(offsetMs: number): void;
  sweep(): Promise<void>;
}

export class ClusterView {
  #o: ClusterViewOptions;
  #functions = new Map<string, ClusterFunction>();
  #servers: ClusterServer[] = [];
  #at = 0;
  #timers: ReturnType<typeof setInterval>[] = [];
  #startedAt = Date.now();
  #ticking: Promise<void> | undefined;
  #reachable = true;
  /**
   * Tasks seen joining each function's backlog here, ever: a count read from Redis is corrected
   * by those that joined while it was on its way, so that a task is not missed until the next tick
   * (counting one twice costs a claim that finds nothing, and answers the true count again).
   */
  #joined = new Map<string, number>();

  constructor(options: ClusterViewOptions) {
    this.#o = options;
  }

  /** How often this server ticks: four times per lease, at most every half second. */
  get tickMs(): number {
    return Math.min(TICK_MS, Math.floor(this.#o.leaseMs / 4));
  }

  start(): void {
    const every = (ms: number, run: () => Promise<unknown>) => {
      const timer = setInterval(() => void run().catch(() => {}), ms);
      unrefTimer(timer);
      this.#timers.push(timer);
    };
    every(this.tickMs, () => this.refresh());
    every(SWEEP_MS, () => this.#o.sweep());
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
  }

  /** Whether the last tick was answered. */
  get reachable(): boolean {
    return this.#reachable;
  }

  backlog(fn: string): number {
    return this.#functions.get(fn)?.queued ?? 0;
  }

  /** A change seen before the next tick (a submit here, another server's submit or claim). */
  adjust(fn: string, delta: number): void {
    const entry = this.#functions.get(fn) ?? { queued: 0, running: 0 };
    entry.queued = Math.max(0, entry.queued + delta);
    entry.running = Math.max(0, entry.running - delta);
    this.#functions.set(fn, entry);
    if (delta > 0) this.#joined.set(fn, this.joined(fn) + delta);
  }

  /** How many tasks were seen joining `fn`'s backlog so far (taken before asking Redis). */
  joined(fn: string): number {
    return this.#joined.get(fn) ?? 0;
  }

  /** A claim here learnt how many tasks are left, as of when `joined` read `mark`. */
  left(fn: string, count: number, mark: number): void {
    const entry = this.#functions.get(fn) ?? { queued: 0, running: 0 };
    entry.queued = count + this.joined(fn) - mark;
    this.#functions.set(fn, entry);
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
      reachable: this.#reachable,
      servers: this.#servers.map((s) => ({ ...s })),
      queueSize,
      activeTasks,
      functions,
      at: this.#at,
    };
  }

  /** Tick now (one at a time: a caller during a tick waits for it). */
  refresh(): Promise<void> {
    this.#ticking ??= this.#tick().finally(() => {
      this.#ticking = undefined;
    });
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    const header = this.#o.header();
    const sent = steadyNow();
    const marks = new Map(this.#joined);
    const info = JSON.stringify({
      ...this.#o.describe,
      id: this.#o.serverId,
      startedAt: this.#startedAt,
      lastSeen: header.now,
    });
    let answer: unknown[];
    try {
      answer = (await this.#o.scripts.tick(header, this.#o.leaseMs, info, LIVE_MS)) as unknown[];
    } catch (error) {
      this.#setReachable(false);
      throw error;
    }
    const answered = steadyNow();
    this.#setReachable(true);
    const [redisTime, ...rest] = answer as [number, ...unknown[]];
    this.#o.onClock(redisTime - (sent + answered) / 2);
    const servers: ClusterServer[] = [];
    const seen = new Set<string>();
    for (const item of rest) {
      if (typeof item === 'string') {
        servers.push(JSON.parse(item) as ClusterServer);
        continue;
      }
      const [fn, waiting, due, backingOff, running] = item as [string, ...number[]];
      seen.add(fn);
      const joined = this.joined(fn) - (marks.get(fn) ?? 0);
      this.#functions.set(fn, {
        queued: (waiting ?? 0) + (backingOff ?? 0) + joined,
        running: running ?? 0,
      });
      if ((waiting ?? 0) + (due ?? 0) > 0) this.#o.onBacklog(fn);
    }
    // Every key of the cluster gone (FLUSHALL): no backlog is left anywhere.
    for (const fn of this.#functions.keys()) if (!seen.has(fn)) this.#functions.delete(fn);
    this.#servers = servers;
    this.#at = header.now;
  }

  #setReachable(reachable: boolean) {
    if (reachable === this.#reachable) return;
    this.#reachable = reachable;
    this.#o.onReachable(reachable);
  }
}
