/**
 * `createRuntime`: loads every function module, keeps a pool of workers per function under one
 * worker ceiling, and offers the task lifecycle (`submit`, `result`, `wait`, `cancel`, `close`).
 * @module
 */
import { WorkerBudget } from './budget.ts';
import {
  alreadyTerminal,
  draining,
  duplicateId,
  EbbflowError,
  messageOf,
  queueFull,
  unknownFunction,
  unknownTask,
} from './errors.ts';
import { FunctionRegistry } from './functions.ts';
import type { FunctionEntry } from './host/types.ts';
import { loadFunction } from './loader.ts';
import { ScalingMonitor } from './monitor.ts';
import { isFunctionName, isTaskId } from './names.ts';
import {
  type ResolvedOptions,
  type RuntimeOptions,
  resolveFunctionConfig,
  resolveOptions,
} from './options.ts';
import { FunctionPool, type PoolDeps } from './pool.ts';
import { MemoryTaskStore, type TaskStore } from './store.ts';
import { Task, toRecord } from './task.ts';
import { unrefTimer } from './timers.ts';
import type {
  FunctionInfo,
  FunctionStats,
  PoolStats,
  Runtime,
  ScalingEvent,
  SubmitOptions,
  TaskRecord,
} from './types.ts';
import { jsonProblem } from './worker/json-check.ts';
import type { WorkerHandle } from './worker-handle.ts';

/**
 * Load the functions of `options.source` and start their warm workers.
 * @example
 * const runtime = await createRuntime({ source: folderSource('functions'), host: nodeHost() });
 * const record = await runtime.call('fib', [20]);
 */
export const createRuntime = async (options: RuntimeOptions): Promise<Runtime> => {
  const runtime = new EbbflowRuntime(resolveOptions(options));
  await runtime.load();
  return runtime;
};

class EbbflowRuntime implements Runtime {
  #o: ResolvedOptions;
  #registry: FunctionRegistry;
  #poolDeps: PoolDeps;
  #store: TaskStore;
  #budget: WorkerBudget;
  #workerIds = 0;
  #draining = false;
  #closed: Promise<void> | undefined;
  #endDrain: (() => void) | undefined;
  #idleCheck: (() => void) | undefined;
  #monitor: ScalingMonitor;

