/**
 * One task shard: a SQLite-backed Durable Object that keeps its tasks (`SqlTaskTable`) and runs
 * them in the functions' isolates, at most its share of each function's lanes at once
 * (`lanes.ts`). A submit answers as soon as the row is written and its run starts in the same
 * turn; an invoke is one call that submits, runs and answers with the end (two commits: the
 * start, the end). With a lane free and nothing of the function waiting, the row is written
 * already claimed (one statement where a queue would take three). A retry's backoff is waited
 * with a timer; an alarm a few seconds out is the safety net for work when the object is evicted
 * or restarted (the Worker re-arms every shard on its first request, because a local restart
 * loses alarms, workers-sdk#4372). Runs left `running` by an earlier life of the object were lost
 * with it: they fail as `server_lost`, so they are retried while attempts last.
 * @module
 */
import { DurableObject } from 'cloudflare:workers';
import bundle from 'ebbflow:functions';
import type {
  DurableObjectNamespace,
  DurableObjectState,
} from '@cloudflare/workers-types/latest/index.ts';
import { type Idempotency, isReplay } from '../runtime/backend/idempotency.ts';
import { messageOf } from '../runtime/errors.ts';
import { resolveFunctionConfig } from '../runtime/options.ts';
import type {
  ClaimedTask,
  FailureCode,
  NewTask,
  ResolvedFunctionConfig,
  TaskLog,
  TaskQuery,
  TaskRecord,
} from '../runtime/types.ts';
import { type Answer, answer, failed, ok } from './answer.ts';
import { Costs, countingSql, type ShardCosts } from './costs.ts';
import { type EdgeDefaults, type EdgeEnv, edgeDefaults, shardCount } from './env.ts';
import { Isolates, type RunOutcome } from './isolates.ts';
import { Lanes, laneShard, laneShare } from './lanes.ts';
import { loaderOf } from './loader-of.ts';
import type { Outcomes } from './outcome-table.ts';
import type { FunctionRecord, FunctionRegistry } from './registry-object.ts';
import { TaskFeed } from './task-feed.ts';
import { type ListCursor, SqlTaskTable } from './task-table.ts';

/** What a shard tells `/stats`: per function, queued and running tasks and outcomes so far. */
export type ShardCounts = Record<string, { queued: number; running: number } & Outcomes>;

/** What a replay needs from the old task, read from its shard. */
export interface ReplaySource {
  function: string;
  args: unknown[];
  timeoutMs: number;
  retry: { attempts: number; backoffMs: number };
}

/** How far out the safety-net alarm is set while work is live (one storage write per period). */
const SAFETY_MS = 5_000;

/** A run of another shard's task done here in one of this shard's lanes. */
export type LentRun = { id: string; outcome: RunOutcome; startedAt: number; version?: number };

export class TaskShard extends DurableObject<EdgeEnv> {
  #table: SqlTaskTable;
  #isolates: Isolates;
  #defaults: EdgeDefaults;
  #shards: number;
  #index: number;
  #lanes = new Lanes();
  /** Runs in flight here (this shard's tasks and lent runs), each with the way to stop it. */
  #running = new Map<string, { fn: string; stop: (why: string) => void }>();
  #code = new Map<string, Promise<FunctionRecord | undefined>>();
  #idle: Array<() => void> = [];
  /** When the alarm is set for (null: none), as this life of the object last set or read it. */
  #alarmAt: number | null | undefined;
  #inAlarm = false;
  /** The timer for the earliest retry's end of backoff, and when it fires. */
  #wake: { at: number; timer: ReturnType<typeof setTimeout> } | undefined;
  #feed = new TaskFeed();
  #costs = new Costs();
  /** Lane requests sent to other shards and not yet answered, per function. */
  #borrowing = new Map<string, number>();

