/**
 * The workers of one function: spawns them within its bounds and the runtime's ceiling, feeds
 * them (dispatch.ts), ends every run exactly once (endings.ts), retires them for the scaler and
 * stops them at shutdown. Tasks wait in the backend; the pool claims them when it has room.
 * @module
 */

import type { ModuleExports, SpareWorker } from '../registry/loader.ts';
import type { WorkerBudget } from '../scaling/budget.ts';
import type { Clock } from '../time/clock.ts';
import type { FailureCode, FunctionStatus, ResolvedFunctionConfig } from '../types.ts';
import type { WireRequest } from '../worker/protocol.ts';
import type { PreparedFunction, WorkerHost } from '../worker-host.ts';
import { PoolCounters } from './counters.ts';
import { Dispatcher } from './dispatch.ts';
import { TaskEndings } from './endings.ts';
import { Spawner } from './spawner.ts';
import type { RunEnding, Task } from './task.ts';
import type { TaskSource } from './task-source.ts';
import type { HandleEvents, WorkerHandle } from './worker-handle.ts';
import { WorkerSet } from './worker-set.ts';

export interface PoolDeps {
  host: WorkerHost;
  budget: WorkerBudget;
  clock: Clock;
  source: TaskSource;
  nextWorkerId(): number;
  /** Told after each run ends here (the drain watches for idle pools). */
  ended(): void;
  /** Told when queued work waits for a worker, so the scaler can react before its tick. */
  backlog(pool: FunctionPool): void;
  /** Asked for room when the budget is spent and this pool has no worker at all; calls
   * `pool.wake()` once a worker elsewhere was retired. */
  reclaim(pool: FunctionPool): void;
  /** Told after a worker of this pool is gone and its room given back (queued work, then pools
   * below their minimum, may take it). */
  roomFreed(): void;
  log(message: string): void;
}

/** Spawn failures in a row before a function is declared unavailable. */
const MAX_SPAWN_FAILURES = 3;

export class FunctionPool {
  #status: FunctionStatus = 'ready';
  #error?: string;
  #workers = new WorkerSet();
  #closing = false;
  /** False until `activate`: a pool reading its config spawns nothing on its own. */
  #active = false;
  /**
   * Set by `end`: another version took over, or the function was deleted. It then takes what
   * waits for the function only while `claims` says so (a deleted function's accepted tasks).
   */
  #ending: { claims: () => boolean } | undefined;
  #exports?: ModuleExports;
  #events: HandleEvents;
  #dispatcher: Dispatcher;
  #endings: TaskEndings;
  #spawner: Spawner;
  readonly counters = new PoolCounters();

  readonly name: string;
  /** The function's version these workers run (set by the registry; endings carry it). */
  version?: number;
  #config: ResolvedFunctionConfig;
  readonly prepared: PreparedFunction | undefined;
  readonly deps: PoolDeps;

