/**
 * An in-memory `Runtime` for route and client tests: no threads, no backend, no scaler. Functions
 * are plain JavaScript functions run in this process; a task goes `queued → running → completed |
 * failed | cancelled` as the real runtime's do, each function runs at most `maxWorkers ×
 * concurrency` tasks at once (the rest wait in its queue, up to `maxQueue`), a run past its
 * timeout fails `timed_out`, and every refusal is an `EbbflowError` with the runtime's code. What
 * the fake cannot make itself (scaling decisions, printed lines, stats ticks) a test hands to
 * `emit`. Retries run again at once (no backoff); deployed sources load as JavaScript modules.
 */
import {
  EbbflowError,
  type FailureCode,
  type FunctionInfo,
  type PoolStats,
  type ResolvedFunctionConfig,
  type RunEnding,
  type Runtime,
  type RuntimeEvent,
  type RuntimeListener,
  type ScalingEvent,
  type SubmitOptions,
  type TaskPage,
  type TaskQuery,
  type TaskRecord,
} from '../../runtime/index.ts';

/** One function of the fake: its default export and/or its `fetch` export, and its config. */
export interface FakeFunction {
  run?: (...args: unknown[]) => unknown;
  fetch?: (request: Request) => Response | Promise<Response>;
  /** A function whose module failed to load: it is listed unavailable with this message. */
  loadError?: string;
  config?: Partial<ResolvedFunctionConfig>;
}

const DEFAULT_CONFIG: ResolvedFunctionConfig = {
  minWorkers: 0,
  maxWorkers: 1,
  timeoutMs: 30_000,
  maxQueue: 100,
  concurrency: 1,
  memoryLimitMb: 128,
  retry: { attempts: 1, backoffMs: 1000 },
};

interface Entry {
  fn: FakeFunction;
  config: ResolvedFunctionConfig;
  version?: number;
  sha256?: string;
  deployedAt?: number;
}

interface Task {
  record: TaskRecord;
  args: unknown[];
  timeoutMs: number;
  /** Bumped at each run, so the ending of a run that was cut off (timeout, cancel) is dropped. */
  run: number;
}

const isTerminal = (record: TaskRecord) =>
  record.status === 'completed' || record.status === 'failed' || record.status === 'cancelled';

const copy = (record: TaskRecord): TaskRecord => structuredClone(record);

export class FakeRuntime implements Runtime {
  /** The functions taking work, by name. */
  #functions = new Map<string, Entry>();
  /** What runs each function's tasks: kept after a delete, so tasks already accepted finish. */
  #pools = new Map<string, Entry>();
  #tasks = new Map<string, Task>();
  /** Ids oldest first (listing reads it backwards). */
  #order: string[] = [];
  #queues = new Map<string, string[]>();
  #running = new Map<string, number>();
  #waiters = new Map<string, Set<() => void>>();
  #listeners = new Set<{ listener: RuntimeListener; onClose?: () => void }>();
  #scaleListeners = new Set<(event: ScalingEvent) => void>();
  #scalingEvents: ScalingEvent[] = [];
  #completed = 0;
  #failed = 0;
  #runTimeTotal = 0;
  #draining = false;

