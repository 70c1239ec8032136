/**
 * The auto-scaler's moving part: every `monitorIntervalMs`, and as soon as a queue builds (the
 * ceiling tells it; at most once per `reactIntervalMs`), it opens a short sampling window, reads
 * every pool and the process's pressure over it, asks `decide` for a plan and applies it through
 * `grow`/`retire`, workers owed room taking it from the ceiling as it comes back. It keeps the
 * last decisions for `stats()`. Its timers are unref'd and stop on `close()`.
 * @module
 */

import type { ResolvedOptions } from '../options.ts';
import type { FunctionPool } from '../pool/pool.ts';
import type { Clock, TimerId } from '../time/clock.ts';
import { unrefTimer } from '../time/timers.ts';
import type { ScalingEvent } from '../types.ts';
import type { WorkerHost } from '../worker-host.ts';
import type { RoomTaker } from './budget.ts';
import type { PoolView, WorkerCeiling } from './ceiling.ts';
import { DecisionsLog } from './decisions-log.ts';
import { PressureGauge } from './pressure.ts';
import { openWindow, samplePool, type Window } from './sampling.ts';
import { decide, type PoolSample, type Samples, type ScalerState } from './scaler.ts';

/** The window over which CPU use and worker utilization are measured before a decision. */
const WINDOW_MS = 100;

export interface MonitorDeps {
  /** The pools it samples and scales (their `serving()` ones). */
  pools: Pick<PoolView, 'serving'>;
  /** The ceiling it scales under: it tells of backlogs, and deals minimums after each plan. */
  ceiling: WorkerCeiling;
  host: WorkerHost;
  options: ResolvedOptions;
}

export class ScalingMonitor {
  readonly gauge: PressureGauge;
  #deps: MonitorDeps;
  #o: ResolvedOptions;
  #state: ScalerState = {};
  #log: DecisionsLog;
  #tick: TimerId | undefined;
  #later: TimerId | undefined;
  #window: Window | undefined;
  #windowTimer: TimerId | undefined;
  #lastEvaluation = Number.NEGATIVE_INFINITY;
  #closed = false;
  #clock: Clock;
  /** Whether the host measures each worker's utilization (known once a worker was busy). */
  #measures: boolean | undefined;

  constructor(deps: MonitorDeps) {
    this.#deps = deps;
    this.#o = deps.options;
    this.#clock = deps.options.clock;
    this.gauge = new PressureGauge(deps.host);
    this.#log = new DecisionsLog(this.#o.scalingEventsKept, this.#o.log);
    deps.ceiling.onBacklog(() => this.backlog());
  }

  start(): void {
    if (this.#closed || this.#tick !== undefined) return;
    this.gauge.probe.start();
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
    return this.#log.listen(listener);
  }

  /** The last decisions, oldest first. */
  events(): ScalingEvent[] {
    return this.#log.events();
  }

  #trigger(trigger: Samples['trigger']): void {
    if (this.#closed) return;
    if (this.#window) {
      if (trigger === 'tick') this.#window.trigger = 'tick';
      return;
    }
    this.#window = openWindow(this.#deps.pools.serving(), trigger, this.gauge.snapshot());
    const busy = this.#window.busy;
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
    for (const pool of this.#deps.pools.serving()) {
      if (pool.state !== 'ready') continue;
      pools.set(pool.name, pool);
      samples.push(samplePool(pool, window, wall, this.#o.cpuBoundUtilization));
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
        budget: { max: this.#deps.ceiling.max, used: this.#deps.ceiling.used },
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
      waiting ||= pool.waiting > 0;
      if (!decision.notable) continue;
      if (
        decision.action === 'hold' &&
        !this.#log.holdWorthLogging(decision.function, decision.cause ?? decision.reason, at)
      ) {
        continue;
      }
      this.#log.record({
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
    if (retired && waiting) {
      this.#deps.ceiling.whenRoom((lease) => {
        lease.release();
        this.backlog();
      });
    }
    if (waiting) this.backlog();
    // Minimums taken for queued work elsewhere come back once that work is done.
    this.#deps.ceiling.warm();
  }

  /** Grow `pool` by one on each room given back, `count` times, while it has work queued. */
  #growOnRoom(pool: FunctionPool, count: number): void {
    const take: RoomTaker = (lease) => {
      if (this.#closed || pool.queueSize === 0) return lease.release();
      if (pool.growOn(lease)) count--;
      else lease.release();
      // Asked again only after the release: the room it passed on went to those behind it.
      if (count > 0) this.#deps.ceiling.whenRoom(take);
    };
    this.#deps.ceiling.whenRoom(take);
  }
}