  constructor(o: ResolvedOptions) {
    this.#o = o;
    this.#budget = new WorkerBudget(o.maxWorkers);
    this.#monitor = new ScalingMonitor({
      pools: () => this.#registry.serving(),
      budget: this.#budget,
      host: o.host,
      options: o,
    });
    this.#store =
      o.store ?? new MemoryTaskStore({ ttlMs: o.resultTtlMs, maxFinished: o.maxResults });
    this.#poolDeps = {
      host: o.host,
      budget: this.#budget,
      clock: this.#o.clock,
      nextWorkerId: () => ++this.#workerIds,
      settled: (task: Task) => this.#settled(task),
      backlog: () => this.#monitor.backlog(),
      reclaim: (pool: FunctionPool) => this.#reclaim(pool),
      // Minimums the ceiling held back (or a reclaim took) are met again once room is free.
      roomFreed: () => {
        // A worker gone may have been the last of a version that ended: forget that version.
        this.#registry.prune();
        if (!this.#draining) this.#warm();
      },
      log: o.log,
    };
    this.#registry = new FunctionRegistry({
      source: o.source,
      load: (entry) => this.#loadPool(entry),
      prewarm: async (pool) => {
        pool.ensureMin();
        await pool.started();
      },
      placeholder: (entry) =>
        new FunctionPool(entry.name, this.#provisional(), undefined, this.#poolDeps),
      unavailable: (entry, reason) => {
        const pool = new FunctionPool(entry.name, this.#provisional(), undefined, this.#poolDeps);
        pool.markUnavailable(reason);
        this.#o.log(`${entry.name}: unavailable: ${reason}`);
        return pool;
      },
      changed: () => {
        if (!this.#draining) this.#warm();
      },
      draining: () => this.#draining,
      log: o.log,
      now: () => this.#o.clock.now(),
      // Probes count against the ceiling, so no more run at once than it allows.
      loadConcurrency: Math.min(2, o.maxWorkers),
    });
  }

  get draining(): boolean {
    return this.#draining;
  }

  async load(): Promise<void> {
    await this.#registry.start();
    if (this.#o.waitForFunctions) await this.loaded();
    this.#monitor.start();
  }

  async loaded(): Promise<void> {
    await this.#registry.loaded();
    this.#warm();
    await Promise.all(this.#registry.pools().map((pool) => pool.started()));
  }

  #provisional() {
    return resolveFunctionConfig(undefined, this.#o);
  }

  /** Prepare the module and read its config (loader.ts); an active pool, or the loader's message. */
  async #loadPool(entry: FunctionEntry): Promise<FunctionPool> {
    const loaded = await loadFunction(entry, { ...this.#poolDeps, options: this.#o });
    if (!loaded.ok) throw new Error(loaded.error);
    const pool = new FunctionPool(entry.name, loaded.config, loaded.prepared, this.#poolDeps);
    pool.activate(loaded.config);
    return pool;
  }

  /**
   * Deal warm workers round-robin in name order, one per function per round, until each has its
   * minimum or the ceiling is reached: when the minimums together pass the ceiling, every
   * function gets some before any gets many.
   */
  #warm(): void {
    // Minimums are warm targets only while there is room: queued work comes first.
    for (const pool of this.#registry.all()) if (pool.wantsRoom) return;
    let grew = true;
    while (grew && this.#budget.available > 0) {
      grew = false;
      for (const pool of this.#registry.pools()) {
        if (pool.workerCount < pool.config.minWorkers && pool.grow(1) > 0) grew = true;
      }
    }
  }

  functions(): FunctionInfo[] {
    return this.#registry.pools().map((pool) => this.#info(pool));
  }

  getFunction(name: string): FunctionInfo | undefined {
    const pool = this.#registry.get(name);
    return pool && this.#info(pool);
  }

  #info(pool: FunctionPool): FunctionInfo {
    const info: FunctionInfo = {
      name: pool.name,
      status: pool.status,
      ...pool.config,
      activeWorkers: pool.workerCount,
      queueSize: pool.queueSize,
      activeTasks: pool.activeTasks,
    };
    if (pool.error !== undefined) info.error = pool.error;
    return Object.assign(info, this.#registry.describe(pool.name));
  }

  submit(name: string, args: unknown[], options: SubmitOptions = {}): TaskRecord {
    return toRecord(this.#submit(name, args, options));
  }

  call(name: string, args: unknown[], options: SubmitOptions = {}): Promise<TaskRecord> {
    const task = this.#submit(name, args, options);
    if (task.terminal) return Promise.resolve(toRecord(task));
    return new Promise((resolve) => task.onSettled((t) => resolve(toRecord(t))));
  }

  #submit(name: string, args: unknown[], { id, timeoutMs }: SubmitOptions): Task {
    if (this.#draining) throw draining();
    const pool = this.#registry.get(name);
    if (!pool) throw unknownFunction(name);
    if (!Array.isArray(args)) throw invalid('args must be an array');
    const problem = args.length === 0 ? undefined : jsonProblem(args, 'args');
    if (problem) throw invalid(problem);
    if (id !== undefined) {
      if (typeof id !== 'string' || !isTaskId(id)) {
        throw invalid('id must be 1 to 128 characters of A-Z a-z 0-9 . _ : - and not only dots');
      }
      if (this.#store.has(id)) throw duplicateId(id);
    }
    if (
      timeoutMs !== undefined &&
      (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS)
    ) {
      throw invalid(`timeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}`);
    }
    if (pool.queueSize >= pool.config.maxQueue) throw queueFull(name, pool.config.maxQueue);
    const now = this.#o.clock.now();
    const task = new Task(
      id ?? crypto.randomUUID(),
      name,
      args,
      timeoutMs ?? pool.config.timeoutMs,
      now,
    );
    this.#store.add(task);
    if (pool.status === 'unavailable') {
      task.fail('load_failed', pool.error ?? 'the function is unavailable', now);
      pool.tasksFailed++;
      this.#settled(task);
    } else {
      pool.enqueue(task);
    }
    return task;
  }

  async deploy(
    name: string,
    source: string,
    language: 'ts' | 'js',
  ): Promise<{ info: FunctionInfo; created: boolean }> {
    if (!isFunctionName(name)) throw invalid(`"${name}" is not a valid function name`);
    const { created } = await this.#registry.deploy(name, source, language);
    return { info: this.getFunction(name) as FunctionInfo, created };
  }

  async remove(name: string): Promise<FunctionInfo> {
    const info = this.getFunction(name);
    if (!info) throw unknownFunction(name);
    const version = await this.#registry.remove(name);
    return { ...info, ...version, status: 'deleted' };
  }

  result(id: string): TaskRecord | undefined {
    const task = this.#store.get(id);
    return task && toRecord(task);
  }

  wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    const task = this.#store.get(id);
    if (!task) return Promise.resolve(undefined);
    if (task.terminal || ms <= 0) return Promise.resolve(toRecord(task));
    return new Promise((resolve) => {
      const waiter = (settled: Task) => {
        this.#o.clock.clearTimeout(timer);
        resolve(toRecord(settled));
      };
      const timer = this.#o.clock.setTimeout(() => {
        task.offSettled(waiter);
        resolve(this.#store.get(id) && toRecord(task));
      }, ms);
      task.onSettled(waiter);
    });
  }

  cancel(id: string): TaskRecord {
    const task = this.#store.get(id);
    if (!task) throw unknownTask(id);
    if (task.terminal) throw alreadyTerminal(id, task.status);
    this.#registry.poolOf(task)?.cancel(task, this.#o.clock.now());
    return toRecord(task);
  }

  stats(): PoolStats {
    const functions: Record<string, FunctionStats> = {};
    let activeWorkers = 0;
    let queueSize = 0;
    let activeTasks = 0;
    let completed = 0;
    let failed = 0;
    let weightedTime = 0;
    for (const pool of this.#registry.pools()) {
      const s = pool.stats();
      const utilization = this.#monitor.utilization(pool);
      if (utilization !== undefined) s.eventLoopUtilization = utilization;
      functions[pool.name] = s;
      activeWorkers += s.activeWorkers;
      queueSize += s.queueSize;
      activeTasks += s.activeTasks;
      completed += s.tasksCompleted;
      failed += s.tasksFailed;
      weightedTime += s.avgTaskTime * (s.tasksCompleted + s.tasksFailed);
    }
    const finished = completed + failed;
    const pressure = this.#monitor.readings();
    return {
      activeWorkers,
      queueSize,
      activeTasks,
      minWorkers: this.#o.minWorkers,
      maxWorkers: this.#o.maxWorkers,
      performanceMetrics: {
        tasksCompleted: completed,
        tasksFailed: failed,
        avgTaskTime: finished === 0 ? 0 : weightedTime / finished,
        cpuUsage: percent(pressure.cpu),
        memoryUsage: percent(pressure.memory),
        eventLoopUtilization: pressure.elu ?? 0,
        eventLoopLagMs: Math.round(pressure.lagMs * 10) / 10,
      },
      functions,
      scalingEvents: this.#monitor.events(),
    };
  }

  onScale(listener: (event: ScalingEvent) => void): () => void {
    return this.#monitor.onDecision(listener);
  }

  close({
    drainTimeoutMs = this.#o.drainTimeoutMs,
  }: {
    drainTimeoutMs?: number;
  } = {}): Promise<void> {
    if (this.#closed) {
      this.#endDrain?.();
      return this.#closed;
    }
    this.#draining = true;
    this.#closed = this.#shutdown(drainTimeoutMs);
    return this.#closed;
  }

  async #shutdown(drainTimeoutMs: number): Promise<void> {
    let why = `the runtime shut down before the task finished (drain timeout of ${drainTimeoutMs} ms)`;
    await new Promise<void>((resolve) => {
      const timer = this.#o.clock.setTimeout(resolve, drainTimeoutMs);
      const done = () => {
        this.#o.clock.clearTimeout(timer);
        resolve();
      };
      this.#endDrain = () => {
        why = 'the runtime shut down before the task finished (the drain was ended early)';
        done();
      };
      this.#idleCheck = () => {
        if ([...this.#registry.all()].every((pool) => pool.idle)) done();
      };
      this.#idleCheck();
      if (drainTimeoutMs <= 0) done();
    });
    this.#idleCheck = undefined;
    this.#monitor.close();
    this.#registry.close();
    await Promise.all([...this.#registry.all()].map((pool) => pool.close(why)));
    await this.#registry.dispose();
    await this.#o.host.dispose?.();
  }

  #settled(task: Task): void {
    this.#store.settled(task);
    this.#registry.prune();
    if (this.#o.onTaskEnd) {
      try {
        this.#o.onTaskEnd(toRecord(task));
      } catch (error) {
        this.#o.log(`onTaskEnd threw: ${messageOf(error)}`);
      }
    }
    this.#idleCheck?.();
  }

  // A pool with no worker and a spent budget takes the longest idle worker of another pool, even
  // below that pool's minimum; with none idle, a worker of the biggest pool retires once its
  // tasks end. When every other worker is still starting, none can go yet: look again shortly,
  // or the pool's queued tasks would wait for ever.
  #reclaim(pool: FunctionPool): void {
    const donors = this.#registry
      .pools()
      .filter((other) => other !== pool && other.workerCount > 0)
      .sort((a, b) => b.workerCount - a.workerCount);
    if (donors.length === 0) return;
    this.#budget.onRoom(() => pool.wake());
    let idlest: WorkerHandle | undefined;
    for (const donor of donors) {
      const idle = donor.longestIdle();
      if (idle && (!idlest || idle.idleSince < idlest.idleSince)) idlest = idle;
    }
    if (idlest) {
      void idlest.stop('the worker was retired to make room for queued work of another function');
      return;
    }
    for (const donor of donors) if (donor.retire(1, 0) > 0) return;
    unrefTimer(this.#o.clock.setTimeout(() => pool.wake(), RECLAIM_RETRY_MS));
  }
}

/** A 0-1 share as 0-100 with one decimal; 0 where the host cannot measure it. */
const percent = (share: number | undefined): number =>
  share === undefined ? 0 : Math.round(share * 1000) / 10;

/** How soon a pool that found no worker to take looks again. */
const RECLAIM_RETRY_MS = 50;

/** The longest delay a timer can have (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMEOUT_MS = 2_147_483_647;

const invalid = (message: string) => new EbbflowError('invalid_argument', message);