  constructor(functions: Record<string, FakeFunction> = {}) {
    for (const [name, fn] of Object.entries(functions)) this.#define(name, fn);
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Listeners subscribed now (each live event stream holds one while it is open). */
  get listening(): number {
    return this.#listeners.size;
  }

  functions(): FunctionInfo[] {
    return [...this.#functions.keys()].sort().map((name) => this.#info(name));
  }

  getFunction(name: string): FunctionInfo | undefined {
    return this.#functions.has(name) ? this.#info(name) : undefined;
  }

  async submit(name: string, args: unknown[], options: SubmitOptions = {}): Promise<TaskRecord> {
    return copy(this.#accept(name, args, options).record);
  }

  async call(name: string, args: unknown[], options: SubmitOptions = {}): Promise<TaskRecord> {
    const task = this.#accept(name, args, options);
    return (await this.wait(task.record.id, Number.POSITIVE_INFINITY)) as TaskRecord;
  }

  async result(id: string): Promise<TaskRecord | undefined> {
    const task = this.#tasks.get(id);
    return task && copy(task.record);
  }

  wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    const task = this.#tasks.get(id);
    if (!task || isTerminal(task.record)) return this.result(id);
    return new Promise((resolve) => {
      const waiters = this.#waiters.get(id) ?? new Set();
      this.#waiters.set(id, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve(copy(task.record));
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      waiters.add(done);
    });
  }

  async cancel(id: string): Promise<TaskRecord> {
    const task = this.#tasks.get(id);
    if (!task) throw unknownTask(id);
    const { record } = task;
    if (isTerminal(record)) {
      throw new EbbflowError(
        'already_terminal',
        `task "${id}" has already ended (${record.status})`,
      );
    }
    if (record.status === 'running') this.#release(record.function);
    else this.#dequeue(record.function, id);
    task.run++;
    this.#change(task, { status: 'cancelled', cancelledAt: Date.now(), error: 'cancelled' });
    return copy(record);
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    let end = this.#order.length;
    if (query.before !== undefined) {
      end = this.#order.lastIndexOf(query.before);
      if (end < 0) {
        throw new EbbflowError(
          'invalid_argument',
          `before: no task with id "${query.before}" (unknown or expired); start again without it`,
        );
      }
    }
    const tasks: TaskRecord[] = [];
    let i = end - 1;
    for (; i >= 0 && tasks.length < query.limit; i--) {
      const { record } = this.#tasks.get(this.#order[i] as string) as Task;
      if (query.function !== undefined && record.function !== query.function) continue;
      if (query.status !== undefined && record.status !== query.status) continue;
      tasks.push(copy(record));
    }
    const more = this.#order
      .slice(0, i + 1)
      .some((other) => this.#matches(other, query.function, query.status));
    const last = tasks.at(-1);
    return more && last ? { tasks, next: last.id } : { tasks };
  }

  async retry(id: string): Promise<TaskRecord> {
    const old = this.#tasks.get(id);
    if (!old) throw unknownTask(id);
    const { record } = old;
    if (record.status !== 'failed' && record.status !== 'cancelled') {
      throw new EbbflowError(
        'not_retryable',
        `task "${id}" is ${record.status}; only a failed or cancelled task can be retried`,
      );
    }
    const task = this.#accept(record.function, old.args, {}, id);
    return copy(task.record);
  }

  async runEphemeral(name: string, args: unknown[]): Promise<RunEnding> {
    const { run } = this.#intake(name).fn;
    const startedAt = Date.now();
    try {
      if (!run) throw new Error('the module has no default export');
      const result = await run(...args);
      const endedAt = Date.now();
      return {
        status: 'completed',
        result,
        startedAt,
        endedAt,
        executionTime: endedAt - startedAt,
        workerId: 1,
      };
    } catch (error) {
      return {
        status: 'failed',
        error: String((error as Error)?.message ?? error),
        errorCode: 'function_threw',
        startedAt,
        endedAt: Date.now(),
      };
    }
  }

  async deploy(
    name: string,
    source: string,
    _language: 'ts' | 'js',
  ): Promise<{ info: FunctionInfo; created: boolean }> {
    if (this.#draining) throw draining();
    let module: Record<string, unknown>;
    try {
      module = await import(`data:text/javascript,${encodeURIComponent(source)}`);
    } catch (error) {
      throw invalidFunction(name, String((error as Error)?.message ?? error));
    }
    if (typeof module.default !== 'function' && typeof module.fetch !== 'function') {
      throw invalidFunction(name, 'the module has no default export and no fetch export');
    }
    const before = this.#functions.get(name);
    this.#define(name, {
      run: module.default as FakeFunction['run'],
      fetch: module.fetch as FakeFunction['fetch'],
      config: (module.config as Partial<ResolvedFunctionConfig>) ?? {},
    });
    const entry = this.#functions.get(name) as Entry;
    entry.version = (before?.version ?? 0) + 1;
    entry.sha256 = await sha256Hex(source);
    entry.deployedAt = Date.now();
    return { info: this.#info(name), created: before === undefined };
  }

  async remove(name: string): Promise<FunctionInfo> {
    if (!this.#functions.has(name)) throw unknownFunction(name);
    const info = { ...this.#info(name), status: 'deleted' as const };
    this.#functions.delete(name);
    return info;
  }

  async loaded(): Promise<void> {}

  stats(): PoolStats {
    const functions: PoolStats['functions'] = {};
    for (const info of this.functions()) {
      const ended = this.#records(info.name).filter(isTerminal);
      const completed = ended.filter((r) => r.status === 'completed');
      functions[info.name] = {
        activeWorkers: info.activeWorkers,
        queueSize: info.queueSize,
        activeTasks: info.activeTasks,
        minWorkers: info.minWorkers,
        maxWorkers: info.maxWorkers,
        tasksCompleted: completed.length,
        tasksFailed: ended.filter((r) => r.status === 'failed').length,
        tasksCancelled: ended.filter((r) => r.status === 'cancelled').length,
        avgTaskTime: mean(completed.map((r) => r.executionTime ?? 0)),
        coldStarts: 0,
        loadRatio: 0,
      };
    }
    const all = Object.values(functions);
    const sum = (key: 'activeWorkers' | 'queueSize' | 'activeTasks') =>
      all.reduce((total, f) => total + f[key], 0);
    return {
      activeWorkers: sum('activeWorkers'),
      queueSize: sum('queueSize'),
      activeTasks: sum('activeTasks'),
      minWorkers: DEFAULT_CONFIG.minWorkers,
      maxWorkers: all.reduce((total, f) => total + f.maxWorkers, 0),
      performanceMetrics: {
        tasksCompleted: this.#completed,
        tasksFailed: this.#failed,
        avgTaskTime: this.#completed === 0 ? 0 : this.#runTimeTotal / this.#completed,
        cpuUsage: 0,
        memoryUsage: 0,
        eventLoopUtilization: 0,
        eventLoopLagMs: 0,
      },
      functions,
      scalingEvents: [...this.#scalingEvents],
    };
  }

  onScale(listener: (event: ScalingEvent) => void): () => void {
    this.#scaleListeners.add(listener);
    return () => this.#scaleListeners.delete(listener);
  }

  subscribe(listener: RuntimeListener, onClose?: () => void): () => void {
    const entry = { listener, onClose };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /** Tell the listeners of an event the fake does not make itself (scale, log, stats). */
  emit(event: RuntimeEvent): void {
    if (event.type === 'scale') {
      this.#scalingEvents.push(event.data);
      for (const listener of this.#scaleListeners) listener(event.data);
    }
    for (const { listener } of this.#listeners) listener(event);
  }

  async handle(name: string, request: Request): Promise<Response> {
    const entry = this.#intake(name);
    if (!entry.fn.fetch) {
      throw new EbbflowError('no_fetch_handler', `function "${name}" has no fetch export`);
    }
    const { timeoutMs } = entry.config;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new EbbflowError(
              'handler_timed_out',
              `the handler of "${name}" ran past ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
    });
    const answer = Promise.resolve()
      .then(() => entry.fn.fetch?.(request) as Response | Promise<Response>)
      .catch((error: unknown) => {
        throw new EbbflowError(
          'handler_failed',
          `the handler of "${name}" threw: ${(error as Error)?.message ?? error}`,
        );
      });
    try {
      return await Promise.race([answer, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops intake, fails what has not ended (`shutdown`), and ends every live stream. */
  async close(): Promise<void> {
    this.#draining = true;
    for (const task of this.#tasks.values()) {
      if (isTerminal(task.record)) continue;
      if (task.record.status === 'running') this.#release(task.record.function);
      else this.#dequeue(task.record.function, task.record.id);
      task.run++;
      this.#fail(task, 'shutdown', 'the runtime shut down before the task ended');
    }
    for (const { onClose } of this.#listeners) onClose?.();
    this.#listeners.clear();
  }

  #define(name: string, fn: FakeFunction): void {
    const entry = { fn, config: { ...DEFAULT_CONFIG, ...fn.config } };
    this.#functions.set(name, entry);
    this.#pools.set(name, entry);
    this.#queues.set(name, this.#queues.get(name) ?? []);
  }

  #info(name: string): FunctionInfo {
    const { fn, config, version, sha256, deployedAt } = this.#functions.get(name) as Entry;
    const running = this.#running.get(name) ?? 0;
    const error =
      fn.loadError ?? (fn.run || fn.fetch ? undefined : 'the module has no default export');
    return {
      name,
      status: error === undefined ? 'ready' : 'unavailable',
      ...(error === undefined ? {} : { error }),
      ...config,
      activeWorkers: Math.ceil(running / config.concurrency),
      queueSize: this.#queues.get(name)?.length ?? 0,
      activeTasks: running,
      ...(version === undefined ? {} : { version, sha256, deployedAt }),
    };
  }

  /** The function `name` if it takes work now; the refusals every entry point shares. */
  #intake(name: string): Entry {
    if (this.#draining) throw draining();
    const entry = this.#functions.get(name);
    if (!entry) throw unknownFunction(name);
    return entry;
  }

  #accept(name: string, args: unknown[], options: SubmitOptions, retryOf?: string): Task {
    const entry = this.#intake(name);
    const id = options.id ?? crypto.randomUUID();
    if (this.#tasks.has(id)) {
      throw new EbbflowError('duplicate_id', `task id "${id}" is already in use`);
    }
    const queue = this.#queues.get(name) as string[];
    if (queue.length >= entry.config.maxQueue) {
      throw new EbbflowError(
        'queue_full',
        `the queue of "${name}" is full (${entry.config.maxQueue} tasks); retry later`,
      );
    }
    const retry = { ...entry.config.retry, ...options.retry };
    const record: TaskRecord = {
      id,
      function: name,
      status: 'queued',
      submittedAt: Date.now(),
      attempt: 1,
      attempts: retry.attempts,
      ...(retryOf === undefined ? {} : { retryOf }),
      ...(entry.version === undefined ? {} : { version: entry.version }),
    };
    const task: Task = {
      record,
      args,
      timeoutMs: options.timeoutMs ?? entry.config.timeoutMs,
      run: 0,
    };
    this.#tasks.set(id, task);
    this.#order.push(id);
    const unavailable = this.#info(name).error;
    if (unavailable !== undefined) {
      this.#fail(task, 'load_failed', unavailable);
      return task;
    }
    queue.push(id);
    this.#emitTask(task);
    // The caller gets its `queued` record before anything runs, as from the real runtime.
    queueMicrotask(() => this.#dispatch(name));
    return task;
  }

  #dispatch(name: string): void {
    const entry = this.#pools.get(name);
    const queue = this.#queues.get(name);
    if (!entry || !queue) return;
    const lanes = entry.config.maxWorkers * entry.config.concurrency;
    while (queue.length > 0 && (this.#running.get(name) ?? 0) < lanes) {
      this.#start(this.#tasks.get(queue.shift() as string) as Task, entry);
    }
  }

  #start(task: Task, entry: Entry): void {
    const name = task.record.function;
    this.#running.set(name, (this.#running.get(name) ?? 0) + 1);
    const run = ++task.run;
    const startedAt = Date.now();
    this.#change(task, { status: 'running', startedAt, workerId: 1 });
    const current = () => task.run === run;
    const timer = setTimeout(() => {
      if (!current()) return;
      task.run++;
      this.#release(name);
      this.#fail(task, 'timed_out', `timed out after ${task.timeoutMs} ms`, { timedOut: true });
    }, task.timeoutMs);
    new Promise((resolve) => resolve((entry.fn.run as (...a: unknown[]) => unknown)(...task.args)))
      .then(
        (result) => {
          if (!current()) return;
          const completedAt = Date.now();
          this.#release(name);
          this.#completed++;
          this.#runTimeTotal += completedAt - startedAt;
          this.#change(task, {
            status: 'completed',
            result,
            completedAt,
            executionTime: completedAt - startedAt,
          });
        },
        (error: unknown) => {
          if (!current()) return;
          this.#release(name);
          this.#fail(task, 'function_threw', String((error as Error)?.message ?? error), {
            executionTime: Date.now() - startedAt,
          });
        },
      )
      .finally(() => clearTimeout(timer));
  }

  /** A failure: queued again while attempts are left (no backoff here), else terminal. */
  #fail(task: Task, code: FailureCode, error: string, extra: Partial<TaskRecord> = {}): void {
    const { record } = task;
    const retryable = code === 'function_threw' || code === 'timed_out';
    if (retryable && (record.attempt ?? 1) < (record.attempts ?? 1) && !this.#draining) {
      this.#change(task, { status: 'queued', attempt: (record.attempt ?? 1) + 1 });
      this.#queues.get(record.function)?.push(record.id);
      queueMicrotask(() => this.#dispatch(record.function));
      return;
    }
    this.#failed++;
    this.#change(task, {
      status: 'failed',
      failedAt: Date.now(),
      error,
      errorCode: code,
      ...extra,
    });
  }

  #release(name: string): void {
    this.#running.set(name, Math.max(0, (this.#running.get(name) ?? 0) - 1));
    queueMicrotask(() => this.#dispatch(name));
  }

  #dequeue(name: string, id: string): void {
    const queue = this.#queues.get(name);
    const at = queue?.indexOf(id) ?? -1;
    if (at >= 0) queue?.splice(at, 1);
  }

  #change(task: Task, fields: Partial<TaskRecord>): void {
    Object.assign(task.record, fields);
    this.#emitTask(task);
    if (!isTerminal(task.record)) return;
    for (const wake of this.#waiters.get(task.record.id) ?? []) wake();
    this.#waiters.delete(task.record.id);
  }

  #emitTask(task: Task): void {
    for (const { listener } of this.#listeners) listener({ type: 'task', data: copy(task.record) });
  }

  #records(name: string): TaskRecord[] {
    return [...this.#tasks.values()].map((t) => t.record).filter((r) => r.function === name);
  }

  #matches(id: string, fn: string | undefined, status: string | undefined): boolean {
    const { record } = this.#tasks.get(id) as Task;
    return (
      (fn === undefined || record.function === fn) &&
      (status === undefined || record.status === status)
    );
  }
}

const mean = (values: number[]) =>
  values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;

const unknownFunction = (name: string) =>
  new EbbflowError('unknown_function', `no function named "${name}"`);

const unknownTask = (id: string) =>
  new EbbflowError('unknown_task', `no task with id "${id}" (unknown or expired)`);

const draining = () =>
  new EbbflowError('draining', 'the runtime is shutting down and takes no new tasks');

const invalidFunction = (name: string, why: string) =>
  new EbbflowError('invalid_function', `function "${name}" was not deployed: ${why}`);

const sha256Hex = async (text: string): Promise<string> => {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
};
