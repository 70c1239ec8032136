/**
 * The `Runtime` of the edge, in the Worker: what the Hono app calls. Task state lives in the
 * task shards (Durable Objects, chosen by a hash of the task id), functions in the registry
 * object, code runs in the functions' own isolates. The synchronous reads (`functions()`,
 * `stats()`) answer from a snapshot that `refresh()` brings up to date; the Workers entry calls
 * it before each request (at most once a second per isolate for the function list; stats and
 * metrics ask every shard each time).
 * @module
 */
import bundle from 'ebbflow:functions';
import type {
  DurableObjectId,
  DurableObjectNamespace,
} from '@cloudflare/workers-types/latest/index.ts';
import { idempotentTaskExpired, isReplay, markReplayed } from '../runtime/backend/idempotency.ts';
import { pageOf } from '../runtime/backend/page-size.ts';
import { toRetryPolicy } from '../runtime/backend/retry.ts';
import { checkSubmission, withIdempotency } from '../runtime/backend/submission.ts';
import { EbbflowError, messageOf, unknownCursor, unknownFunction } from '../runtime/errors.ts';
import { resolveFunctionConfig } from '../runtime/options.ts';
import type {
  FunctionInfo,
  FunctionVersions,
  HandlerRequest,
  NewTask,
  Readiness,
  ResolvedFunctionConfig,
  RetryPolicy,
  RunEnding,
  Runtime,
  ScalingEvent,
  SubmitOptions,
  TaskPage,
  TaskQuery,
  TaskRecord,
} from '../runtime/types.ts';
import { fromWireRequest } from '../runtime/worker/http.ts';
import { unwrap } from './answer.ts';
import { addCosts, type ShardCosts } from './costs.ts';
import { type EdgeDefaults, type EdgeEnv, edgeDefaults, shardCount } from './env.ts';
import { type EdgeEvent, EdgeEvents } from './events.ts';
import { fnv1a } from './hash.ts';
import { Isolates } from './isolates.ts';
import { laneShare } from './lanes.ts';
import { loaderOf } from './loader-of.ts';
import type { DeployedFunction, FunctionRecord, FunctionRegistry } from './registry-object.ts';
import { type EdgeStats, edgeStats, mergeCounts } from './stats.ts';
import { stripTypes } from './strip-types.ts';
import type { ShardCounts, TaskShard } from './task-object.ts';

/** How long a snapshot of the function list is used before the registry is asked again. */
const FUNCTIONS_TTL_MS = 1_000;

/** An edge function: its registry entry and config resolved over the settings. */
interface EdgeFunction {
  entry: DeployedFunction;
  config: ResolvedFunctionConfig;
  error?: string;
}

export class EdgeRuntime implements Runtime {
  #env: EdgeEnv;
  #defaults: EdgeDefaults;
  #shards: number;
  #functions = new Map<string, EdgeFunction>();
  #fetchedAt = 0;
  #counts: ShardCounts = {};
  #costs: ShardCosts = { calls: {}, statements: 0 };
  #shardIds: DurableObjectId[] = [];
  #woken: Promise<void> | undefined;
  #loading: Promise<void> | undefined;
  /** Code of functions run here (handlers, ephemeral runs) by name and version. */
  #codes = new Map<string, Promise<FunctionRecord | undefined>>();
  #isolates: Isolates;
  #events = new EdgeEvents({
    feeds: () => Array.from({ length: this.#shards }, (_, i) => this.#shard(i).events()),
    stats: async () => {
      await this.refresh({ counts: true });
      return this.stats();
    },
  });

  /** `ctx` is the Worker's execution context: its `exports` reach the `NetGate` entrypoint. */
  constructor(env: EdgeEnv, ctx: { exports?: unknown }) {
    this.#env = env;
    this.#defaults = edgeDefaults(env);
    this.#shards = shardCount(env);
    this.#isolates = new Isolates(loaderOf(env, ctx), bundle.isolate, 'worker');
  }

  readonly draining = false;

