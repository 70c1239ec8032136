/**
 * The workers of one function: spawns them within its bounds and the runtime's ceiling, feeds
 * them (dispatch.ts), ends every run exactly once (endings.ts), retires them for the scaler and
 * stops them at shutdown. Tasks wait in the backend; the pool claims them when it has room.
 * @module
 */
import type { FailureCode } from './backend/types.ts';
import type { WorkerBudget } from './budget.ts';
import type { Clock } from './clock.ts';
import { PoolCounters } from './counters.ts';
import { Dispatcher } from './dispatch.ts';
import { TaskEndings } from './endings.ts';
import { messageOf } from './errors.ts';
import type { PreparedFunction, WorkerHost } from './host/types.ts';
import { type RunEnding, Task } from './task.ts';
import type { TaskSource } from './task-source.ts';
import type { FunctionStats, FunctionStatus, ResolvedFunctionConfig } from './types.ts';
import { type HandleEvents, LOAD_TIMEOUT_MS, WorkerHandle } from './worker-handle.ts';

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
  #workers = new Set<WorkerHandle>();
  #spawnFailures = 0;
  /** Workers still loading the module, settled either way. */
  #starting = new Set<Promise<unknown>>();
  #closing = false;
  /** Workers the scaler retires: fed nothing more, stopped once their tasks in flight end. */
  #retiring = new Set<WorkerHandle>();
  /** False until `activate`: a pool reading its config spawns nothing on its own. */
  #active = false;
  #ephemeralIds = 0;
  #events: HandleEvents;
  #dispatcher: Dispatcher;
  #endings: TaskEndings;
  readonly counters = new PoolCounters();

  readonly name: string;
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
      concurrency: () => this.#config.concurrency,
      workers: () => this.#workers,
      feedable: (worker) => this.#feedable(worker),
      needWorker: () => this.#needWorker(),
      backlog: () => this.deps.backlog(this),
    });
    this.#endings = new TaskEndings({
      source: deps.source,
      counters: this.counters,
      clock: deps.clock,
      requeueLocal: (tasks) => this.#dispatcher.unshift(tasks),
      ended: deps.ended,
    });
    this.#events = {
      outcome: (task, outcome) => this.#endings.outcome(task, outcome),
      unsendable: (task, message) =>
        this.#endings.fail(task, 'args_not_serializable', message, deps.clock.now()),
      drained: (handle) => {
        if (this.#retiring.has(handle) && handle.load === 0) {
          void handle.stop('the worker was retired by the scaler');
        }
        this.#dispatcher.refill(handle);
      },
      timedOut: (task, handle) => this.#endings.timedOut(task, handle),
      dead: (handle, death, orphans) => {
        this.#workers.delete(handle);
        this.#retiring.delete(handle);
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
  get workers(): ReadonlySet<WorkerHandle> {
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
    let n = 0;
    for (const worker of this.#workers) n += worker.load;
    return n;
  }

  /** Live workers, starting ones included, retiring ones not. */
  get workerCount(): number {
    let n = 0;
    for (const worker of this.#workers)
      if ((worker.state === 'ready' || worker.state === 'starting') && !this.#retiring.has(worker))
        n++;
    return n;
  }

  /** Whether the scaler retires this worker once its tasks in flight end. */
  isRetiring(worker: WorkerHandle): boolean {
    return this.#retiring.has(worker);
  }

  get idle(): boolean {
    return this.queueSize === 0 && this.activeTasks === 0;
  }

  /** Whether queued work waits that another worker of this pool could take. */
  get wantsRoom(): boolean {
    return (
      this.#active &&
      this.#status === 'ready' &&
      this.waiting > 0 &&
      this.workerCount < this.#config.maxWorkers
    );
  }

  /** Start serving with the function's resolved config. */
  activate(config: ResolvedFunctionConfig): void {
    this.#config = config;
    this.#active = true;
  }

  /** Tasks became claimable (a submit, a retry's backoff over, a requeue). */
  available(): void {
    if (this.#status === 'ready' && this.#active) this.#dispatcher.schedule();
  }

  /** Try again to find a worker for queued work (room was made elsewhere). */
  wake(): void {
    this.#dispatcher.dispatch();
  }

  /**
   * Run once through this pool's workers, scaling, timeout and counters, with no backend record
   * (an HTTP-handler call). Resolves with how it ended; never rejects.
   */
  runEphemeral(args: unknown[], timeoutMs = this.#config.timeoutMs): Promise<RunEnding> {
    const now = this.deps.clock.now();
    if (this.#status !== 'ready' || this.#closing) {
      const error = this.#error ?? 'the runtime is shutting down';
      const code: FailureCode = this.#closing ? 'shutdown' : 'load_failed';
      return Promise.resolve({ status: 'failed', error, errorCode: code, endedAt: now });
    }
    return new Promise((resolve) => {
      const id = `ephemeral:${this.name}:${++this.#ephemeralIds}`;
      const task = new Task(
        { id, function: this.name, args, timeoutMs, attempt: 1, submittedAt: now },
        resolve,
      );
      this.#dispatcher.push(task);
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

  /** Spawn up to `count` workers within this pool's max and the runtime's budget. */
  grow(count: number): number {
    let spawned = 0;
    while (spawned < count && this.#active && !this.#closing && this.#status === 'ready') {
      if (this.workerCount >= this.#config.maxWorkers || !this.deps.budget.tryAcquire()) break;
      this.#spawn();
      spawned++;
    }
    return spawned;
  }

  /** Its idle worker that has been idle longest, if any. */
  longestIdle(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    for (const w of this.#workers) {
      if (w.state !== 'ready' || w.load > 0 || this.#retiring.has(w)) continue;
      if (!best || w.idleSince < best.idleSince) best = w;
    }
    return best;
  }

  /** Retire up to `count` idle workers, longest idle first, never below `floor`. */
  shrink(count: number, floor = this.#config.minWorkers): number {
    const idle = [...this.#workers]
      .filter((w) => w.state === 'ready' && w.load === 0 && !this.#retiring.has(w))
      .sort((a, b) => a.idleSince - b.idleSince);
    let retired = 0;
    for (const worker of idle) {
      if (retired >= count || this.workerCount <= floor) break;
      void worker.stop('the worker was retired by the scaler');
      retired++;
    }
    return retired;
  }

  /**
   * Retire up to `count` workers, never below `floor`: idle ones at once (longest idle first),
   * then the least loaded busy ones once their tasks in flight end (they get no new ones).
   */
  retire(count: number, floor = this.#config.minWorkers): number {
    let retired = this.shrink(count, floor);
    const busy = [...this.#workers]
      .filter((w) => w.state === 'ready' && w.load > 0 && !this.#retiring.has(w))
      .sort((a, b) => a.load - b.load);
    for (const worker of busy) {
      if (retired >= count || this.workerCount <= floor) break;
      this.#retiring.add(worker);
      retired++;
    }
    return retired;
  }

  /** Mark the function unavailable: what waits for it, and all later tasks, fail with `error`. */
  async markUnavailable(error: string): Promise<void> {
    this.#status = 'unavailable';
    this.#error = error;
    await this.failWaiting('load_failed', error);
  }

  /** Fail everything waiting for a worker (unavailable, or the drain ran out of time). */
  async failWaiting(code: FailureCode, message: string): Promise<void> {
    const at = this.deps.clock.now();
    for (const task of this.#dispatcher.drainLocal()) this.#endings.fail(task, code, message, at);
    await this.deps.source.failQueued(this.name, message, code);
  }

  /** Fail what waits or runs (`shutdown`) and stop every worker. */
  async close(message: string): Promise<void> {
    this.#closing = true;
    await this.failWaiting('shutdown', message);
    const now = this.deps.clock.now();
    for (const worker of this.#workers) {
      for (const task of [...worker.tasks()]) this.#endings.fail(task, 'shutdown', message, now);
    }
    await Promise.all([...this.#workers].map((w) => w.stop('the runtime shut down')));
  }

  stats(): FunctionStats {
    const c = this.counters;
    const stats: FunctionStats = {
      activeWorkers: this.workerCount,
      queueSize: this.queueSize,
      activeTasks: this.activeTasks,
      minWorkers: this.#config.minWorkers,
      maxWorkers: this.#config.maxWorkers,
      tasksCompleted: c.completed,
      tasksFailed: c.failed,
      tasksCancelled: c.cancelled,
      avgTaskTime: c.avgTaskTime,
      coldStarts: c.coldStarts,
      loadRatio: this.#loadRatio(),
    };
    if (c.lastColdStartMs !== undefined) stats.lastColdStartMs = c.lastColdStartMs;
    return stats;
  }

  #loadRatio(): number {
    const capacity = this.workerCount * this.#config.concurrency;
    const demand = this.activeTasks + this.waiting;
    // With no worker (scaled to zero, or starting from zero) say what one worker would carry.
    const ratio = demand / (capacity || this.#config.concurrency);
    return Math.round(ratio * 100) / 100;
  }

  #spawn(): void {
    const id = this.deps.nextWorkerId();
    let handle: WorkerHandle;
    try {
      const worker = this.deps.host.spawn(this.prepared as PreparedFunction, {
        workerId: id,
        memoryLimitMb: this.#config.memoryLimitMb,
        permissions: this.#config.permissions,
      });
      handle = new WorkerHandle(id, worker, this.#events, this.deps.clock);
    } catch (error) {
      this.deps.budget.release();
      this.#spawnFailed(error);
      return;
    }
    this.#workers.add(handle);
    const started = handle.start(this.#config.concurrency, LOAD_TIMEOUT_MS).then(
      () => {
        this.#spawnFailures = 0;
        this.counters.coldStart((handle.readyAt as number) - handle.spawnedAt);
        if (this.#closing) void handle.stop('the runtime shut down');
        else this.#dispatcher.dispatch();
      },
      (error: unknown) => {
        void handle.stop('the worker failed to start');
        // A worker still starting when the runtime closes is no failure of the function.
        if (!this.#closing) this.#spawnFailed(error);
      },
    );
    this.#starting.add(started);
    void started.finally(() => this.#starting.delete(started));
  }

  /** Resolves once every worker spawned so far has started or failed to. */
  async started(): Promise<void> {
    while (this.#starting.size > 0) await Promise.all(this.#starting);
  }

  #spawnFailed(error: unknown): void {
    const message = messageOf(error);
    this.#spawnFailures++;
    this.deps.log(`${this.name}: a worker failed to start: ${message}`);
    if (this.#spawnFailures >= MAX_SPAWN_FAILURES) {
      void this.markUnavailable(message);
    } else if (this.waiting > 0 && this.workerCount === 0) {
      this.grow(1);
    }
  }

  #feedable(worker: WorkerHandle): boolean {
    return worker.state === 'ready' && !this.#retiring.has(worker);
  }

  #needWorker(): void {
    if (this.#status !== 'ready' || !this.#active) return;
    if (this.workerCount > 0 || this.#closing) {
      this.deps.backlog(this);
      return;
    }
    // Scale from zero (a cold start), taking room from an idle pool if the budget is spent.
    if (this.grow(1) === 0) this.deps.reclaim(this);
  }
}