  constructor(ctx: DurableObjectState, env: EdgeEnv) {
    super(ctx, env);
    this.#defaults = edgeDefaults(env);
    this.#shards = shardCount(env);
    this.#table = new SqlTaskTable(
      countingSql(ctx.storage.sql, this.#costs),
      {
        ttlMs: this.#defaults.resultTtlMs,
        maxResults: Math.ceil(this.#defaults.maxResults / this.#shards),
      },
      // A retry waits its backoff: a timer wakes this shard then (the alarm if it was evicted).
      { deferred: (_fn, dueAt) => this.#deferUntil(dueAt) },
    );
    this.#index = Number(/^shard-(\d+)$/.exec(ctx.id.name ?? '')?.[1] ?? 0);
    // Worker ids of different shards never collide: shard n numbers its isolates from n × 10^6.
    this.#isolates = new Isolates(
      loaderOf(env, ctx),
      bundle.isolate,
      `shard-${this.#index}`,
      this.#index * 1_000_000 + 1,
    );
    this.#table.onCancel((id) => this.#running.get(id)?.stop('cancelled by request'));
    this.#table.onAvailable((fn) => this.#pump(fn));
    this.#table.subscribe((record) => this.#feed.tell({ type: 'task', record }));
    void ctx.blockConcurrencyWhile(() => this.#recover());
  }

  /** A new task: run at once when it may (`#runNow`), else queued; answered as submitted. */
  async submit(task: NewTask): Promise<Answer<TaskRecord>> {
    this.#costs.call('submit');
    const now = await answer(() => this.#runNow(task, false));
    if (now.ok && now.value) {
      await this.#armSafety();
      return ok(now.value.submitted);
    }
    const result = now.ok ? await answer(() => this.#table.submit(task)) : now;
    if (result.ok) await this.#armSafety();
    return result;
  }

  /**
   * Submit with an idempotency key held in this shard: the record, and whether it is the task an
   * earlier request with the key created (a mark that does not cross RPC).
   */
  async submitKeyed(task: NewTask): Promise<Answer<{ record: TaskRecord; replayed: boolean }>> {
    this.#costs.call('submitKeyed');
    const result = await answer(() => this.#table.submit(task));
    if (!result.ok) return result;
    const replayed = isReplay(result.value);
    if (!replayed) await this.#armSafety();
    return ok({ record: result.value, replayed });
  }

  /**
   * Hold `key` for task `id` of `fn` (which lives in another shard): the id of the task it
   * already names, or null when it was free and is now taken. Refuses another fingerprint.
   */
  async reserveKey(key: Idempotency, fn: string, id: string): Promise<Answer<string | null>> {
    this.#costs.call('reserveKey');
    return answer(async () => {
      const earlier = this.#table.reservedKey(key);
      if (earlier !== undefined) return earlier;
      this.#table.reserveKey(key, fn, id);
      return null;
    });
  }

  /** Give `key` back (its task was refused in its own shard). */
  async releaseKey(key: Idempotency, id: string): Promise<void> {
    this.#costs.call('releaseKey');
    this.#table.releaseKey(key, id);
  }

  /**
   * Submit, run and hold the call until the task ends: an invoke in one call. With a lane free
   * and none of the function's tasks waiting here, the task is written already claimed and run
   * at once (`#runNow`); otherwise it is queued as a submit's.
   */
  async invoke(task: NewTask): Promise<Answer<TaskRecord>> {
    this.#costs.call('invoke');
    const now = await answer(() => this.#runNow(task, true));
    if (!now.ok) return now;
    if (now.value) {
      await this.#armSafety();
      return ok(await (now.value.ended as Promise<TaskRecord>));
    }
    const accepted = await answer(() => this.#table.submit(task));
    if (!accepted.ok) return accepted;
    await this.#armSafety();
    const ended = await this.#table.wait(accepted.value.id, Number.POSITIVE_INFINITY);
    return ok(ended ?? accepted.value);
  }

  /** Every state change of this shard's tasks and every kept line they print, as NDJSON. */
  async events(): Promise<ReadableStream<Uint8Array>> {
    this.#costs.call('events');
    return this.#feed.open();
  }

  async read(id: string): Promise<TaskRecord | undefined> {
    this.#costs.call('read');
    return this.#table.read(id);
  }

  /** The long-poll, held here until the task ends or `ms` passes. */
  async wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    this.#costs.call('wait');
    return this.#table.wait(id, ms);
  }

  async cancel(id: string): Promise<Answer<TaskRecord>> {
    this.#costs.call('cancel');
    return answer(() => this.#table.cancel(id));
  }

  async list(query: Omit<TaskQuery, 'before'>, cursor?: ListCursor): Promise<TaskRecord[]> {
    this.#costs.call('list');
    return this.#table.listAfter(query, cursor);
  }

  /** The function and args of a failed or cancelled task, for a replay under a new id. */
  async replaySource(id: string): Promise<Answer<ReplaySource>> {
    this.#costs.call('replaySource');
    const record = await this.#table.read(id);
    if (!record) return failed('unknown_task', `no task with id "${id}" (unknown or expired)`);
    if (record.status !== 'failed' && record.status !== 'cancelled') {
      return failed(
        'not_retryable',
        `task "${id}" is ${record.status}; only a failed or cancelled task can be run again`,
      );
    }
    return ok(this.#table.replaySource(id) as ReplaySource);
  }

  /** Per function, queued and running tasks and outcomes; and what this shard's work cost. */
  async counts(): Promise<{ functions: ShardCounts; costs: ShardCosts }> {
    return { functions: this.#table.counts(), costs: this.#costs.read() };
  }

  /** A function was deployed or deleted: read its code again before the next run. */
  async forget(name: string): Promise<void> {
    this.#costs.call('forget');
    this.#code.delete(name);
  }

  /** Called by the Worker on its first request: constructing the object re-arms its work. */
  async wake(): Promise<void> {
    this.#costs.call('wake');
    this.#pumpAll();
  }

  /**
   * Another shard's run of `fn`, done here in one of this shard's lanes, in turn with this
   * shard's own: when a lane is free, `take` (back to that shard) claims its next task, which
   * runs here, and `record` (back to that shard) records how it ended before the lane is given
   * to the next run, so no more of `fn`'s tasks are `running` than it has lanes. False when it
   * had nothing left to run.
   */
  async lend(
    fn: string,
    take: () => Promise<ClaimedTask | undefined>,
    record: (run: LentRun) => Promise<void>,
  ): Promise<boolean> {
    this.#costs.call('lend');
    const code = await this.#lookup(fn);
    const config = code && !code.error ? this.#config(code) : undefined;
    const share = config ? this.#share(fn, config) : 1;
    await this.#lanes.borrow(fn, Math.max(share, 1));
    try {
      const task = await take();
      if (!task) return false;
      const startedAt = Date.now();
      const outcome = await this.#execute(task, code, config, true);
      await record(
        code
          ? { id: task.id, outcome, startedAt, version: code.version }
          : { id: task.id, outcome, startedAt },
      );
      return true;
    } finally {
      this.#free(fn);
    }
  }

  /** Stop a run lent to this shard (its task was cancelled in its own shard). */
  async stopLent(id: string, why: string): Promise<void> {
    this.#costs.call('stopLent');
    this.#running.get(id)?.stop(why);
  }

  override async alarm(): Promise<void> {
    this.#costs.call('alarm');
    this.#alarmAt = null; // the alarm that fired is spent
    this.#inAlarm = true;
    try {
      await this.#table.expire(Date.now());
      this.#pumpAll();
      // The alarm stays open while runs are in flight, which keeps the object at work.
      await new Promise<void>((resolve) => {
        if (this.#running.size === 0) resolve();
        else this.#idle.push(resolve);
      });
      await this.#table.expire(Date.now());
    } finally {
      this.#inAlarm = false;
    }
    // Next: a retry's backoff ending, or the oldest record's time to live.
    const times = [this.#table.nextDue(), this.#table.nextExpiry()].filter((t) => t !== undefined);
    if (times.length > 0) await this.#arm(Math.max(Math.min(...times), Date.now()));
  }

  async #recover(): Promise<void> {
    for (const id of this.#table.running()) {
      await this.#table.finish(id, {
        status: 'failed',
        errorCode: 'server_lost',
        error: 'the server running it was lost (the Durable Object restarted while it ran)',
        endedAt: Date.now(),
      });
    }
    const next = this.#table.nextDue();
    if (next !== undefined) await this.#arm(next);
  }

  /**
   * Make sure an alarm will come while work is live: one storage write per few seconds at most,
   * none while the alarm handler runs (it re-arms when it ends).
   */
  async #armSafety(): Promise<void> {
    if (this.#inAlarm) return;
    await this.#arm(Date.now() + SAFETY_MS);
  }

  /** Make sure the alarm fires by `at`: one storage write only when it would fire later. */
  async #arm(at: number): Promise<void> {
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    this.#costs.call('setAlarm');
    await this.ctx.storage.setAlarm(at);
  }

  /** A timer for the next retry whose backoff ends soon (the alarm covers an evicted object). */
  #wakeAt(at: number): void {
    if (this.#wake && this.#wake.at <= at) return;
    if (this.#wake) clearTimeout(this.#wake.timer);
    const timer = setTimeout(
      () => {
        this.#wake = undefined;
        this.#pumpAll();
        const next = this.#table.nextDue();
        if (next !== undefined && next > Date.now()) this.#wakeAt(next);
      },
      Math.max(0, at - Date.now()),
    );
    this.#wake = { at, timer };
  }

  /** Start what is due, of every function. */
  #pumpAll(): void {
    for (const fn of this.#table.due(Date.now())) this.#pump(fn);
  }

  /** Start what is due of `fn`, up to this shard's share of its lanes. */
  #pump(fn: string): void {
    // A failed registry read leaves the tasks queued: the next pump (or alarm) tries again.
    this.#start(fn).catch((error: unknown) =>
      console.error(`ebbflow: starting ${fn}: ${messageOf(error)}`),
    );
  }

  async #start(fn: string): Promise<void> {
    const code = await this.#lookup(fn);
    const config = code && !code.error ? this.#config(code) : undefined;
    const share = config ? this.#share(fn, config) : 1;
    if (share === 0 && config) {
      this.#borrowLanes(fn, config);
      return;
    }
    // Other shards' runs waiting for these lanes hold theirs already (`Lanes.free`).
    const room = share - this.#lanes.busy(fn);
    if (room <= 0) return;
    const workerId = code ? this.#isolates.workerId(code) : 0;
    const claimed = await this.#table.claim(fn, room, workerId);
    for (const task of claimed) {
      this.#lanes.take(fn);
      this.#runHere(task, code, config).catch((error: unknown) =>
        console.error(`ebbflow: recording task ${task.id}: ${messageOf(error)}`),
      );
    }
  }

  /**
   * Write `task` claimed and start its run, when a lane of its function is free here and none of
   * its tasks wait (queued here, or other shards' runs for these lanes): its record as submitted
   * and, when `awaitEnd`, its end as it will be recorded. Undefined when it must queue; a refusal
   * (a full queue, a taken id) is thrown.
   */
  async #runNow(
    task: NewTask,
    awaitEnd: boolean,
  ): Promise<{ submitted: TaskRecord; ended?: Promise<TaskRecord> } | undefined> {
    const fn = task.function;
    if (task.idempotency) return undefined;
    const code = await this.#lookup(fn);
    const config = code && !code.error ? this.#config(code) : undefined;
    if (!code || !config) return undefined;
    // From here to the lane taken nothing awaits: the check and the lane hold together.
    const free = this.#share(fn, config) - this.#lanes.busy(fn) > 0;
    if (!free || this.#lanes.lending(fn) || this.#table.queued(fn) > 0) return undefined;
    const { claimed, submitted } = this.#table.submitRunning(task, this.#isolates.workerId(code));
    this.#lanes.take(fn);
    // Asked before the run starts: a run that ends before the caller looks is not missed.
    const ended = awaitEnd ? this.#table.ending(claimed.id) : undefined;
    this.#runHere(claimed, code, config).catch((error: unknown) =>
      console.error(`ebbflow: recording task ${claimed.id}: ${messageOf(error)}`),
    );
    return ended ? { submitted, ended } : { submitted };
  }

  /** This shard's share of a function's lanes (maxWorkers × concurrency over all shards). */
  #share(fn: string, config: ResolvedFunctionConfig): number {
    return laneShare(fn, config.maxWorkers * config.concurrency, this.#shards, this.#index);
  }

  /** Ask shards that hold lanes of `fn` to run its queued tasks here, one request per task. */
  #borrowLanes(fn: string, config: ResolvedFunctionConfig): void {
    const lanes = config.maxWorkers * config.concurrency;
    const queued = this.#table.queued(fn);
    const asked = this.#borrowing.get(fn) ?? 0;
    for (let n = asked; n < Math.min(queued, lanes); n++) {
      this.#borrowing.set(fn, (this.#borrowing.get(fn) ?? 0) + 1);
      const target = laneShard(fn, lanes, this.#shards, `${this.#index}:${n}:${Date.now()}`);
      this.#borrowOnce(fn, target)
        .catch((error: unknown) =>
          console.error(`ebbflow: running ${fn} in shard ${target}: ${messageOf(error)}`),
        )
        .finally(() => {
          this.#borrowing.set(fn, (this.#borrowing.get(fn) ?? 1) - 1);
          if (this.#table.queued(fn) > 0) this.#pump(fn);
        });
    }
  }

  async #borrowOnce(fn: string, target: number): Promise<void> {
    const shard = this.#shard(target);
    let claimed: ClaimedTask | undefined;
    let recorded = false;
    const take = async (): Promise<ClaimedTask | undefined> => {
      const [task] = await this.#table.claim(fn, 1, target * 1_000_000);
      claimed = task;
      if (task) {
        this.#running.set(task.id, {
          fn,
          stop: (why) => void shard.stopLent(task.id, why).catch(() => {}),
        });
      }
      return task;
    };
    const record = async (lent: LentRun): Promise<void> => {
      recorded = true;
      try {
        await this.#finish(lent.id, lent.outcome, lent.startedAt, lent.version);
      } finally {
        this.#ended(lent.id);
      }
    };
    try {
      await shard.lend(fn, take, record);
    } catch (error) {
      if (!claimed || recorded) throw error;
      try {
        await this.#finish(
          claimed.id,
          {
            ok: false,
            code: 'worker_exited',
            error: `the shard running it was lost: ${messageOf(error)}`,
            workerId: 0,
          },
          Date.now(),
          undefined,
        );
      } finally {
        this.#ended(claimed.id);
      }
    }
  }

