/**
 * The workers of one function: spawns them within its bounds and the runtime's ceiling, feeds
 * them (dispatch.ts), ends every run exactly once (endings.ts), retires them for the scaler and
 * stops them at shutdown. Tasks wait in the backend; the pool claims them when it has room. Room
 * under the ceiling, and what to do when there is none, it asks of its `Ceiling`.
 * @module
 */

import type { Clock } from '../time/clock.ts';
import type { FailureCode, FunctionStatus, ResolvedFunctionConfig } from '../types.ts';
import { cutMessage } from '../worker/bounds.ts';
import type { WireRequest, WorkerLimits } from '../worker/protocol.ts';
import type { PreparedFunction, WorkerHost } from '../worker-host.ts';
import { PoolCounters } from './counters.ts';
import { Dispatcher } from './dispatch.ts';
import { TaskEndings } from './endings.ts';
import type { Lease } from './lease.ts';
import { Spawner } from './spawner.ts';
import type { RunEnding, Task } from './task.ts';
import type { TaskSource } from './task-source.ts';
import type { HandleEvents, ModuleExports, SpareWorker, WorkerHandle } from './worker-handle.ts';
import { WorkerSet } from './worker-set.ts';

/** What a pool asks of the worker ceiling's owner (scaling/ceiling.ts). */
export interface Ceiling {
  /** Room for one more worker now, or undefined when the ceiling is reached. */
  lease(): Lease | undefined;
  /** `pool` has work, no worker and found no room: make some (a worker elsewhere retires). */
  reclaim(pool: FunctionPool): void;
  /** Work waits for a worker: the scaler may react before its tick. */
  backlog(): void;
  /** A worker is gone and its room is back: queued work, then minimums, may take it. */
  workerGone(): void;
}

export interface PoolDeps {
  host: WorkerHost;
  clock: Clock;
  source: TaskSource;
  ceiling: Ceiling;
  nextWorkerId(): number;
  /** Told after each run ends here (the drain watches for idle pools). */
  ended(): void;
  log(message: string): void;
  /** What workers hold their tasks' outcomes to; the endings check it again. @default none */
  limits?: WorkerLimits;
}

/** A function's module, prepared and probed (registry/loader.ts): what its workers start from. */
export interface LoadedModule {
  prepared: PreparedFunction;
  exports: ModuleExports;
}

/**
 * Where a pool is in its life, changed only by its methods:
 * - `loading`: a placeholder while the function's module loads (no module: it starts nothing;
 *   its tasks wait);
 * - `ready`: the function's current version: it starts workers, scales, takes what waits;
 * - `ending` (`end`): another version took over, or the function was deleted: it takes what
 *   waits only while its claim holds, its workers retire as they go idle, and it tells its owner
 *   once the last one is gone;
 * - `unavailable` (`markUnavailable`): the module did not load or its workers keep failing to
 *   start: its tasks fail with the reason;
 * - `closed` (`close`): the runtime shut down.
 */
export type PoolLifecycle = 'loading' | 'ready' | 'ending' | 'unavailable' | 'closed';

/** How an ending pool behaves (`end`). */
export interface PoolEnding {
  /** Whether it still takes what waits for its function (a deleted function's accepted tasks). */
  claims(): boolean;
  /** Where ephemeral runs still waiting go. */
  successor?: FunctionPool;
  /** Told once, when it has no worker left (its owner forgets it then). */
  gone(): void;
}

/** Spawn failures in a row before a function is declared unavailable. */
const MAX_SPAWN_FAILURES = 3;

const ALWAYS = () => true;

export class FunctionPool {
  #state: PoolLifecycle;
  #error?: string;
  #claim: () => boolean = ALWAYS;
  #gone: (() => void) | undefined;
  #workers = new WorkerSet();
  #exports?: ModuleExports;
  #events: HandleEvents;
  #dispatcher: Dispatcher;
  #endings: TaskEndings;
  /** Only with a module: a placeholder has nothing to start. */
  #spawner: Spawner | undefined;
  #config: ResolvedFunctionConfig;
  #deps: PoolDeps;
  readonly counters = new PoolCounters();

  readonly name: string;
  /** The function's version these workers run (set by the registry; endings carry it). */
  version?: number;

