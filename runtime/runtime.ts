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
import { RuntimeEvents } from './events.ts';
import { callHandler } from './handler.ts';
import { loadFunction, runLimited } from './loader.ts';
import { ScalingMonitor } from './monitor.ts';
import { isTaskId } from './names.ts';
import {
  type ResolvedOptions,
  type RuntimeOptions,
  resolveFunctionConfig,
  resolveOptions,
} from './options.ts';
import { FunctionPool } from './pool.ts';
import { MemoryTaskStore, type TaskStore } from './store.ts';
import { Task, toRecord } from './task.ts';
import { unrefTimer } from './timers.ts';
import type {
  FunctionInfo,
  FunctionStats,
  PoolStats,
  Runtime,
  RuntimeListener,
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
  #pools = new Map<string, FunctionPool>();
  #store: TaskStore;
  #budget: WorkerBudget;
  #workerIds = 0;
  #draining = false;
  #closed: Promise<void> | undefined;
  #endDrain: (() => void) | undefined;
  #idleCheck: (() => void) | undefined;
  #monitor: ScalingMonitor;
  #events: RuntimeEvents;

  constructor(o: ResolvedOptions) {
    this.#o = o;
    this.#budget = new WorkerBudget(o.maxWorkers);
    this.#events = new RuntimeEvents(() => this.stats(), o.log);
    this.#monitor = new ScalingMonitor({
      pools: () => this.#pools.values(),
      budget: this.#budget,
      host: o.host,
      options: o,
    });
    this.#monitor.onDecision((event) => {
      if (this.#events.active) this.#events.emit({ type: 'scale', data: event });
    });
    this.#store =
      o.store ?? new MemoryTaskStore({ ttlMs: o.resultTtlMs, maxFinished: o.maxResults });
  }

  get draining(): boolean {
    return this.#draining;
  }

  async load(): Promise<void> {
    const { entries, warnings } = await this.#o.source.list();
    for (const warning of warnings) this.#o.log(warning);
    const deps = {
      host: this.#o.host,
      budget: this.#budget,
      clock: this.#o.clock,
      nextWorkerId: () => ++this.#workerIds,
      settled: (task: Task) => this.#settled(task),
      started: (tasks: Task[]) => {
        if (!this.#events.active) return;
        for (const task of tasks) if (!task.request) this.#changed(task);
      },
      backlog: () => this.#monitor.backlog(),
      reclaim: (pool: FunctionPool) => this.#reclaim(pool),
      // Minimums the ceiling held back (or a reclaim took) are met again once room is free.
      roomFreed: () => {
        if (!this.#draining) this.#warm();
      },
      log: this.#o.log,
    };
    const loader = { ...deps, options: this.#o };
    const provisional = resolveFunctionConfig(undefined, this.#o);
    const pending = entries.map((entry) => async () => {
      const loaded = await loadFunction(entry, loader);
      if (loaded.ok) {
        const pool = new FunctionPool(entry.name, loaded.config, loaded.prepared, deps);
        pool.activate(loaded.config, loaded.exports);
        this.#pools.set(entry.name, pool);
        return;
      }
      const pool = new FunctionPool(entry.name, provisional, undefined, deps);
      pool.markUnavailable(loaded.error);
      this.#o.log(`${entry.name}: unavailable: ${loaded.error}`);
      this.#pools.set(entry.name, pool);
    });
    // Probes count against the ceiling, so no more run at once than it allows.
    await runLimited(pending, Math.min(2, this.#budget.max));
    this.#pools = new Map([...this.#pools].sort(([a], [b]) => a.localeCompare(b)));
    this.#warm();
    await Promise.all([...this.#pools.values()].map((pool) => pool.started()));
    this.#monitor.start();
  }

  /**
   * Deal warm workers round-robin in name order, one per function per round, until each has its
   * minimum or the ceiling is reached: when the minimums together pass the ceiling, every
   * function gets some before any gets many.
   */
  #warm(): void {
    // Minimums are warm targets only while there is room: queued work comes first.
    for (const pool of this.#pools.values()) if (pool.wantsRoom) return;
    let grew = true;
    while (grew && this.#budget.available > 0) {
      grew = false;
      for (const pool of this.#pools.values()) {
        if (pool.workerCount < pool.config.minWorkers && pool.grow(1) > 0) grew = true;
      }
    }
  }

  functions(): FunctionInfo[] {
    return [...this.#pools.values()].map((pool) => this.#info(pool));
  }

  getFunction(name: string): FunctionInfo | undefined {
    const pool = this.#pools.get(name);
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
    return info;
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
    const pool = this.#pools.get(name);
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
      this.#changed(task);
    }
    return task;
  }

  subscribe(listener: RuntimeListener, onClose?: () => void): () => void {
    return this.#events.subscribe(listener, onClose);
  }

  async handle(name: string, request: Request): Promise<Response> {
    if (this.#draining) throw draining();
    const pool = this.#pools.get(name);
    if (!pool) throw unknownFunction(name);
    return callHandler(pool, request, this.#events, this.#o.clock);
  }

  /** A `task` event with the record as it is now (only when someone listens). */
  #changed(task: Task): void {
    if (this.#events.active) this.#events.emit({ type: 'task', data: toRecord(task) });
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
    (this.#pools.get(task.fn) as FunctionPool).cancel(task, this.#o.clock.now());
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
    for (const pool of this.#pools.values()) {
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
        if ([...this.#pools.values()].every((pool) => pool.idle)) done();
      };
      this.#idleCheck();
      if (drainTimeoutMs <= 0) done();
    });
    this.#idleCheck = undefined;
    this.#monitor.close();
    await Promise.all([...this.#pools.values()].map((pool) => pool.close(why)));
    // After the pools: the tasks they failed still go out, then every stream ends.
    this.#events.close();
    await this.#o.host.dispose?.();
  }

  #settled(task: Task): void {
    // An HTTP call's task is kept nowhere; its caller waits on it (handler.ts).
    if (task.request) {
      this.#idleCheck?.();
      return;
    }
    this.#store.settled(task);
    // Its lines first, so a reader that stops at the terminal event has them all.
    if (this.#events.active) {
      const logs = task.logs;
      if (logs) {
        this.#events.logs(logs.map((line) => ({ taskId: task.id, function: task.fn, ...line })));
      }
      this.#changed(task);
    }
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
    const donors = [...this.#pools.values()]
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