  /**
   * Bring the snapshot up to date: the function list when older than a second (or `force`),
   * and the shards' counts when `counts` is set. The first call wakes every shard, which
   * re-arms work a local restart left without its alarm.
   */
  async refresh({ counts = false, force = false } = {}): Promise<void> {
    this.#woken ??= Promise.all(
      Array.from({ length: this.#shards }, (_, i) => this.#shard(i).wake()),
    ).then(
      () => undefined,
      (error: unknown) => {
        this.#woken = undefined; // the next request tries again
        throw error;
      },
    );
    const jobs: Promise<void>[] = [this.#woken];
    if (force || Date.now() - this.#fetchedAt > FUNCTIONS_TTL_MS) {
      // Requests that find the list stale at once share one read of the registry.
      this.#loading ??= this.#loadFunctions().finally(() => {
        this.#loading = undefined;
      });
      jobs.push(this.#loading);
    }
    if (counts) jobs.push(this.#loadCounts());
    await Promise.all(jobs);
  }

  functions(): FunctionInfo[] {
    return [...this.#functions.keys()].map((name) => this.getFunction(name) as FunctionInfo);
  }

  getFunction(name: string): FunctionInfo | undefined {
    const fn = this.#functions.get(name);
    if (!fn) return undefined;
    const counts = this.#counts[name];
    const info: FunctionInfo & { version: number; sha256: string; deployedAt: number } = {
      name,
      status: fn.error ? 'unavailable' : 'ready',
      ...fn.config,
      activeWorkers: 0,
      queueSize: counts?.queued ?? 0,
      activeTasks: counts?.running ?? 0,
      version: fn.entry.version,
      sha256: fn.entry.sha256,
      deployedAt: fn.entry.deployedAt,
    };
    if (fn.error) info.error = fn.error;
    return info;
  }

  async submit(
    name: string,
    args: unknown[],
    options: SubmitOptions & { retry?: RetryPolicy } = {},
  ): Promise<TaskRecord> {
    const task = this.#task(name, args, options);
    if (options.idempotencyKey !== undefined) return this.#submitKeyed(task, options);
    return unwrap(await this.#shardOf(task.id as string).submit(task));
  }

  /** Submit and resolve with the terminal record; the shard holds the call (one hop). */
  async call(
    name: string,
    args: unknown[],
    options: SubmitOptions & { retry?: RetryPolicy } = {},
  ): Promise<TaskRecord> {
    const task = this.#task(name, args, options);
    if (options.idempotencyKey === undefined) {
      return unwrap(await this.#shardOf(task.id as string).invoke(task));
    }
    // A repeat waits for the first request's task, as the first did.
    const record = await this.#submitKeyed(task, options);
    const ended =
      (await this.#shardOf(record.id).wait(record.id, Number.POSITIVE_INFINITY)) ?? record;
    return isReplay(record) ? markReplayed({ ...ended }) : ended;
  }

  /**
   * A submission with an idempotency key. The key lives in the shard its hash picks: a new task
   * gets an id that lands in that shard too (one hop) when it holds lanes of the function
   * (`lanes.ts`); a chosen id, or a new one for a shard with lanes, in another shard takes the
   * key there first, then goes to its own shard, and gives the key back if refused.
   */
  async #submitKeyed(base: NewTask, options: SubmitOptions): Promise<TaskRecord> {
    const keyShard = fnv1a(options.idempotencyKey as string) % this.#shards;
    const runsThere = this.#holdsLanes(base.function, keyShard);
    const task = await withIdempotency(
      { ...base, id: options.id ?? (runsThere ? this.#idIn(keyShard) : base.id) },
      options,
      this.#defaults.idempotencyTtlMs,
    );
    const id = task.id as string;
    const key = task.idempotency as NonNullable<NewTask['idempotency']>;
    if (fnv1a(id) % this.#shards === keyShard) {
      const { record, replayed } = unwrap(await this.#shard(keyShard).submitKeyed(task));
      return replayed ? markReplayed(record) : record;
    }
    const earlier = unwrap(await this.#shard(keyShard).reserveKey(key, task.function, id));
    if (earlier !== null) {
      const record = await this.result(earlier);
      if (!record) throw idempotentTaskExpired(key.key, earlier);
      return markReplayed(record);
    }
    const { idempotency: _, ...plain } = task;
    try {
      return unwrap(await this.#shardOf(id).submit(plain));
    } catch (error) {
      await this.#shard(keyShard).releaseKey(key, id);
      throw error;
    }
  }

  /** Whether shard `index` runs tasks of `name` in lanes of its own (else it lends its runs). */
  #holdsLanes(name: string, index: number): boolean {
    const config = this.#functions.get(name)?.config;
    if (!config) return true;
    const lanes = config.maxWorkers * config.concurrency;
    return lanes >= this.#shards || laneShare(name, lanes, this.#shards, index) > 0;
  }

  /** A new task id whose shard is `shard`. */
  #idIn(shard: number): string {
    for (;;) {
      const id = crypto.randomUUID();
      if (fnv1a(id) % this.#shards === shard) return id;
    }
  }

  /** Resolves at once: the functions are read from the registry with the first request. */
  async loaded(): Promise<void> {
    await this.refresh();
  }

  /** Always ready: the functions are bundled into the Worker and read with each request. */
  readiness(): Readiness {
    return { status: 'ready' };
  }

  /** No scaling decisions are made here: the platform scales (nothing is ever told). */
  onScale(_listener: (event: ScalingEvent) => void): () => void {
    return () => {};
  }

  #task(name: string, args: unknown[], options: SubmitOptions & { retry?: RetryPolicy }): NewTask {
    const fn = this.#functions.get(name);
    if (!fn) throw unknownFunction(name);
    checkSubmission(args, options);
    return {
      id: options.id ?? this.#newId(name, fn.config),
      ...(options.id === undefined ? { idDrawn: true as const } : {}),
      function: name,
      args,
      timeoutMs: options.timeoutMs ?? fn.config.timeoutMs,
      retry: options.retry ? toRetryPolicy(options.retry) : fn.config.retry,
      version: fn.entry.version,
      maxQueue: Math.ceil(fn.config.maxQueue / this.#shards),
    };
  }

  async result(id: string): Promise<TaskRecord | undefined> {
    return this.#shardOf(id).read(id);
  }

  async wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    return this.#shardOf(id).wait(id, ms);
  }

  async cancel(id: string): Promise<TaskRecord> {
    return unwrap(await this.#shardOf(id).cancel(id));
  }

  /** Every shard's newest page, merged: newest first by submission time, then id. */
  async list(query: TaskQuery): Promise<TaskPage> {
    let cursor: { submittedAt: number; id: string } | undefined;
    if (query.before !== undefined) {
      const from = await this.result(query.before);
      if (!from) throw unknownCursor(query.before);
      cursor = { submittedAt: from.submittedAt, id: from.id };
    }
    // One more than asked from each shard: whether another page follows.
    const { before: _, ...filter } = { ...query, limit: query.limit + 1 };
    const pages = await Promise.all(
      Array.from({ length: this.#shards }, (_, i) => this.#shard(i).list(filter, cursor)),
    );
    const merged = pages
      .flat()
      .sort((a, b) => b.submittedAt - a.submittedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    // Cut short by size too (runtime/backend/page-size.ts).
    return pageOf(merged, query.limit);
  }

  /** A failed or cancelled task again, under a new id (which may live in another shard). */
  async retry(id: string): Promise<TaskRecord> {
    const source = unwrap(await this.#shardOf(id).replaySource(id));
    const fn = this.#functions.get(source.function);
    if (!fn) throw unknownFunction(source.function);
    const next = this.#newId(source.function, fn.config);
    return unwrap(
      await this.#shardOf(next).submit({
        ...source,
        id: next,
        idDrawn: true,
        retryOf: id,
        version: fn.entry.version,
        maxQueue: Math.ceil(fn.config.maxQueue / this.#shards),
      }),
    );
  }

  /**
   * Deploy by name: TypeScript has its types stripped here (`strip-types.ts`), so one module of
   * either language deploys as on every host. Loaded and checked before it takes over.
   */
  async deploy(
    name: string,
    source: string,
    language: 'ts' | 'js',
  ): Promise<{ info: FunctionInfo; created: boolean; unchanged?: boolean }> {
    const js = language === 'ts' ? stripTypes(source) : source;
    const { created, unchanged } = unwrap(
      await this.#registry().deploy(name, js, source, language),
    );
    if (unchanged) {
      await this.refresh();
      return { info: this.getFunction(name) as FunctionInfo, created, unchanged };
    }
    await this.#changed(name);
    return { info: this.getFunction(name) as FunctionInfo, created };
  }

  async versions(name: string): Promise<FunctionVersions> {
    return unwrap(await this.#registry().versions(name));
  }

  /** A kept version again (the registry checks it in an isolate); the shards forget the old code. */
  async rollback(
    name: string,
    version?: number,
  ): Promise<{ info: FunctionInfo; unchanged?: boolean }> {
    const { unchanged } = unwrap(await this.#registry().rollback(name, version));
    if (unchanged) {
      await this.refresh();
      return { info: this.getFunction(name) as FunctionInfo, unchanged };
    }
    await this.#changed(name);
    return { info: this.getFunction(name) as FunctionInfo };
  }

  async remove(name: string): Promise<FunctionInfo> {
    const info = this.getFunction(name);
    const removed = await this.#registry().remove(name);
    if (!info || !removed) throw unknownFunction(name);
    await this.#changed(name);
    // The version that was deleted, as every host reports it.
    return {
      ...info,
      status: 'deleted' as FunctionInfo['status'],
      version: removed.version,
      sha256: removed.sha256,
    } as FunctionInfo;
  }

  /**
   * A function's HTTP handler (its `fetch` export), in its isolate, within the function's
   * timeout. Throws `no_fetch_handler`, `handler_failed` or `handler_timed_out` as elsewhere.
   */
  async handle(name: string, input: Request | HandlerRequest): Promise<Response> {
    const request = input instanceof Request ? input : fromWireRequest(input);
    const fn = this.#functions.get(name);
    if (!fn) throw unknownFunction(name);
    if (fn.error) {
      throw new EbbflowError('handler_failed', `function "${name}" is unavailable: ${fn.error}`);
    }
    if (!fn.entry.handler) {
      throw new EbbflowError(
        'no_fetch_handler',
        `function "${name}" has no fetch export, so it does not answer HTTP requests`,
      );
    }
    const code = await this.#code(name, fn);
    const { timeoutMs } = fn.config;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // A handler computing past its time may hold where isolates run (locally).
        this.#isolates.stalled();
        reject(
          new EbbflowError(
            'handler_timed_out',
            `function "${name}": timed out after ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
    });
    try {
      const answer = await Promise.race([
        this.#isolates.handle(code, fn.config.permissions, request, timeoutMs),
        late,
      ]);
      // A response from another isolate has immutable headers; the app adds its CORS headers.
      return new Response(answer.body, answer);
    } catch (error) {
      if (error instanceof EbbflowError) throw error;
      throw new EbbflowError('handler_failed', `function "${name}" failed: ${messageOf(error)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One run with no record kept: in the function's isolate here, within its timeout. */
  async runEphemeral(
    name: string,
    args: unknown[],
    options: { timeoutMs?: number } = {},
  ): Promise<RunEnding> {
    const fn = this.#functions.get(name);
    if (!fn) throw unknownFunction(name);
    const code = await this.#code(name, fn);
    const startedAt = Date.now();
    const outcome = await this.#isolates.run(
      code,
      fn.config.permissions,
      args,
      options.timeoutMs ?? fn.config.timeoutMs,
      { stop: new Promise<string>(() => {}) },
    );
    const ran = { startedAt, endedAt: Date.now(), workerId: outcome.workerId };
    const logs = outcome.logs ? { logs: outcome.logs } : {};
    return outcome.ok
      ? {
          status: 'completed',
          result: outcome.result,
          executionTime: outcome.executionTime,
          ...ran,
          ...logs,
        }
      : { status: 'failed', error: outcome.error, errorCode: outcome.code, ...ran, ...logs };
  }

  /**
   * Task changes and printed lines from every shard as they happen, and stats once a second:
   * each subscriber's own feeds, opened in its own request.
   */
  subscribe(listener: (event: EdgeEvent) => void, _onClose?: () => void): () => void {
    // `onClose` is for a runtime that shuts down; the edge's never does (nothing to drain).
    return this.#events.subscribe(listener);
  }

  stats(): EdgeStats {
    const configs = new Map([...this.#functions].map(([name, fn]) => [name, fn.config]));
    return edgeStats(configs, this.#counts, this.#defaults, this.#shards, this.#costs);
  }

  /** The shards' outcome counts per function, for `/metrics` (kept with the records). */
  outcomes(): ShardCounts {
    return this.#counts;
  }

  /** Nothing to stop: the platform owns the isolates and the objects keep the tasks. */
  async close(): Promise<void> {}

  async #changed(name: string): Promise<void> {
    await Promise.all(Array.from({ length: this.#shards }, (_, i) => this.#shard(i).forget(name)));
    await this.refresh({ force: true });
  }

  async #loadFunctions(): Promise<void> {
    const entries = await this.#registry().list();
    const next = new Map<string, EdgeFunction>();
    for (const entry of entries) {
      if (entry.deleted) continue;
      let config: ResolvedFunctionConfig;
      let error = entry.error;
      try {
        config = resolveFunctionConfig(entry.config ?? undefined, this.#defaults);
      } catch (problem) {
        config = resolveFunctionConfig(undefined, this.#defaults);
        error ??= `the module's config is invalid: ${(problem as Error).message}`;
      }
      next.set(entry.name, error ? { entry, config, error } : { entry, config });
    }
    this.#functions = next;
    this.#fetchedAt = Date.now();
  }

  async #loadCounts(): Promise<void> {
    const all = await Promise.all(
      Array.from({ length: this.#shards }, (_, i) => this.#shard(i).counts()),
    );
    this.#counts = mergeCounts(all.map((shard) => shard.functions));
    this.#costs = addCosts(all.map((shard) => shard.costs));
  }

  /**
   * A new task id. A function with fewer lanes than shards runs only in the shards holding its
   * lanes (`lanes.ts`): its ids are drawn until one lands in such a shard, so its runs need no
   * other shard (a client-chosen id elsewhere has its runs lent).
   */
  #newId(name: string, config: ResolvedFunctionConfig): string {
    const lanes = config.maxWorkers * config.concurrency;
    for (;;) {
      const id = crypto.randomUUID();
      if (lanes >= this.#shards) return id;
      if (laneShare(name, lanes, this.#shards, this.#shardIndex(id)) > 0) return id;
    }
  }

  /** A function's current code, read from the registry once per version. */
  async #code(name: string, fn: EdgeFunction): Promise<FunctionRecord> {
    const key = `${name}#${fn.entry.version}`;
    let pending = this.#codes.get(key);
    if (!pending) {
      pending = this.#registry().code(name);
      this.#codes.set(key, pending);
      pending.catch(() => this.#codes.delete(key));
    }
    const code = await pending;
    if (!code || code.deleted) throw unknownFunction(name);
    return code;
  }

  #registry(): FunctionRegistry {
    const ns = this.#env.FUNCTIONS as DurableObjectNamespace;
    return ns.get(ns.idFromName('registry')) as unknown as FunctionRegistry;
  }

  #shard(index: number): TaskShard {
    const ns = this.#env.TASKS as DurableObjectNamespace;
    // An id is a hash of its name: worked out once per shard (a stub is per request).
    let id = this.#shardIds[index];
    if (!id) {
      id = ns.idFromName(`shard-${index}`);
      this.#shardIds[index] = id;
    }
    return ns.get(id) as unknown as TaskShard;
  }

  /** Tasks are spread by a hash of their id: one hop to any record, and no hot function's shard. */
  #shardOf(id: string): TaskShard {
    return this.#shard(this.#shardIndex(id));
  }

  #shardIndex(id: string): number {
    return fnv1a(id) % this.#shards;
  }
}
