/**
 * `createRuntime`: loads every function module, keeps a pool of workers per function under one
 * worker ceiling, and offers the task lifecycle (`submit`, `result`, `wait`, `cancel`, `list`,
 * `retry`, `close`). Task state lives in a `TaskBackend` (in memory unless one is given); the
 * pools claim from it when they have room and report each ending to it.
 * @module
 */

import type { TaskBackend } from './backend/contract.ts';
import { isReplay, markReplayed } from './backend/idempotency.ts';
import { MemoryTaskBackend } from './backend/memory/backend.ts';
import { newTask, withIdempotency } from './backend/submission.ts';
import {
  draining,
  EbbflowError,
  messageOf,
  taskVanished,
  unknownFunction,
  unknownTask,
} from './errors.ts';
import { RuntimeEvents } from './events.ts';
import { isFunctionName } from './names.ts';
import { type ResolvedOptions, type RuntimeOptions, resolveOptions } from './options.ts';
import { callHandler } from './pool/handler.ts';
import type { FunctionPool } from './pool/pool.ts';
import { taskSource } from './pool/task-source.ts';
import { Registry } from './registry/registry.ts';
import { WorkerCeiling } from './scaling/ceiling.ts';
import { ScalingMonitor } from './scaling/monitor.ts';
import { functionInfo, StatsReports } from './stats/reports.ts';
import type {
  FunctionInfo,
  FunctionVersions,
  HandlerRequest,
  PoolStats,
  Readiness,
  RunEnding,
  Runtime,
  RuntimeListener,
  ScalingEvent,
  SubmitOptions,
  TaskPage,
  TaskQuery,
  TaskRecord,
} from './types.ts';

/**
 * Load the functions of `options.source` and start their warm workers.
 * @example
 * const runtime = await createRuntime({ source: folderSource('functions'), host: await defaultHost() });
 * const record = await runtime.call('fib', [20]);
 */
export const createRuntime = async (options: RuntimeOptions): Promise<Runtime> => {
  const runtime = new EbbflowRuntime(resolveOptions(options));
  await runtime.load();
  return runtime;
};

const stoppedBefore = (id: string) =>
  new EbbflowError(
    'draining',
    `the server shut down before task "${id}" ended; its store keeps it and it runs after the next start: read it at /tasks/${id}`,
  );

const terminal = (record: TaskRecord): boolean =>
  record.status !== 'queued' && record.status !== 'running';

/**
 * The facade over the runtime's owners: the backend holds task records, the registry the
 * functions and their pools (it makes them), the ceiling the room under maxWorkers (pools take
 * it there), the monitor scaling, the reports `stats()`. The runtime wires them once and
 * answers the `Runtime` calls; the drain is its own.
 */
class EbbflowRuntime implements Runtime {
  #o: ResolvedOptions;
  #backend: TaskBackend;
  /** The default backend, whose synchronous twins serve the hot path (and which we close). */
  #memory: MemoryTaskBackend | undefined;
  #ceiling: WorkerCeiling;
  #registry: Registry;
  #monitor: ScalingMonitor;
  #reports: StatsReports;
  #events: RuntimeEvents;
  #draining = false;
  #closed: Promise<void> | undefined;
  #endDrain: (() => void) | undefined;
  #idleCheck: (() => void) | undefined;

