/**
 * The workers of one function: queues its tasks, keeps its workers fed, and turns every way a
 * task can end (result, throw, timeout, crash, cancel, shutdown) into exactly one terminal state.
 * @module
 */

import type { FailureCode } from './backend/types.ts';
import { batchLimit, inflightWindow, nextRecentTaskMs } from './batching.ts';
import type { WorkerBudget } from './budget.ts';
import type { Clock } from './clock.ts';
import type { PreparedFunction, WorkerHost } from './host/types.ts';
import { Deque } from './queue.ts';
import type { RunTimes, Task } from './task.ts';
import { afterIo } from './timers.ts';
import type { FunctionStats, FunctionStatus, ResolvedFunctionConfig } from './types.ts';
import type { Outcome } from './worker/protocol.ts';
import {
  type Death,
  type HandleEvents,
  LOAD_TIMEOUT_MS,
  MAX_SLOTS,
  type Orphan,
  WorkerHandle,
} from './worker-handle.ts';

export interface PoolDeps {
  host: WorkerHost;
  budget: WorkerBudget;
  clock: Clock;
  nextWorkerId(): number;
  /** Told once per task when it becomes terminal (the store and runtime counters). */
  settled(task: Task): void;
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
  status: FunctionStatus = 'ready';
  error?: string;
  /** The function's version these workers run (set by the registry; tasks are stamped with it). */
  version?: number;
  readonly workers = new Set<WorkerHandle>();
  tasksCompleted = 0;
  tasksFailed = 0;
  tasksCancelled = 0;
  coldStarts = 0;
  lastColdStartMs?: number;
  #queue = new Deque<Task>();
  /** Queued tasks not cancelled (the deque may still hold cancelled ones until dispatch). */
  #queued = 0;
  #runTimeTotal = 0;
  #runTimeCount = 0;
  /** Moving average of one task's run time in the worker, for batch sizing. */
  #recentTaskMs: number | undefined;
  #dispatchQueued = false;
  #spawnFailures = 0;
  /** Workers still loading the module, settled either way. */
  #starting = new Set<Promise<unknown>>();
  #closing = false;
  /** Workers the scaler retires: fed nothing more, stopped once their tasks in flight end. */
  #retiring = new Set<WorkerHandle>();
  /** Set by `end`: another version took over, or the function was deleted. */
  #ending = false;
  #successor: ((task: Task) => void) | undefined;
  /** False until `activate`: a pool reading its config spawns nothing on its own. */
  #active = false;
  #events: HandleEvents;

  readonly name: string;
  config: ResolvedFunctionConfig;
  readonly prepared: PreparedFunction | undefined;
  readonly deps: PoolDeps;

