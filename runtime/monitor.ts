/**
 * The auto-scaler's moving part: every `monitorIntervalMs`, and as soon as a queue builds (at
 * most once per `reactIntervalMs`), it opens a short sampling window, reads every pool and the
 * process's pressure over it, asks `decide` for a plan and applies it through `grow`/`retire`.
 * It keeps the last decisions for `stats()`. Its timers are unref'd and stop on `close()`.
 * @module
 */
import type { WorkerBudget } from './budget.ts';
import type { Clock, TimerId } from './clock.ts';
import { messageOf } from './errors.ts';
import type { WorkerHost } from './host/types.ts';
import type { ResolvedOptions } from './options.ts';
import type { FunctionPool } from './pool.ts';
import { PressureGauge, type Readings, type Snapshot } from './pressure.ts';
import { decide, type PoolSample, type Samples, type ScalerState } from './scaler.ts';
import { unrefTimer } from './timers.ts';
import type { ScalingEvent } from './types.ts';
import type { WorkerHandle } from './worker-handle.ts';

/** The window over which CPU use and worker utilization are measured before a decision. */
const WINDOW_MS = 100;
/** Stats readings are taken over windows of at least this long. */
const STATS_WINDOW_MS = 1000;
/** A hold for an unchanged cause is logged again after this long. */
const HOLD_REPEAT_MS = 60_000;

export interface MonitorDeps {
  pools(): Iterable<FunctionPool>;
  budget: WorkerBudget;
  host: WorkerHost;
  options: ResolvedOptions;
}

interface Window {
  trigger: Samples['trigger'];
  base: Snapshot;
  busy: Map<WorkerHandle, number>;
}

interface Mark {
  at: number;
  busy: number;
}

export class ScalingMonitor {
  readonly gauge: PressureGauge;
  #deps: MonitorDeps;
  #o: ResolvedOptions;
  #state: ScalerState = {};
  #events: ScalingEvent[] = [];
  #lastHold = new Map<string, { cause: string; at: number }>();
  #tick: TimerId | undefined;
  #later: TimerId | undefined;
  #window: Window | undefined;
  #windowTimer: TimerId | undefined;
  #lastEvaluation = Number.NEGATIVE_INFINITY;
  #closed = false;
  #clock: Clock;
  #listeners = new Set<(event: ScalingEvent) => void>();
  /** Whether the host measures each worker's utilization (known once a worker was busy). */
  #measures: boolean | undefined;
  #statsBase: [Snapshot, Snapshot] | undefined;
  #statsMarks = new WeakMap<WorkerHandle, [Mark, Mark]>();

  constructor(deps: MonitorDeps) {
    this.#deps = deps;
    this.#o = deps.options;
    this.#clock = deps.options.clock;
    this.gauge = new PressureGauge(deps.host);
  }