  constructor(
    name: string,
    config: ResolvedFunctionConfig,
    prepared: PreparedFunction | undefined,
    deps: PoolDeps,
  ) {
    this.name = name;
    this.#config = config;
    this.prepared = prepared;
    this.deps = deps;
    this.#dispatcher = new Dispatcher({
      fn: name,
      source: deps.source,
      counters: this.counters,
      clock: deps.clock,
      concurrency: () => this.#config.concurrency,
      workers: () => this.#workers,
      feedable: (worker) => this.#workers.feedable(worker) && this.#claims(),
      needWorker: () => this.#needWorker(),
      backlog: () => this.deps.backlog(this),
    });
    this.#endings = new TaskEndings({
      source: deps.source,
      counters: this.counters,
      clock: deps.clock,
      requeueLocal: (tasks) => this.#dispatcher.unshift(tasks),
      version: () => this.version,
      ended: deps.ended,
    });
    this.#events = this.#handleEvents();
    this.#spawner = new Spawner({
      ...deps,
      prepared: prepared as PreparedFunction,
      events: this.#events,
      workers: this.#workers,
      counters: this.counters,
      ready: (worker) => {
        if (this.#closing) void worker.stop('the runtime shut down');
        else {
          this.#dispatcher.dispatch();
          this.#retireIfDone(worker);
        }
      },
      failed: (message, failures) => this.#startFailed(message, failures),
      shuttingDown: () => this.#closing,
    });
  }

  #handleEvents(): HandleEvents {
    const deps = this.deps;
    return {
      outcome: (task, outcome) => this.#endings.outcome(task, outcome),
      unsendable: (task, message) =>
        this.#endings.fail(task, 'args_not_serializable', message, deps.clock.now()),
      drained: (handle) => {
        this.#workers.drained(handle);
        this.#dispatcher.refill(handle);
        this.#retireIfDone(handle);
      },
      timedOut: (task, handle) => this.#endings.timedOut(task, handle),
      dead: (handle, death, orphans) => {
        this.#workers.delete(handle);
        this.deps.budget.release();
        this.#endings.orphaned(death, orphans);
        if (this.#closing || !this.#active || this.#status !== 'ready') return;
        this.#dispatcher.dispatch();
        // The runtime decides who gets the room: queued work first, then minimums.
        this.deps.roomFreed();
      },
    };
  }

  get status(): FunctionStatus {
    return this.#status;
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
    return this.deps.source.queued(this.name) + this.#dispatcher.localWaiting;
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
    return (
      this.#active &&
      this.#claims() &&
      this.#status === 'ready' &&
      this.waiting > 0 &&
      this.workerCount < this.#config.maxWorkers
    );
  }

  /** What the module exports (set by `activate`): a default function, a `fetch` handler. */
  get exports(): ModuleExports | undefined {
    return this.#exports;
  }

  /** Start serving with the function's resolved config. */
  activate(config: ResolvedFunctionConfig, exports?: ModuleExports): void {
    this.#config = config;
    if (exports) this.#exports = exports;
    this.#active = true;
  }

  /** Tasks became claimable (a submit, a retry's backoff over, a requeue). */
  available(): void {
    if (this.#status === 'ready' && this.#active && this.#claims()) this.#dispatcher.schedule();
  }

  /**
   * Stop serving as the function's current version (a new version took over, or the function
   * was deleted): no more scaling, and what waits goes to the current version, unless `claims`
   * says this pool is still the one to run it (a deleted function's accepted tasks). Tasks
   * running here finish here; then the workers retire. Ephemeral runs still waiting move to
   * `successor`.
   */
  end(claims: () => boolean, successor?: FunctionPool): void {
    this.#ending = { claims };
    if (successor) successor.#adopt(this.#dispatcher.drainLocal());
    for (const worker of this.#workers) this.#retireIfDone(worker);
  }

  /** Ended, and every worker is gone. */
  get ended(): boolean {
    return this.#ending !== undefined && this.#workers.size === 0;
  }

  #adopt(tasks: Task[]): void {
    if (tasks.length === 0) return;
    this.#dispatcher.unshift(tasks.reverse());
    this.#dispatcher.schedule();
  }

  /** Whether this pool takes what waits for its function (always, unless ended). */
  #claims(): boolean {
    return this.#ending === undefined || this.#ending.claims();
  }

  /** An ended pool's idle worker with nothing left to take retires. */
  #retireIfDone(worker: WorkerHandle): void {
    if (!this.#ending || worker.load > 0 || worker.state !== 'ready') return;
    if (this.#dispatcher.localWaiting > 0) return;
    if (this.#claims() && this.deps.source.queued(this.name) > 0) return;
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
    if (this.#status === 'ready' && !this.#closing)
      return this.#dispatcher.runEphemeral(args, timeoutMs, request);
    const error = this.#error ?? 'the runtime is shutting down';
    const code: FailureCode = this.#closing ? 'shutdown' : 'load_failed';
    return Promise.resolve({
      status: 'failed',
      error,
      errorCode: code,
      endedAt: this.deps.clock.now(),
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
   * Take the worker that read the module's config as this pool's first (it brings its room in
   * the budget); false when the pool cannot use it, and then the caller discards it.
   */
  adopt(spare: SpareWorker): boolean {
    if (!this.#active || this.#closing || this.#status !== 'ready') return false;
    if (this.workerCount >= this.#config.maxWorkers) return false;
    const worker = spare.adopt(this.#events);
    if (!worker) return false;
    // It started like any worker of the pool: counted as one start, with its spawn-to-ready time.
    this.counters.coldStart((worker.readyAt as number) - worker.spawnedAt);
    // No dispatch here: the pool is not numbered yet (a task it ran now would carry no version);
    // work comes when the registry installs it (`available`) or its next worker is ready.
    this.#workers.add(worker);
    return true;
  }

  /** Spawn up to `count` workers within this pool's max and the runtime's budget. */
  grow(count: number): number {
    let spawned = 0;
    // An ended pool only starts a worker to finish accepted tasks it has no worker for.
    if (this.#ending && (!this.#claims() || this.workerCount > 0)) return 0;
    while (spawned < count && this.#active && !this.#closing && this.#status === 'ready') {
      if (this.workerCount >= this.#config.maxWorkers || !this.deps.budget.tryAcquire()) break;
      this.#spawner.spawn(this.#config);
      spawned++;
    }
    return spawned;
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

  /** Mark the function unavailable: what waits for it, and all later tasks, fail with `error`. */
  async markUnavailable(error: string): Promise<void> {
    this.#status = 'unavailable';
    this.#error = error;
    await this.failWaiting('load_failed', error);
  }

  /**
   * Fail everything waiting for a worker (unavailable, or the drain ran out of time). On a shared
   * queue only this server's own runs: the queued tasks are left to servers that can run them.
   */
  async failWaiting(code: FailureCode, message: string): Promise<void> {
    const at = this.deps.clock.now();
    for (const task of this.#dispatcher.drainLocal()) this.#endings.fail(task, code, message, at);
    if (!this.deps.source.shared) await this.deps.source.failQueued(this.name, message, code);
  }

  /** Fail what waits or runs (`shutdown`) and stop every worker. */
  async close(message: string): Promise<void> {
    this.#closing = true;
    await this.failWaiting('shutdown', message);
    const now = this.deps.clock.now();
    for (const worker of this.#workers) {
      for (const task of [...worker.tasks()]) this.#endings.fail(task, 'shutdown', message, now);
    }
    await this.#workers.stopAll('the runtime shut down');
  }

  /** Resolves once every worker spawned so far has started or failed to. */
  started(): Promise<void> {
    return this.#spawner.started();
  }

  /** Resolves once a worker is ready to run tasks, or none is starting (at zero, or failing). */
  serving(): Promise<void> {
    return this.#spawner.until(() => [...this.#workers].some((w) => w.state === 'ready'));
  }

  // Failures in a row make the function unavailable; otherwise queued work gets another try.
  #startFailed(message: string, failures: number): void {
    this.deps.log(`${this.name}: a worker failed to start: ${message}`);
    if (failures >= MAX_SPAWN_FAILURES) {
      void this.markUnavailable(message);
    } else if (this.waiting > 0 && this.workerCount === 0) {
      this.grow(1);
    }
  }

  #needWorker(): void {
    // An ended version that no longer takes what waits asks for no room (the current one does).
    if (this.#status !== 'ready' || !this.#active || !this.#claims()) return;
    if (this.workerCount > 0 || this.#closing) {
      this.deps.backlog(this);
      return;
    }
    // Scale from zero (a cold start), taking room from an idle pool if the budget is spent.
    if (this.grow(1) === 0) this.deps.reclaim(this);
  }
}