  /** Run one of this shard's tasks in one of its lanes, and record how it ended. */
  async #runHere(
    task: ClaimedTask,
    code: FunctionRecord | undefined,
    config: ResolvedFunctionConfig | undefined,
  ): Promise<void> {
    const startedAt = Date.now();
    try {
      const outcome = await this.#execute(task, code, config);
      await this.#finish(task.id, outcome, startedAt, code?.version);
    } finally {
      // Only once its end is recorded: the next run never shows beside it as `running`.
      this.#free(task.function);
      this.#ended(task.id);
    }
  }

  /** Run a claimed task in the function's isolate, in a lane its caller took and frees. */
  async #execute(
    task: ClaimedTask,
    code: FunctionRecord | undefined,
    config: ResolvedFunctionConfig | undefined,
    lent = false,
  ): Promise<RunOutcome> {
    let stop: (why: string) => void = () => {};
    const stopped = new Promise<string>((resolve) => {
      stop = resolve;
    });
    this.#running.set(task.id, { fn: task.function, stop });
    try {
      if (!code) {
        return {
          ok: false,
          code: 'function_deleted',
          error: 'its function was deleted',
          workerId: 0,
        };
      }
      if (code.error) return { ok: false, code: 'load_failed', error: code.error, workerId: 0 };
      this.#costs.call('isolate');
      // Lines are streamed as printed only while someone follows this shard's events.
      const onLog = this.#feed.listening
        ? (line: TaskLog) =>
            this.#feed.tell({ type: 'log', taskId: task.id, function: task.function, ...line })
        : undefined;
      const outcome = await this.#isolates.run(
        code,
        config?.permissions,
        task.args,
        task.timeoutMs,
        {
          stop: stopped,
          maxResultBytes: this.#defaults.maxResultBytes,
          ...(onLog ? { onLog } : {}),
        },
      );
      if (!onLog && this.#feed.listening) {
        // Someone began to follow while it ran: its lines come now, with its end.
        for (const line of outcome.logs ?? []) {
          this.#feed.tell({ type: 'log', taskId: task.id, function: task.function, ...line });
        }
      }
      return outcome;
    } finally {
      if (lent) this.#running.delete(task.id);
    }
  }

  /** A lane of `fn` is free: another shard's waiting run or this shard's next task takes it. */
  #free(fn: string): void {
    const due = this.#table.queued(fn) > 0;
    if (!this.#lanes.free(fn, due) && due) this.#pump(fn);
  }

  /** A task of this shard is recorded: what waited for the shard to be idle may go on. */
  #ended(id: string): void {
    this.#running.delete(id);
    if (this.#running.size === 0 && this.#lanes.total === 0) {
      // The burst is over: apply the record cap now (a read when there is nothing to remove).
      void this.#table.expire(Date.now());
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #finish(
    id: string,
    outcome: RunOutcome,
    startedAt: number,
    version: number | undefined,
  ): Promise<void> {
    const common: {
      startedAt: number;
      endedAt: number;
      workerId: number;
      version?: number;
      logs?: TaskLog[];
    } = {
      startedAt,
      endedAt: Date.now(),
      workerId: outcome.workerId,
      ...(version === undefined ? {} : { version }),
      ...(outcome.logs ? { logs: outcome.logs } : {}),
    };
    const failure = (code: FailureCode, error: string, executionTime?: number) => ({
      status: 'failed' as const,
      error,
      errorCode: code,
      ...(executionTime === undefined ? {} : { executionTime }),
      ...common,
    });
    const ending = outcome.ok
      ? {
          status: 'completed' as const,
          result: outcome.result,
          executionTime: outcome.executionTime,
          ...common,
        }
      : failure(outcome.code, outcome.error, outcome.executionTime);
    try {
      await this.#table.finish(id, ending);
    } catch (error) {
      // A record larger than one SQLite value holds (about 2 MB: its result with its lines) is
      // refused by the store: the task fails saying so rather than staying `running` for good.
      if (!/TOOBIG|too big/i.test(messageOf(error))) throw error;
      const { logs: _, ...without } = failure(
        'result_too_large',
        `the task's record (its result and printed lines) is larger than a Durable Object's SQLite value holds: ${messageOf(error)}`,
        outcome.executionTime,
      );
      await this.#table.finish(id, without);
    }
  }

  /** A retry of this shard waits its backoff until `at`: wake then, the alarm as a safety net. */
  #deferUntil(at: number): void {
    this.#wakeAt(at);
    this.#armSafety().catch((error: unknown) =>
      console.error(`ebbflow: setting the alarm: ${messageOf(error)}`),
    );
  }

  #config(code: FunctionRecord): ResolvedFunctionConfig | undefined {
    try {
      return resolveFunctionConfig(code.config ?? undefined, this.#defaults);
    } catch {
      return undefined;
    }
  }

  #lookup(name: string): Promise<FunctionRecord | undefined> {
    let found = this.#code.get(name);
    if (!found) {
      const registry = this.env.FUNCTIONS.get(
        this.env.FUNCTIONS.idFromName('registry'),
      ) as unknown as FunctionRegistry;
      this.#costs.call('registry');
      found = registry.code(name);
      this.#code.set(name, found);
      // A failed lookup is not kept: the next run asks again.
      found.catch(() => this.#code.delete(name));
    }
    return found;
  }

  #shard(index: number): TaskShard {
    const ns = this.env.TASKS as DurableObjectNamespace;
    return ns.get(ns.idFromName(`shard-${index}`)) as unknown as TaskShard;
  }
}