  constructor(
    name: string,
    config: ResolvedFunctionConfig,
    prepared: PreparedFunction | undefined,
    deps: PoolDeps,
  ) {
    this.name = name;
    this.config = config;
    this.prepared = prepared;
    this.deps = deps;
    this.#events = {
      outcome: (task, outcome) => this.#onOutcome(task, outcome),
      unsendable: (task, message) =>
        this.#fail(task, 'args_not_serializable', message, this.deps.clock.now()),
      drained: (handle) => {
        if (this.#retiring.has(handle) && handle.load === 0) {
          void handle.stop('the worker was retired by the scaler');
        }
        this.#refill(handle);
        this.#retireIfDone(handle);
      },
      timedOut: (task, handle) => this.#onTimeout(task, handle),
      dead: (handle, death, orphans) => this.#onDead(handle, death, orphans),
    };
  }

  get queueSize(): number {
    return this.#queued;
  }

  get activeTasks(): number {
    let n = 0;
    for (const worker of this.workers) n += worker.load;
    return n;
  }

  /** Live workers, starting ones included, retiring ones not. */
  get workerCount(): number {
    let n = 0;
    for (const worker of this.workers)
      if ((worker.state === 'ready' || worker.state === 'starting') && !this.#retiring.has(worker))
        n++;
    return n;
  }

  /** Whether the scaler retires this worker once its tasks in flight end. */
  isRetiring(worker: WorkerHandle): boolean {
    return this.#retiring.has(worker);
  }

  get avgTaskTime(): number {
    return this.#runTimeCount === 0 ? 0 : this.#runTimeTotal / this.#runTimeCount;
  }

  get idle(): boolean {
    return this.#queued === 0 && this.activeTasks === 0;
  }

  /**
   * Stop serving as the function's current version (a new version took over, or the function
   * was deleted): no more scaling; running tasks finish here and their workers then retire.
   * With a `successor`, queued tasks (and any a dead worker never began) move to it; without
   * one (a delete) they still run here first.
   */
  end(successor?: (task: Task) => void): void {
    this.#ending = true;
    this.#successor = successor;
    if (successor) {
      for (let task = this.#queue.shift(); task; task = this.#queue.shift()) {
        if (task.status === 'queued') successor(task);
      }
      this.#queued = 0;
    }
    for (const worker of this.workers) this.#retireIfDone(worker);
  }

  /** Ended, and every worker is gone. */
  get ended(): boolean {
    return this.#ending && this.workers.size === 0;
  }

  #retireIfDone(worker: WorkerHandle): void {
    if (!this.#ending || this.#queued > 0 || worker.load > 0) return;
    // One still starting is looked at again once it has started.
    if (worker.state === 'ready')
      void worker.stop('the function has a new version, or was deleted');
  }

  /** Start serving with the function's resolved config. */
  activate(config: ResolvedFunctionConfig): void {
    this.config = config;
    this.#active = true;
  }

  /** Try again to find a worker for queued work (room was made elsewhere). */
  wake(): void {
    this.#dispatch();
  }

  enqueue(task: Task): void {
    task.assignVersion(this.version);
    this.#queue.push(task);
    this.#queued++;
    if (!this.#dispatchQueued) {
      this.#dispatchQueued = true;
      // With a worker free, at once (latency); with all busy, after this turn's I/O, so the
      // tasks of requests that arrived together travel in one message.
      if (this.#hasFreeWorker()) queueMicrotask(this.#runDispatch);
      else afterIo(this.#runDispatch);
    }
  }

  #runDispatch = (): void => {
    this.#dispatchQueued = false;
    this.#dispatch();
  };

  #hasFreeWorker(): boolean {
    for (const worker of this.workers) {
      if (worker.load < this.config.concurrency && this.#feedable(worker)) return true;
    }
    return false;
  }

  /** Cancel a queued or running task of this pool. */
  cancel(task: Task, at: number): void {
    if (task.status === 'queued') {
      this.#queued--;
      this.#cancel(task, 'cancelled before it started', at);
      return;
    }
    const handle = this.#handleRunning(task);
    // Sent in a batch but still waiting behind other tasks: withdraw it, keep the worker (and
    // the task running there, which stopping the worker would cut off).
    if (handle?.withdraw(task)) {
      this.#cancel(task, 'cancelled before it started', at);
      return;
    }
    this.#cancel(task, 'cancelled while running; its worker was replaced', at);
    void handle?.stop(`the worker was stopped because task ${task.id} was cancelled`);
  }

  /** Spawn up to `count` workers within this pool's max and the runtime's budget. */
  grow(count: number): number {
    let spawned = 0;
    // An ended pool only starts a worker to finish tasks it accepted and has no worker for.
    if (this.#ending && (this.#successor || this.workerCount > 0)) return 0;
    while (spawned < count && this.#active && !this.#closing && this.status === 'ready') {
      if (this.workerCount >= this.config.maxWorkers || !this.deps.budget.tryAcquire()) break;
      this.#spawn();
      spawned++;
    }
    return spawned;
  }

  /** Its idle worker that has been idle longest, if any. */
  longestIdle(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    for (const w of this.workers) {
      if (w.state !== 'ready' || w.load > 0 || this.#retiring.has(w)) continue;
      if (!best || w.idleSince < best.idleSince) best = w;
    }
    return best;
  }

  /** Whether queued work waits that another worker of this pool could take. */
  get wantsRoom(): boolean {
    return (
      this.#active &&
      this.status === 'ready' &&
      this.#queued > 0 &&
      this.workerCount < this.config.maxWorkers
    );
  }

  /** Retire up to `count` idle workers, longest idle first, never below `floor`. */
  shrink(count: number, floor = this.config.minWorkers): number {
    const idle = [...this.workers]
      .filter((w) => w.state === 'ready' && w.load === 0)
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
  retire(count: number, floor = this.config.minWorkers): number {
    let retired = this.shrink(count, floor);
    const busy = [...this.workers]
      .filter((w) => w.state === 'ready' && w.load > 0 && !this.#retiring.has(w))
      .sort((a, b) => a.load - b.load);
    for (const worker of busy) {
      if (retired >= count || this.workerCount <= floor) break;
      this.#retiring.add(worker);
      retired++;
    }
    return retired;
  }

  /** Bring the pool up to its minimum (within the budget). */
  ensureMin(): void {
    const missing = this.config.minWorkers - this.workerCount;
    if (missing > 0) this.grow(missing);
  }

  /** Fail everything queued (the module stopped loading, or the drain ran out of time). */
  failQueued(code: FailureCode, message: string): void {
    const at = this.deps.clock.now();
    for (let task = this.#queue.shift(); task; task = this.#queue.shift()) {
      if (task.status === 'queued') this.#fail(task, code, message, at);
    }
    this.#queued = 0;
  }

  /** Fail what is queued or running (`shutdown`) and stop every worker. */
  async close(message: string): Promise<void> {
    this.#closing = true;
    this.failQueued('shutdown', message);
    const now = this.deps.clock.now();
    for (const worker of this.workers) {
      for (const task of worker.tasks()) this.#fail(task, 'shutdown', message, now);
    }
    await Promise.all([...this.workers].map((w) => w.stop('the runtime shut down')));
  }

  stats(): FunctionStats {
    const stats: FunctionStats = {
      activeWorkers: this.workerCount,
      queueSize: this.#queued,
      activeTasks: this.activeTasks,
      minWorkers: this.config.minWorkers,
      maxWorkers: this.config.maxWorkers,
      tasksCompleted: this.tasksCompleted,
      tasksFailed: this.tasksFailed,
      tasksCancelled: this.tasksCancelled,
      avgTaskTime: this.avgTaskTime,
      coldStarts: this.coldStarts,
      loadRatio: this.#loadRatio(),
    };
    if (this.lastColdStartMs !== undefined) stats.lastColdStartMs = this.lastColdStartMs;
    return stats;
  }

  #loadRatio(): number {
    const capacity = this.workerCount * this.config.concurrency;
    const demand = this.activeTasks + this.#queued;
    // With no worker (scaled to zero, or starting from zero) say what one worker would carry.
    const ratio = demand / (capacity || this.config.concurrency);
    return Math.round(ratio * 100) / 100;
  }

  /** Mark the function unavailable: its queued tasks and all later ones fail with `error`. */
  markUnavailable(error: string): void {
    this.status = 'unavailable';
    this.error = error;
    this.failQueued('load_failed', error);
  }

  #spawn(): void {
    const prepared = this.prepared as PreparedFunction;
    const id = this.deps.nextWorkerId();
    let handle: WorkerHandle;
    try {
      const worker = this.deps.host.spawn(prepared, {
        workerId: id,
        memoryLimitMb: this.config.memoryLimitMb,
        permissions: this.config.permissions,
      });
      handle = new WorkerHandle(id, worker, this.#events, this.deps.clock);
    } catch (error) {
      this.deps.budget.release();
      this.#spawnFailed(error);
      return;
    }
    this.workers.add(handle);
    const started = handle.start(this.config.concurrency, LOAD_TIMEOUT_MS).then(
      () => {
        this.#spawnFailures = 0;
        this.coldStarts++;
        this.lastColdStartMs = (handle.readyAt as number) - handle.spawnedAt;
        if (this.#closing) void handle.stop('the runtime shut down');
        else {
          this.#dispatch();
          this.#retireIfDone(handle);
        }
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
    const message = error instanceof Error ? error.message : String(error);
    this.#spawnFailures++;
    this.deps.log(`${this.name}: a worker failed to start: ${message}`);
    if (this.#spawnFailures >= MAX_SPAWN_FAILURES) {
      this.markUnavailable(message);
    } else if (this.#queued > 0 && this.workerCount === 0) {
      this.grow(1);
    }
  }

  #dispatch(): void {
    if (this.#queued === 0) return;
    const limit = this.#batchLimit();
    const window = this.#window(limit);
    let ready = 0;
    for (const worker of this.workers) if (this.#feedable(worker)) ready++;
    if (ready === 0) {
      this.#needWorker();
      return;
    }
    for (const worker of this.workers) {
      if (this.#queued === 0) break;
      if (!this.#feedable(worker)) continue;
      const room = window - worker.load;
      if (room <= 0) continue;
      // A worker with all its slots taken gets less than a full batch only when one comes back:
      // tasks arriving one by one (HTTP) then travel together, not one message each.
      if (worker.load >= this.config.concurrency && this.#queued < limit) continue;
      // Spread over the workers, but never split what is less than one batch of work.
      const share = Math.max(Math.ceil(this.#queued / ready), Math.min(limit, this.#queued));
      const batch = this.#take(Math.min(room, limit, share));
      if (batch.length > 0) worker.send(batch);
    }
    if (this.#queued > 0) this.deps.backlog(this);
  }

  #feedable(worker: WorkerHandle): boolean {
    return worker.state === 'ready' && !this.#retiring.has(worker);
  }

  // After each outcome: send more once a whole batch fits, not a task at a time.
  #refill(handle: WorkerHandle): void {
    if (this.#queued === 0) return;
    const limit = this.#batchLimit();
    const room = this.#window(limit) - handle.load;
    if (room >= Math.min(limit, this.#queued)) this.#dispatch();
  }

  #needWorker(): void {
    // Still loading: its tasks wait for the loaded version to take them over.
    if (!this.#active) return;
    if (this.workerCount > 0 || this.#closing) {
      this.deps.backlog(this);
      return;
    }
    // Scale from zero (a cold start), taking room from an idle pool if the budget is spent.
    if (this.grow(1) === 0) this.deps.reclaim(this);
  }

  #take(count: number): Task[] {
    const batch: Task[] = [];
    while (batch.length < count) {
      const task = this.#queue.shift();
      if (!task) break;
      if (task.status !== 'queued') continue;
      batch.push(task);
    }
    this.#queued -= batch.length;
    return batch;
  }

  #batchLimit(): number {
    return batchLimit(this.#recentTaskMs, this.config.concurrency, MAX_SLOTS);
  }

  #window(limit: number): number {
    return inflightWindow(limit, this.config.concurrency, MAX_SLOTS);
  }

  #handleRunning(task: Task): WorkerHandle | undefined {
    for (const worker of this.workers) if (worker.runs(task)) return worker;
    return undefined;
  }

  #onOutcome(task: Task, outcome: Outcome): void {
    if (task.terminal) return;
    this.#runTimeTotal += outcome.time;
    this.#runTimeCount++;
    this.#recentTaskMs = nextRecentTaskMs(this.#recentTaskMs, outcome.time);
    const at = Math.round(outcome.start + outcome.time);
    const times = { startedAt: Math.round(outcome.start), executionTime: outcome.time };
    if (outcome.ok) {
      if (task.complete(outcome.value, at, times)) this.#ended(task);
    } else {
      this.#fail(task, outcome.code, outcome.error, at, times);
    }
  }

  #onTimeout(task: Task, handle: WorkerHandle): void {
    const now = this.deps.clock.now();
    this.#recentTaskMs = undefined;
    this.#fail(task, 'timed_out', `timed out after ${task.timeoutMs} ms`, now, {
      executionTime: now - (task.startedAt as number),
    });
    void handle.stop(`the worker was stopped because task ${task.id} timed out`);
  }

  #onDead(handle: WorkerHandle, { cause, code }: Death, orphans: Orphan[]): void {
    this.workers.delete(handle);
    this.#retiring.delete(handle);
    this.deps.budget.release();
    const now = this.deps.clock.now();
    const requeue: Task[] = [];
    for (const { task, stage } of orphans) {
      if (task.terminal) continue;
      if (stage === 'unstarted') requeue.push(task);
      else if (stage === 'finished') {
        this.#fail(task, code, `the task finished but its result was lost: ${cause}`, now);
      } else {
        this.#fail(task, code, cause, now, { executionTime: now - (task.startedAt as number) });
      }
    }
    // Back to the front, in their original order: they never began.
    requeue.sort((a, b) => b.submittedAt - a.submittedAt);
    for (const task of requeue) {
      task.requeue();
      if (this.#successor) {
        this.#successor(task);
        continue;
      }
      this.#queue.unshift(task);
      this.#queued++;
    }
    if (this.#closing || !this.#active || this.status !== 'ready') return;
    this.#dispatch();
    // The runtime decides who gets the room: queued work first, then minimums (this one's too).
    this.deps.roomFreed();
  }

  #fail(task: Task, code: FailureCode, message: string, at: number, times?: RunTimes): void {
    if (task.fail(code, message, at, times)) this.#ended(task);
  }

  #cancel(task: Task, reason: string, at: number): void {
    if (task.cancel(reason, at)) this.#ended(task);
  }

  /** Count a task that just became terminal and tell the runtime. */
  #ended(task: Task): void {
    if (task.status === 'completed') this.tasksCompleted++;
    else if (task.status === 'failed') this.tasksFailed++;
    else this.tasksCancelled++;
    this.deps.settled(task);
  }
}
