/**
 * An in-memory `Runtime` for route and client tests: no threads, no backend, no scaler.
 * Functions are plain JavaScript functions run in this process; their tasks are the store's
 * (`fake-tasks.ts`), with the real runtime's states, limits and error codes. Deployed sources
 * load as JavaScript modules (a `data:` import), so one that does not load is refused as the
 * real loader refuses it. What the fake cannot make itself (scaling decisions, printed lines,
 * stats ticks) a test hands to `emit`.
 */
import {
  EbbflowError,
  type FunctionInfo,
  type FunctionVersion,
  type FunctionVersions,
  type HandlerRequest,
  type PoolStats,
  type Readiness,
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
import { fromWireRequest } from '../../runtime/worker/http.ts';
import { FakeTaskStore, type Runner } from './fake-tasks.ts';

/** One function of the fake: its default export and/or its `fetch` export, and its config. */
export interface FakeFunction {
  run?: (...args: unknown[]) => unknown;
  fetch?: (request: Request) => Response | Promise<Response>;
  /** A function whose module failed to load: it is listed unavailable with this message. */
  loadError?: string;
  /** Found at start and still loading (`readiness()` names it) until `finishLoading`. */
  loading?: boolean;
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

interface Entry extends Runner {
  fn: FakeFunction;
  sha256?: string;
  deployedAt?: number;
}

/** A deployed version as the fake keeps it: its source, to load again on a rollback. */
interface Kept extends Omit<FunctionVersion, 'serving'> {
  source: string;
}

/** Versions kept per name, as the real runtime's default. */
const KEEP_VERSIONS = 10;

export class FakeRuntime implements Runtime {
  /** The functions taking work, by name. */
  #functions = new Map<string, Entry>();
  /** What runs each function's tasks: kept after a delete, so tasks already accepted finish. */
  #runners = new Map<string, Entry>();
  #tasks = new FakeTaskStore(
    (name) => this.#runners.get(name),
    (record) => this.#tell({ type: 'task', data: record }),
  );
  #listeners = new Set<{ listener: RuntimeListener; onClose?: () => void }>();
  #scaleListeners = new Set<(event: ScalingEvent) => void>();
  #scalingEvents: ScalingEvent[] = [];
  #draining = false;
  /** Deployed versions by name, newest first, and the highest number each name had. */
  #kept = new Map<string, Kept[]>();
  #highest = new Map<string, number>();

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
    this.#intake(name);
    return this.#tasks.accept(name, args, options);
  }

  async call(name: string, args: unknown[], options: SubmitOptions = {}): Promise<TaskRecord> {
    const { id } = await this.submit(name, args, options);
    return (await this.#tasks.wait(id, Number.POSITIVE_INFINITY)) as TaskRecord;
  }

  async result(id: string): Promise<TaskRecord | undefined> {
    return this.#tasks.read(id);
  }

  wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    return this.#tasks.wait(id, ms);
  }

  async cancel(id: string): Promise<TaskRecord> {
    return this.#tasks.cancel(id);
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    return this.#tasks.list(query);
  }

  async retry(id: string): Promise<TaskRecord> {
    const old = this.#tasks.replayable(id);
    this.#intake(old.function);
    return this.#tasks.accept(old.function, old.args, {}, id);
  }

  async runEphemeral(name: string, args: unknown[]): Promise<RunEnding> {
    const { run } = this.#intake(name);
    const startedAt = Date.now();
    try {
      if (!run) throw new Error('the module has no default export');
      const result = await run(...args);
      const endedAt = Date.now();
      const executionTime = endedAt - startedAt;
      return { status: 'completed', result, startedAt, endedAt, executionTime, workerId: 1 };
    } catch (error) {
      const message = String((error as Error)?.message ?? error);
      const endedAt = Date.now();
      return { status: 'failed', error: message, errorCode: 'function_threw', startedAt, endedAt };
    }
  }

  async deploy(
    name: string,
    source: string,
    language: 'ts' | 'js',
  ): Promise<{ info: FunctionInfo; created: boolean; unchanged?: boolean }> {
    if (this.#draining) throw draining();
    const sha256 = await sha256Hex(source);
    const before = this.#functions.get(name);
    if (before?.sha256 === sha256 && before.unavailable === undefined) {
      return { info: this.#info(name), created: false, unchanged: true };
    }
    const version = Math.max(this.#highest.get(name) ?? 0, before?.version ?? 0) + 1;
    await this.#load(name, source, version, sha256);
    const bytes = new TextEncoder().encode(source).length;
    const kept = (this.#kept.get(name) ?? []).filter((k) => k.version !== version);
    const deployedAt = this.#functions.get(name)?.deployedAt ?? Date.now();
    kept.unshift({ version, sha256, deployedAt, bytes, language, source });
    this.#kept.set(name, kept.slice(0, KEEP_VERSIONS));
    return { info: this.#info(name), created: before === undefined };
  }

  async versions(name: string): Promise<FunctionVersions> {
    const entry = this.#functions.get(name);
    if (!entry) throw unknownFunction(name);
    const serving = entry.version ?? 0;
    return {
      name,
      version: serving,
      versions: (this.#kept.get(name) ?? []).map(({ source: _, ...k }) => ({
        ...k,
        serving: k.version === serving,
      })),
    };
  }

  async rollback(
    name: string,
    version?: number,
  ): Promise<{ info: FunctionInfo; unchanged?: boolean }> {
    if (this.#draining) throw draining();
    const entry = this.#functions.get(name);
    if (!entry) throw unknownFunction(name);
    const serving = entry.version ?? 0;
    const kept = this.#kept.get(name) ?? [];
    const target = version ?? kept.find((k) => k.version < serving)?.version;
    if (target === undefined) {
      throw new EbbflowError(
        'no_previous_version',
        `function "${name}" has no kept version older than version ${serving}, which serves`,
      );
    }
    if (target === serving) return { info: this.#info(name), unchanged: true };
    const found = kept.find((k) => k.version === target);
    if (!found) {
      throw new EbbflowError('unknown_version', `function "${name}" has no version ${target} kept`);
    }
    await this.#load(name, found.source, target, found.sha256);
    found.deployedAt = this.#functions.get(name)?.deployedAt ?? Date.now();
    return { info: this.#info(name) };
  }

  /** Load `source` as version `version` of `name` (a `data:` import), or refuse it. */
  async #load(name: string, source: string, version: number, sha256: string): Promise<void> {
    let module: Record<string, unknown>;
    try {
      module = await import(`data:text/javascript,${encodeURIComponent(source)}`);
    } catch (error) {
      throw invalidFunction(name, String((error as Error)?.message ?? error));
    }
    if (typeof module.default !== 'function' && typeof module.fetch !== 'function') {
      throw invalidFunction(name, 'the module has no default export and no fetch export');
    }
    const entry = this.#define(name, {
      run: module.default as FakeFunction['run'],
      fetch: module.fetch as FakeFunction['fetch'],
      config: (module.config as Partial<ResolvedFunctionConfig>) ?? {},
    });
    entry.version = version;
    entry.sha256 = sha256;
    entry.deployedAt = Date.now();
    this.#highest.set(name, Math.max(this.#highest.get(name) ?? 0, version));
  }

  async remove(name: string): Promise<FunctionInfo> {
    if (!this.#functions.has(name)) throw unknownFunction(name);
    const info = { ...this.#info(name), status: 'deleted' as const };
    this.#functions.delete(name);
    return info;
  }

  async loaded(): Promise<void> {}

  readiness(): Readiness {
    if (this.#draining) return { status: 'draining' };
    const loading = [...this.#functions].filter(([, e]) => e.fn.loading).map(([name]) => name);
    return loading.length > 0 ? { status: 'loading', loading } : { status: 'ready' };
  }

  /** A function that was `loading` has loaded. */
  finishLoading(name: string): void {
    const entry = this.#functions.get(name);
    if (entry) entry.fn = { ...entry.fn, loading: false };
  }

  stats(): PoolStats {
    const functions: PoolStats['functions'] = {};
    const totals = { activeWorkers: 0, queueSize: 0, activeTasks: 0, maxWorkers: 0 };
    const ended = { completed: 0, failed: 0, runTime: 0 };
    for (const info of this.functions()) {
      const counts = this.#tasks.counts(info.name);
      functions[info.name] = {
        activeWorkers: info.activeWorkers,
        queueSize: counts.queued,
        activeTasks: counts.running,
        minWorkers: info.minWorkers,
        maxWorkers: info.maxWorkers,
        tasksCompleted: counts.completed,
        tasksFailed: counts.failed,
        tasksCancelled: counts.cancelled,
        avgTaskTime: counts.avgTaskTime,
        coldStarts: 0,
        loadRatio: 0,
      };
      totals.activeWorkers += info.activeWorkers;
      totals.queueSize += counts.queued;
      totals.activeTasks += counts.running;
      totals.maxWorkers += info.maxWorkers;
      ended.completed += counts.completed;
      ended.failed += counts.failed;
      ended.runTime += counts.avgTaskTime * counts.completed;
    }
    return {
      ...totals,
      minWorkers: DEFAULT_CONFIG.minWorkers,
      performanceMetrics: {
        tasksCompleted: ended.completed,
        tasksFailed: ended.failed,
        avgTaskTime: ended.completed === 0 ? 0 : ended.runTime / ended.completed,
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
    this.#tell(event);
  }

  /** The function's `fetch` export, within its timeout; what it throws is `handler_failed`. */
  async handle(name: string, input: Request | HandlerRequest): Promise<Response> {
    // The routes hand over plain data; the function gets a Request, as in a worker.
    const request = input instanceof Request ? input : fromWireRequest(input);
    const { fn, config, unavailable } = this.#intake(name);
    if (unavailable !== undefined) {
      throw new EbbflowError(
        'function_unavailable',
        `function "${name}" is unavailable: ${unavailable}`,
      );
    }
    const { fetch } = fn;
    if (!fetch) {
      throw new EbbflowError('no_fetch_handler', `function "${name}" has no fetch export`);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      const why = `the handler of "${name}" ran past ${config.timeoutMs} ms`;
      timer = setTimeout(
        () => reject(new EbbflowError('handler_timed_out', why)),
        config.timeoutMs,
      );
    });
    const answer = Promise.resolve()
      .then(() => fetch(request))
      .catch((error: unknown) => {
        const why = `the handler of "${name}" threw: ${(error as Error)?.message ?? error}`;
        throw new EbbflowError('handler_failed', why);
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
    this.#tasks.close();
    for (const { onClose } of this.#listeners) onClose?.();
    this.#listeners.clear();
  }

  #define(name: string, fn: FakeFunction): Entry {
    const unavailable =
      fn.loadError ?? (fn.run || fn.fetch ? undefined : 'the module has no default export');
    const entry: Entry = { fn, run: fn.run, config: { ...DEFAULT_CONFIG, ...fn.config } };
    if (unavailable !== undefined) entry.unavailable = unavailable;
    this.#functions.set(name, entry);
    this.#runners.set(name, entry);
    return entry;
  }

  #info(name: string): FunctionInfo {
    const entry = this.#functions.get(name) as Entry;
    const { config, unavailable, version, sha256, deployedAt } = entry;
    const { queued, running } = this.#tasks.counts(name);
    return {
      name,
      status: unavailable === undefined ? 'ready' : 'unavailable',
      ...(unavailable === undefined ? {} : { error: unavailable }),
      ...config,
      activeWorkers: Math.ceil(running / config.concurrency),
      queueSize: queued,
      activeTasks: running,
      ...(version === undefined ? {} : { version, sha256, deployedAt }),
      ...(unavailable === undefined
        ? { exports: { default: entry.fn.run !== undefined, fetch: entry.fn.fetch !== undefined } }
        : {}),
    };
  }

  /** The function `name` if it takes work now; the refusals every entry point shares. */
  #intake(name: string): Entry {
    if (this.#draining) throw draining();
    const entry = this.#functions.get(name);
    if (!entry) throw unknownFunction(name);
    return entry;
  }

  #tell(event: RuntimeEvent): void {
    for (const { listener } of this.#listeners) listener(event);
  }
}

const unknownFunction = (name: string) =>
  new EbbflowError('unknown_function', `no function named "${name}"`);

const draining = () =>
  new EbbflowError('draining', 'the runtime is shutting down and takes no new tasks');

const invalidFunction = (name: string, why: string) =>
  new EbbflowError('invalid_function', `function "${name}" was not deployed: ${why}`);

const sha256Hex = async (text: string): Promise<string> => {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
};