  start(): void {
    if (this.#closed || this.#tick !== undefined) return;
    this.gauge.probe.start();
    const base = this.gauge.snapshot();
    this.#statsBase = [base, base];
    this.#armTick();
  }

  // A chain of one-shot timers rather than an interval: the clock offers only those.
  #armTick(): void {
    this.#tick = this.#clock.setTimeout(() => {
      if (this.#closed) return;
      this.#armTick();
      this.#trigger('tick');
    }, this.#o.monitorIntervalMs);
    unrefTimer(this.#tick);
  }

  /** A pool has queued work waiting: evaluate soon, not only on the tick. */
  backlog(): void {
    if (this.#tick === undefined || this.#window || this.#later !== undefined) return;
    const wait = this.#lastEvaluation + this.#o.reactIntervalMs - this.#clock.now();
    if (wait <= 0) {
      this.#trigger('backlog');
      return;
    }
    this.#later = this.#clock.setTimeout(() => {
      this.#later = undefined;
      this.#trigger('backlog');
    }, wait);
    unrefTimer(this.#later);
  }

  close(): void {
    this.#closed = true;
    this.#clock.clearTimeout(this.#tick);
    this.#clock.clearTimeout(this.#later);
    this.#clock.clearTimeout(this.#windowTimer);
    this.#tick = this.#later = this.#windowTimer = this.#window = undefined;
    this.gauge.probe.stop();
  }

  /**
   * Be told of each scaling decision as it is recorded (the same objects as `events()`);
   * returns the unsubscribe function. A listener that throws is logged and kept.
   */
  onDecision(listener: (event: ScalingEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The last decisions, oldest first. */
  events(): ScalingEvent[] {
    return this.#events.slice();
  }

  /** CPU, memory and event loop of the process, over the last second or so. */
  readings(): Readings {
    const now = this.gauge.snapshot();
    this.#statsBase = roll(this.#statsBase, now, (s) => s.at);
    return this.gauge.since(this.#statsBase[0], now);
  }

  /** Mean event-loop utilization of a pool's ready workers over the last second or so. */
  utilization(pool: FunctionPool): number | undefined {
    let sum = 0;
    let n = 0;
    const at = performance.now();
    for (const worker of pool.workers) {
      const busy = worker.state === 'ready' ? busyTime(worker) : undefined;
      if (busy === undefined) continue;
      // A worker's busy time counts from its spawn: its first reading needs no earlier mark.
      const first = { at: at - (Date.now() - worker.spawnedAt), busy: 0 };
      const marks = roll(this.#statsMarks.get(worker) ?? [first, first], { at, busy }, (m) => m.at);
      this.#statsMarks.set(worker, marks);
      const wall = at - marks[0].at;
      if (wall <= 0) continue;
      sum += Math.min(1, (busy - marks[0].busy) / wall);
      n++;
    }
    return n === 0 ? undefined : sum / n;
  }

  #trigger(trigger: Samples['trigger']): void {
    if (this.#closed) return;
    if (this.#window) {
      if (trigger === 'tick') this.#window.trigger = 'tick';
      return;
    }
    const busy = new Map<WorkerHandle, number>();
    for (const pool of this.#deps.pools()) {
      for (const worker of pool.workers) {
        // Only workers busy for the whole window tell what their tasks do (a start-up or an
        // idle stretch inside the window would blur it).
        if (worker.state !== 'ready' || worker.load === 0) continue;
        const value = busyTime(worker);
        if (value !== undefined) busy.set(worker, value);
      }
    }
    this.#window = { trigger, base: this.gauge.snapshot(), busy };
    this.#measures ??= [...busy.keys()].some((w) => w.worker.busyTimeMs !== undefined) || undefined;
    const windowMs = Math.min(WINDOW_MS, Math.floor(this.#o.monitorIntervalMs / 2));
    this.#windowTimer = this.#clock.setTimeout(() => this.#evaluate(), windowMs);
    unrefTimer(this.#windowTimer);
  }

  #evaluate(): void {
    const window = this.#window;
    this.#window = this.#windowTimer = undefined;
    if (!window || this.#closed) return;
    const now = this.gauge.snapshot();
    const wall = now.at - window.base.at;
    const pools = new Map<string, FunctionPool>();
    const samples: PoolSample[] = [];
    for (const pool of this.#deps.pools()) {
      if (pool.status !== 'ready') continue;
      pools.set(pool.name, pool);
      samples.push(this.#samplePool(pool, window, wall));
    }
    const readings = this.gauge.since(window.base, now);
    const at = this.#clock.now();
    const plan = decide(
      {
        at,
        trigger: window.trigger,
        pools: samples,
        pressure: {
          ...readings,
          cores: this.gauge.cores,
          workersMeasured: this.#measures === true,
        },
        budget: { max: this.#deps.budget.max, used: this.#deps.budget.used },
      },
      this.#state,
      this.#o,
    );
    this.#state = plan.state;
    this.#lastEvaluation = this.#clock.now();
    let retired = false;
    let waiting = false;
    for (const decision of plan.decisions) {
      const pool = pools.get(decision.function) as FunctionPool;
      let to = decision.to;
      if (decision.action === 'up') {
        const grown = pool.grow(decision.to - decision.from);
        // The rest starts as the idle workers retired for it below give their room back.
        const owed = Math.min(decision.awaitsRoom ?? 0, decision.to - decision.from - grown);
        if (owed > 0) this.#growOnRoom(pool, owed);
        to = decision.from + grown + owed;
      } else if (decision.idleOnly) {
        to = decision.from - pool.shrink(decision.from - decision.to, decision.to);
      } else if (decision.action === 'down') {
        // The floor lets a preempted pool give back down to its share (never below its min).
        const floor = Math.max(decision.to, pool.config.minWorkers);
        to = decision.from - pool.retire(decision.from - decision.to, floor);
        retired ||= to < decision.from;
      }
      waiting ||= pool.queueSize > 0;
      if (!decision.notable) continue;
      if (
        decision.action === 'hold' &&
        !this.#holdWorthLogging(decision.function, decision.cause ?? decision.reason, at)
      ) {
        continue;
      }
      this.#record({
        at,
        function: decision.function,
        action: decision.action,
        from: decision.from,
        to,
        reason: `${decision.reason} [${window.trigger}]`,
      });
    }
    // Room given back goes to the pools that wait as soon as the retired worker is gone; and
    // while work waits, evaluate again soon (the pressure that held it back may pass).
    if (retired && waiting) this.#deps.budget.onRoom(() => this.backlog());
    if (waiting) this.backlog();
  }

  #samplePool(pool: FunctionPool, window: Window, wall: number): PoolSample {
    let workers = 0;
    let starting = 0;
    let idle = 0;
    let active = 0;
    let measured: number | undefined;
    let cpuBusy: number | undefined;
    const idleSince: number[] = [];
    for (const worker of pool.workers) {
      // Retiring workers leave with their tasks: the load is what stays.
      if (pool.isRetiring(worker) || worker.state === 'stopping' || worker.state === 'dead') {
        continue;
      }
      active += worker.load;
      workers++;
      if (worker.state === 'starting') starting++;
      else if (worker.load === 0) {
        idle++;
        idleSince.push(worker.idleSince);
      } else {
        const base = window.busy.get(worker);
        const busy = busyTime(worker);
        if (base === undefined || busy === undefined || wall <= 0) continue;
        measured = (measured ?? 0) + 1;
        const utilization = (busy - base) / wall;
        cpuBusy = (cpuBusy ?? 0) + (utilization >= this.#o.cpuBoundUtilization ? 1 : 0);
      }
    }
    const sample: PoolSample = {
      name: pool.name,
      workers,
      starting,
      idle,
      active,
      queued: pool.queueSize,
      minWorkers: pool.config.minWorkers,
      maxWorkers: pool.config.maxWorkers,
      concurrency: pool.config.concurrency,
      avgTaskMs: pool.avgTaskTime,
      idleSince,
    };
    if (measured !== undefined) {
      sample.measured = measured;
      sample.cpuBusy = cpuBusy ?? 0;
    }
    if (pool.lastColdStartMs !== undefined) sample.coldStartMs = pool.lastColdStartMs;
    return sample;
  }

  /** Grow `pool` by one each time room is given back, `count` times, while it has work queued. */
  #growOnRoom(pool: FunctionPool, count: number): void {
    const take = (): void => {
      if (this.#closed || pool.queueSize === 0) return;
      if (pool.grow(1) > 0) count--;
      if (count > 0) this.#deps.budget.onRoom(take);
    };
    this.#deps.budget.onRoom(take);
  }

  // A pool held back for the same cause at every evaluation would flood the log: a hold is
  // logged when its cause changes, and again after HOLD_REPEAT_MS.
  #holdWorthLogging(name: string, cause: string, at: number): boolean {
    const last = this.#lastHold.get(name);
    if (last && last.cause === cause && at - last.at < HOLD_REPEAT_MS) return false;
    this.#lastHold.set(name, { cause, at });
    return true;
  }

  #record(event: ScalingEvent): void {
    if (event.action !== 'hold') this.#lastHold.delete(event.function);
    this.#events.push(event);
    const excess = this.#events.length - this.#o.scalingEventsKept;
    if (excess > 0) this.#events.splice(0, excess);
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#o.log(`a scaling listener threw: ${messageOf(error)}`);
      }
    }
  }
}

const busyTime = (worker: WorkerHandle): number | undefined => {
  try {
    return worker.worker.busyTimeMs?.();
  } catch {
    return undefined;
  }
};

/** Keep two readings at least STATS_WINDOW_MS apart, so a window is 1-2 s long. */
const roll = <T>(pair: [T, T] | undefined, now: T, at: (t: T) => number): [T, T] => {
  if (!pair) return [now, now];
  if (at(now) - at(pair[1]) >= STATS_WINDOW_MS) return [pair[1], now];
  return pair;
};