  /** A `ready` pool with `module`; a `loading` placeholder without (its config provisional). */
  constructor(
    name: string,
    config: ResolvedFunctionConfig,
    module: LoadedModule | undefined,
    deps: PoolDeps,
  ) {
    this.name = name;
    this.#config = config;
    this.#deps = deps;
    this.#state = module ? 'ready' : 'loading';
    this.#exports = module?.exports;
    this.#dispatcher = new Dispatcher({
      fn: name,
      source: deps.source,
      counters: this.counters,
      clock: deps.clock,
      concurrency: () => this.#config.concurrency,
      workers: () => this.#workers,
      feedable: (worker) => this.#workers.feedable(worker) && this.#claims(),
      needWorker: () => this.#needWorker(),
      backlog: () => deps.ceiling.backlog(),
      claimSettled: (worker) => this.#retireIfDone(worker),
    });
    this.#endings = new TaskEndings({
      source: deps.source,
      counters: this.counters,
      clock: deps.clock,
      requeueLocal: (tasks) => this.#dispatcher.unshift(tasks),
      version: () => this.version,
      ended: deps.ended,
      maxResultBytes: deps.limits?.maxResultBytes,
    });
    this.#events = this.#handleEvents();
    if (module) {
      this.#spawner = new Spawner({
        host: deps.host,
        clock: deps.clock,
        nextWorkerId: deps.nextWorkerId,
        prepared: module.prepared,
        events: this.#events,
        limits: deps.limits,
        workers: this.#workers,
        counters: this.counters,
        ready: (worker) => {
          if (this.#state === 'closed') void worker.stop('the runtime shut down');
          else {
            this.#dispatcher.dispatch();
            this.#retireIfDone(worker);
          }
        },
        failed: (message, failures) => this.#startFailed(message, failures),
        shuttingDown: () => this.#state === 'closed',
      });
    }
  }

  #handleEvents(): HandleEvents {
    return {
      outcome: (task, outcome) => this.#endings.outcome(task, outcome),
      unsendable: (task, message) =>
        this.#endings.fail(task, 'args_not_serializable', message, this.#deps.clock.now()),
      drained: (handle) => {
        this.#workers.drained(handle);
        this.#dispatcher.refill(handle);
        this.#retireIfDone(handle);
      },
      timedOut: (task, handle) => this.#endings.timedOut(task, handle),
      // Its lease went back when it died (worker-handle.ts); now its runs are sorted out.
      dead: (handle, death, orphans) => {
        this.#workers.delete(handle);
        this.#endings.orphaned(death, orphans);
        if (this.#state !== 'ready' && this.#state !== 'ending') return;
        this.#dispatcher.dispatch();
        if (this.#state === 'ending' && this.#workers.size === 0) this.#tellGone();
        // The ceiling decides who gets the room: queued work first, then minimums.
        this.#deps.ceiling.workerGone();
      },
    };
  }

  get state(): PoolLifecycle {
    return this.#state;
  }
  /** `unavailable` once it was marked so (an ended version keeps saying it). */
  get status(): FunctionStatus {
    return this.#error === undefined ? 'ready' : 'unavailable';
  }
  get error(): string | undefined {
    return this.#error;
  }
  get config(): ResolvedFunctionConfig {
    return this.#config;
  }
  get workers(): Iterable<WorkerHandle> {
    return this.#workers;
  }

  /** Tasks waiting for a worker (backing-off retries included) and ephemeral runs. */
  get queueSize(): number {
    return this.#deps.source.queued(this.name) + this.#dispatcher.localWaiting;
  }

  /** What waits that a worker could take now (the scaler's demand). */
  get waiting(): number {
    return this.#dispatcher.waiting;
  }

  get activeTasks(): number {
    return this.#workers.load;
  }

  /** Live workers, starting ones included, retiring ones not. */
  get workerCount(): number {
    return this.#workers.count;
  }

  /** Whether the scaler retires this worker once its tasks in flight end. */
  isRetiring(worker: WorkerHandle): boolean {
    return this.#workers.isRetiring(worker);
  }

  get idle(): boolean {
    return this.queueSize === 0 && this.activeTasks === 0;
  }

  /** Whether queued work waits that another worker of this pool could take. */
  get wantsRoom(): boolean {
    return this.#takesWork() && this.waiting > 0 && this.workerCount < this.#config.maxWorkers;
  }

  /** What the module exports: a default function, a `fetch` handler (none for a placeholder). */
  get exports(): ModuleExports | undefined {
    return this.#exports;
  }

  /** Tasks became claimable (a submit, a retry's backoff over, a requeue). */
  available(): void {
    if (this.#takesWork()) this.#dispatcher.schedule();
  }

  /**
   * `ending`: stop serving as the function's current version (a new version took over, or the
   * function was deleted): no more scaling, and what waits goes to the current version, unless
   * `claims` says this pool is still the one to run it. Tasks running here finish here; then the
   * workers retire, and `gone` is told once the last one is gone (at once, with none).
   */
  end({ claims, successor, gone }: PoolEnding): void {
    if (this.#state === 'closed' || this.#state === 'ending') return;
    this.#state = 'ending';
    this.#claim = claims;
    this.#gone = gone;
    if (successor) successor.#adopt(this.#dispatcher.drainLocal());
    for (const worker of this.#workers) this.#retireIfDone(worker);
    if (this.#workers.size === 0) this.#tellGone();
  }

  #tellGone(): void {
    const gone = this.#gone;
    this.#gone = undefined;
    gone?.();
  }

  #adopt(tasks: Task[]): void {
    if (tasks.length === 0) return;
    this.#dispatcher.unshift(tasks.reverse());
    this.#dispatcher.schedule();
  }

  /** Whether this pool takes what waits for its function (always, unless ending). */
  #claims(): boolean {
    return this.#state !== 'ending' || this.#claim();
  }

  /** Whether it runs what waits now: the current version, or an ended one while it claims. */
  #takesWork(): boolean {
    if (this.#state === 'ready') return true;
    return this.#state === 'ending' && this.#spawner !== undefined && this.#claim();
  }

  /** Whether one more worker may start: within its max, and only to finish accepted tasks it
   * has no worker for once it is ending. */
  #mayGrow(): boolean {
    if (this.workerCount >= this.#config.maxWorkers) return false;
    if (this.#state === 'ready') return true;
    return this.#state === 'ending' && this.workerCount === 0 && this.#claim();
  }

  /** An ended pool's idle worker with nothing left to take retires. */
  #retireIfDone(worker: WorkerHandle): void {
    if (this.#state !== 'ending' || worker.load > 0 || worker.state !== 'ready') return;
    // A claim on its way to it (async backends) took its tasks from the queue already.
    if (this.#dispatcher.localWaiting > 0 || this.#dispatcher.claimingFor(worker)) return;
    if (this.#claim() && this.#deps.source.queued(this.name) > 0) return;
    void worker.stop('the function has a new version, or was deleted');
  }

  /** Try again to find a worker for queued work (room was made elsewhere). */
  wake(): void {
    this.#dispatcher.dispatch();
  }

  /**
   * Run once through this pool's workers, scaling, timeout and counters, with no backend record
   * (an HTTP-handler call). Resolves with how it ended; never rejects.
   */
  runEphemeral(
    args: unknown[],
    timeoutMs = this.#config.timeoutMs,
    request?: WireRequest,
  ): Promise<RunEnding> {
    const state = this.#state;
    if (state === 'ready' || state === 'loading' || state === 'ending')
      return this.#dispatcher.runEphemeral(args, timeoutMs, request);
    const code: FailureCode = state === 'closed' ? 'shutdown' : 'load_failed';
    return Promise.resolve({
      status: 'failed',
      error: this.#error ?? 'the runtime is shutting down',
      errorCode: code,
      endedAt: this.#deps.clock.now(),
    });
  }

  /** Cancel the run of task `id` here, if it runs here; whether it did. */
  cancelRunning(id: string): boolean {
    for (const worker of this.#workers) {
      for (const task of worker.tasks()) {
        if (task.id !== id) continue;
        this.#endings.cancelRunning(task, worker);
        return true;
      }
    }
    return false;
  }

  /**
   * Take the worker that read the module's config as this pool's first (it brings its lease);
   * false when the pool cannot use it, and then the caller discards it.
   */
  adopt(spare: SpareWorker): boolean {
    if (this.#state !== 'ready' || this.workerCount >= this.#config.maxWorkers) return false;
    const worker = spare.adopt(this.#events);
    if (!worker) return false;
    // It started like any worker of the pool: counted as one start, with its spawn-to-ready time.
    this.counters.coldStart((worker.readyAt as number) - worker.spawnedAt);
    // No dispatch here: the pool is not numbered yet (a task it ran now would carry no version);
    // work comes when the registry installs it (`available`) or its next worker is ready.
    this.#workers.add(worker);
    return true;
  }

  /** Spawn up to `count` workers within this pool's max and the runtime's ceiling; how many. */
  grow(count: number): number {
    const spawner = this.#spawner;
    let spawned = 0;
    while (spawner && spawned < count && this.#mayGrow()) {
      const lease = this.#deps.ceiling.lease();
      if (!lease) break;
      spawner.spawn(this.#config, lease);
      spawned++;
    }
    return spawned;
  }

  /** Start one worker on `lease` (room given back elsewhere) if it may grow; whether it took it. */
  growOn(lease: Lease): boolean {
    const spawner = this.#spawner;
    if (!spawner || !this.#mayGrow()) return false;
    spawner.spawn(this.#config, lease);
    return true;
  }

  /**
   * Start a new version's warm workers before it takes over, so a swap leaves no gap without
   * workers (within the ceiling; what it cannot start now, scaling starts later).
   */
  async prewarm(): Promise<void> {
    this.grow(Math.max(0, this.#config.minWorkers - this.workerCount));
    await this.started();
  }

  /** Its idle worker that has been idle longest, if any. */
  longestIdle(): WorkerHandle | undefined {
    return this.#workers.longestIdle();
  }

  /** Retire up to `count` idle workers, longest idle first, never below `floor`. */
  shrink(count: number, floor = this.#config.minWorkers): number {
    return this.#workers.shrink(count, floor);
  }

  /**
   * Retire up to `count` workers, never below `floor`: idle ones at once (longest idle first),
   * then the least loaded busy ones once their tasks in flight end (they get no new ones).
   */
  retire(count: number, floor = this.#config.minWorkers): number {
    return this.#workers.retire(count, floor);
  }

  /**
   * `unavailable`: what waits for the function, and all later tasks, fail with `error`. An
   * ended version stays `ending` (its workers still retire) and fails what it holds.
   */
  async markUnavailable(reason: string): Promise<void> {
    const error = cutMessage(reason);
    this.#error = error;
    if (this.#state === 'loading' || this.#state === 'ready') this.#state = 'unavailable';
    await this.failWaiting('load_failed', error);
  }

  /**
   * Fail everything waiting for a worker (unavailable, or the drain ran out of time). On a shared
   * queue only this server's own runs: the queued tasks are left to servers that can run them.
   */
  async failWaiting(code: FailureCode, message: string): Promise<void> {
    const at = this.#deps.clock.now();
    for (const task of this.#dispatcher.drainLocal()) this.#endings.fail(task, code, message, at);
    const source = this.#deps.source;
    if (source.shared) return;
    // Failed without ever reaching a worker, they count as failed runs all the same (/stats).
    const failed = await source.failQueued(this.name, message, code);
    for (let i = 0; i < failed; i++) this.counters.ended('failed');
  }

  /**
   * `closed`: fail what runs (`shutdown`) and what waits, unless a durable store keeps that for
   * the next start; stop every worker.
   */
  async close(message: string): Promise<void> {
    this.#state = 'closed';
    if (this.#deps.source.durable) {
      const at = this.#deps.clock.now();
      for (const task of this.#dispatcher.drainLocal())
        this.#endings.fail(task, 'shutdown', message, at);
    } else {
      await this.failWaiting('shutdown', message);
    }
    const now = this.#deps.clock.now();
    for (const worker of this.#workers) {
      for (const task of [...worker.tasks()]) this.#endings.fail(task, 'shutdown', message, now);
    }
    await this.#workers.stopAll('the runtime shut down');
  }

  /** Resolves once every worker spawned so far has started or failed to. */
  async started(): Promise<void> {
    await this.#spawner?.started();
  }

  /** Resolves once a worker is ready to run tasks, or none is starting (at zero, or failing). */
  async serving(): Promise<void> {
    await this.#spawner?.until(() => [...this.#workers].some((w) => w.state === 'ready'));
  }

  // Failures in a row make the function unavailable; otherwise queued work gets another try.
  #startFailed(message: string, failures: number): void {
    this.#deps.log(`${this.name}: a worker failed to start: ${message}`);
    if (failures >= MAX_SPAWN_FAILURES) {
      void this.markUnavailable(message);
    } else if (this.waiting > 0 && this.workerCount === 0) {
      this.grow(1);
    }
  }

  #needWorker(): void {
    // An ended version that no longer takes what waits asks for no room (the current one does).
    if (!this.#takesWork()) return;
    if (this.workerCount > 0) {
      this.#deps.ceiling.backlog();
      return;
    }
    // Scale from zero (a cold start), taking room from an idle pool if the ceiling is reached.
    if (this.grow(1) === 0) this.#deps.ceiling.reclaim(this);
  }
}