  constructor(o: ResolvedOptions) {
    this.#o = o;
    this.#memory = o.backend
      ? undefined
      : new MemoryTaskBackend({
          ttlMs: o.resultTtlMs,
          maxFinished: o.maxResults,
          clock: o.clock,
          log: o.log,
        });
    this.#backend = o.backend ?? (this.#memory as MemoryTaskBackend);
    this.#ceiling = new WorkerCeiling(o.maxWorkers, o.clock);
    this.#registry = new Registry({
      options: o,
      tasks: taskSource(this.#backend, o.log, o.clock),
      ceiling: this.#ceiling,
      ended: () => this.#idleCheck?.(),
    });
    this.#ceiling.shareAmong(this.#registry);
    this.#monitor = new ScalingMonitor({
      pools: this.#registry,
      ceiling: this.#ceiling,
      host: o.host,
      options: o,
    });
    this.#reports = new StatsReports(this.#monitor, o);
    this.#events = new RuntimeEvents(() => this.stats(), o.log);
    this.#listen();
  }

  /** What the backend and the monitor tell: task changes, claimable work, cancels, decisions. */
  #listen(): void {
    this.#monitor.onDecision((event) => {
      if (this.#events.active) this.#events.emit({ type: 'scale', data: event });
    });
    this.#backend.subscribe((record) => this.#changed(record));
    this.#backend.onAvailable((fn) => {
      // The current version, or a deleted one still finishing what it accepted.
      for (const pool of this.#registry.all()) if (pool.name === fn) pool.available();
    });
    this.#backend.onCancel((id) => {
      for (const pool of this.#registry.all()) if (pool.cancelRunning(id)) return;
    });
    const onTaskEnd = this.#o.onTaskEnd;
    if (!onTaskEnd) return;
    const ended = (record: TaskRecord) => {
      if (!terminal(record)) return;
      try {
        onTaskEnd(record);
      } catch (error) {
        this.#o.log(`onTaskEnd threw: ${messageOf(error)}`);
      }
    };
    // The in-memory backend tells endings alone: no snapshot of every queued/running change.
    if (this.#memory) this.#memory.onEnded(ended);
    else this.#backend.subscribe(ended);
  }

  get draining(): boolean {
    return this.#draining;
  }

  async load(): Promise<void> {
    await this.#registry.start();
    if (this.#o.waitForFunctions) await this.loaded();
    this.#monitor.start();
    this.#reports.start();
  }

  /**
   * Resolves once every function found at start has loaded (or failed to) and can run a task on
   * a ready worker; the rest of its warm workers may still be starting.
   */
  async loaded(): Promise<void> {
    await this.#registry.loaded();
    this.#ceiling.warm();
    await Promise.all(this.#registry.pools().map((pool) => pool.serving()));
  }

  functions(): FunctionInfo[] {
    return this.#registry.pools().map((pool) => this.#info(pool));
  }

  getFunction(name: string): FunctionInfo | undefined {
    const pool = this.#registry.get(name);
    return pool && this.#info(pool);
  }

  #info(pool: FunctionPool): FunctionInfo {
    return Object.assign(functionInfo(pool), this.#registry.describe(pool.name));
  }

  async deploy(
    name: string,
    source: string,
    language: 'ts' | 'js',
  ): Promise<{ info: FunctionInfo; created: boolean }> {
    if (!isFunctionName(name)) {
      throw new EbbflowError('invalid_argument', `"${name}" is not a valid function name`);
    }
    const landed = await this.#registry.deploy(name, source, language);
    return { info: this.getFunction(name) as FunctionInfo, ...landed };
  }

  async versions(name: string): Promise<FunctionVersions> {
    return this.#registry.versions(name);
  }

  async rollback(
    name: string,
    version?: number,
  ): Promise<{ info: FunctionInfo; unchanged?: boolean }> {
    if (version !== undefined && (!Number.isSafeInteger(version) || version < 1)) {
      throw new EbbflowError(
        'invalid_argument',
        `version must be a positive integer, got ${version}`,
      );
    }
    const { unchanged } = await this.#registry.rollback(name, version);
    const info = this.getFunction(name) as FunctionInfo;
    return unchanged ? { info, unchanged } : { info };
  }

  async remove(name: string): Promise<FunctionInfo> {
    const info = this.getFunction(name);
    if (!info) throw unknownFunction(name);
    const version = await this.#registry.remove(name);
    return { ...info, ...version, status: 'deleted' };
  }

  /** The pool of `name`, if it takes tasks now. */
  #accepting(name: string): FunctionPool {
    if (this.#draining) throw draining();
    const pool = this.#registry.get(name);
    if (!pool) throw unknownFunction(name);
    return pool;
  }

  /**
   * The pool of `name` once its module has loaded (or failed to): what comes while a function
   * found at start still loads waits for it, so it runs under its own config and exports, never
   * under the defaults a placeholder stands with.
   */
  async #loadedPool(name: string): Promise<FunctionPool> {
    const pool = this.#accepting(name);
    if (pool.state !== 'loading') return pool;
    await this.#registry.whenLoaded(name);
    return this.#accepting(name);
  }

  readiness(): Readiness {
    if (this.#draining) return { status: 'draining' };
    const loading = this.#registry.loading();
    return loading.length > 0 ? { status: 'loading', loading } : { status: 'ready' };
  }

  async submit(name: string, args: unknown[], options: SubmitOptions = {}): Promise<TaskRecord> {
    const pool = await this.#loadedPool(name);
    let task = newTask(name, args, options, pool.config);
    if (pool.version !== undefined) task.version = pool.version;
    task = await withIdempotency(task, options, this.#o.idempotencyTtlMs);
    const record = this.#memory ? this.#memory.submitNow(task) : await this.#backend.submit(task);
    // A repeated key's task was taken as it was then.
    if (pool.status === 'ready' || isReplay(record)) return record;
    // An unavailable function's tasks fail at once, with the loader's message (on a shared
    // queue they wait for a server that can run them instead).
    await pool.failWaiting('load_failed', pool.error ?? 'the function is unavailable');
    return (await this.#backend.read(record.id)) ?? record;
  }

  call(name: string, args: unknown[], options: SubmitOptions = {}): Promise<TaskRecord> {
    // The hot path (in-memory backend, a ready function): one promise, no queued snapshot.
    const memory = this.#memory;
    if (
      memory &&
      options.idempotencyKey === undefined &&
      this.#registry.get(name)?.state === 'ready'
    ) {
      try {
        const pool = this.#accepting(name);
        const task = newTask(name, args, options, pool.config);
        if (pool.version !== undefined) task.version = pool.version;
        return memory.callNow(task);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#callAsync(name, args, options);
  }

  async #callAsync(name: string, args: unknown[], options: SubmitOptions): Promise<TaskRecord> {
    const backend = this.#backend;
    const pool = await this.#loadedPool(name);
    if (backend.invoke && pool.status === 'ready') {
      // A store that answers an invoke itself (fewer commits than submit, then wait).
      let task = newTask(name, args, options, pool.config);
      if (pool.version !== undefined) task.version = pool.version;
      task = await withIdempotency(task, options, this.#o.idempotencyTtlMs);
      const ended = await backend.invoke(task);
      if (!terminal(ended)) throw stoppedBefore(ended.id);
      return ended;
    }
    const record = await this.submit(name, args, options);
    if (terminal(record)) return record;
    const ended = await this.#backend.wait(record.id, Number.POSITIVE_INFINITY);
    // Never the queued record instead: the caller would read a 500 with a task still to run.
    if (!ended) throw taskVanished(record.id);
    // A durable store that shuts down answers its waits with the task as it is: still queued.
    if (!terminal(ended)) throw stoppedBefore(ended.id);
    // A repeated key waited for the first request's task: it says so too.
    return isReplay(record) ? markReplayed({ ...ended }) : ended;
  }

  result(id: string): Promise<TaskRecord | undefined> {
    return this.#backend.read(id);
  }

  wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    return this.#backend.wait(id, ms);
  }

  async cancel(id: string): Promise<TaskRecord> {
    const record = await this.#backend.cancel(id);
    this.#registry.get(record.function)?.counters.cancelledOne();
    this.#idleCheck?.();
    return record;
  }

  list(query: TaskQuery): Promise<TaskPage> {
    return this.#backend.list(query);
  }

  async retry(id: string): Promise<TaskRecord> {
    const old = await this.#backend.read(id);
    if (!old) throw unknownTask(id);
    const pool = await this.#loadedPool(old.function);
    const record = await this.#backend.replay(id, pool.config.maxQueue);
    if (pool.status === 'ready') return record;
    await pool.failWaiting('load_failed', pool.error ?? 'the function is unavailable');
    return (await this.#backend.read(record.id)) ?? record;
  }

  async runEphemeral(
    name: string,
    args: unknown[],
    { timeoutMs }: { timeoutMs?: number } = {},
  ): Promise<RunEnding> {
    const pool = await this.#loadedPool(name);
    return pool.runEphemeral(args, timeoutMs);
  }

  subscribe(listener: RuntimeListener, onClose?: () => void): () => void {
    return this.#events.subscribe(listener, onClose);
  }

  async handle(name: string, request: Request | HandlerRequest): Promise<Response> {
    return callHandler(await this.#loadedPool(name), request, this.#events);
  }

  /**
   * A `task` event for each state change (only while someone listens); a run's printed lines go
   * out just before its terminal event, so a reader that stops there has them all.
   */
  #changed(record: TaskRecord): void {
    if (!this.#events.active) return;
    if (record.logs && terminal(record)) {
      const { id, function: fn } = record;
      this.#events.logs(record.logs.map((line) => ({ taskId: id, function: fn, ...line })));
    }
    this.#events.emit({ type: 'task', data: record });
  }

  stats(): PoolStats {
    return this.#reports.stats(this.#registry.pools());
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
    this.#ceiling.drain();
    this.#registry.drain();
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
    // After the pools: the tasks they failed still go out, then every stream ends.
    this.#events.close();
    await this.#o.host.dispose?.();
    // A backend given to us belongs to its owner (it may serve other servers).
    await this.#memory?.close();
  }
}
