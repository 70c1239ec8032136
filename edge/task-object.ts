/**
 * One task shard: a SQLite-backed Durable Object that keeps its tasks (`SqlTaskTable`) and runs
 * them in the functions' isolates. A submit answers as soon as the row is written; the run
 * starts right after, and an alarm keeps the object at work until nothing is due, so work
 * outlives the request that brought it. Alarms also wake the object for retries after their
 * backoff and after a restart (the Worker re-arms every shard on its first request, because a
 * local restart loses alarms, workers-sdk#4372). Runs left `running` by an earlier life of the
 * object were lost with it: they fail as `server_lost`, so they are retried while attempts last.
 * @module
 */
import { DurableObject } from 'cloudflare:workers';
import type { DurableObjectState } from '@cloudflare/workers-types/latest/index.ts';
import { type Idempotency, isReplay } from '../runtime/backend/idempotency.ts';
import { messageOf } from '../runtime/errors.ts';
import { resolveFunctionConfig } from '../runtime/options.ts';
import type { NewTask, TaskLog, TaskQuery, TaskRecord } from '../runtime/types.ts';
import { type Answer, answer, failed, ok } from './answer.ts';
import { type EdgeDefaults, type EdgeEnv, edgeDefaults, shardCount } from './env.ts';
import { gateOf } from './gate.ts';
import { Isolates, type RunOutcome } from './isolates.ts';
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

export class TaskShard extends DurableObject<EdgeEnv> {
  #table: SqlTaskTable;
  #isolates: Isolates;
  #defaults: EdgeDefaults;
  /** Runs in flight in this life of the object, each with the way to stop it. */
  #running = new Map<string, { fn: string; stop: (why: string) => void }>();
  #code = new Map<string, Promise<FunctionRecord | undefined>>();
  #idle: Array<() => void> = [];
  /** When the alarm is set for (null: none), as this life of the object last set or read it. */
  #alarmAt: number | null | undefined;
  #feed = new TaskFeed();

  constructor(ctx: DurableObjectState, env: EdgeEnv) {
    super(ctx, env);
    this.#defaults = edgeDefaults(env);
    const shards = shardCount(env);
    this.#table = new SqlTaskTable(ctx.storage.sql, {
      ttlMs: this.#defaults.resultTtlMs,
      maxResults: Math.ceil(this.#defaults.maxResults / shards),
    });
    const index = Number(/^shard-(\d+)$/.exec(ctx.id.name ?? '')?.[1] ?? 0);
    // Worker ids of different shards never collide: shard n numbers its isolates from n × 10^6.
    this.#isolates = new Isolates(env.LOADER, gateOf(ctx), `shard-${index}`, index * 1_000_000 + 1);
    this.#table.onCancel((id) => this.#running.get(id)?.stop('cancelled by request'));
    this.#table.onAvailable(() => this.#pump());
    this.#table.subscribe((record) => this.#feed.tell(record));
    void ctx.blockConcurrencyWhile(() => this.#recover());
  }

  async submit(task: NewTask): Promise<Answer<TaskRecord>> {
    const result = await answer(() => this.#table.submit(task));
    if (result.ok) await this.#arm(Date.now());
    return result;
  }

  /**
   * Submit with an idempotency key held in this shard: the record, and whether it is the task an
   * earlier request with the key created (a mark that does not cross RPC).
   */
  async submitKeyed(task: NewTask): Promise<Answer<{ record: TaskRecord; replayed: boolean }>> {
    const result = await answer(() => this.#table.submit(task));
    if (!result.ok) return result;
    const replayed = isReplay(result.value);
    if (!replayed) await this.#arm(Date.now());
    return ok({ record: result.value, replayed });
  }

  /**
   * Hold `key` for task `id` of `fn` (which lives in another shard): the id of the task it
   * already names, or null when it was free and is now taken. Refuses another fingerprint.
   */
  async reserveKey(key: Idempotency, fn: string, id: string): Promise<Answer<string | null>> {
    return answer(async () => {
      const earlier = this.#table.reservedKey(key);
      if (earlier !== undefined) return earlier;
      this.#table.reserveKey(key, fn, id);
      return null;
    });
  }

  /** Give `key` back (its task was refused in its own shard). */
  async releaseKey(key: Idempotency, id: string): Promise<void> {
    this.#table.releaseKey(key, id);
  }

  /** Submit and hold the call until the task ends: an invoke in one hop. */
  async invoke(task: NewTask): Promise<Answer<TaskRecord>> {
    const accepted = await this.submit(task);
    if (!accepted.ok) return accepted;
    const ended = await this.#table.wait(accepted.value.id, Number.POSITIVE_INFINITY);
    return ok(ended ?? accepted.value);
  }

  /** Every state change of this shard's tasks from now on, as NDJSON (live events). */
  async events(): Promise<ReadableStream<Uint8Array>> {
    return this.#feed.open();
  }

  async read(id: string): Promise<TaskRecord | undefined> {
    return this.#table.read(id);
  }

  /** The long-poll, held here until the task ends or `ms` passes. */
  async wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    return this.#table.wait(id, ms);
  }

  async cancel(id: string): Promise<Answer<TaskRecord>> {
    return answer(() => this.#table.cancel(id));
  }

  async list(query: Omit<TaskQuery, 'before'>, cursor?: ListCursor): Promise<TaskRecord[]> {
    return this.#table.listAfter(query, cursor);
  }

  /** The function and args of a failed or cancelled task, for a replay under a new id. */
  async replaySource(id: string): Promise<Answer<ReplaySource>> {
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

  async counts(): Promise<ShardCounts> {
    return this.#table.counts();
  }

  /** A function was deployed or deleted: read its code again before the next run. */
  async forget(name: string): Promise<void> {
    this.#code.delete(name);
  }

  /** Called by the Worker on its first request: constructing the object re-arms its work. */
  async wake(): Promise<void> {
    this.#pump();
  }

  override async alarm(): Promise<void> {
    this.#alarmAt = null; // the alarm that fired is spent
    await this.#table.expire(Date.now());
    this.#pump();
    // The alarm stays open while runs are in flight, which keeps the object at work.
    await new Promise<void>((resolve) => {
      if (this.#running.size === 0) resolve();
      else this.#idle.push(resolve);
    });
    // The record cap is applied once the burst is over, not at every task's end.
    await this.#table.expire(Date.now());
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

  /** Make sure the alarm fires by `at`: one storage write only when it would fire later. */
  async #arm(at: number): Promise<void> {
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  /** Start what is due, up to each function's lanes (`concurrency × maxWorkers`) in this shard. */
  #pump(): void {
    for (const fn of this.#table.due(Date.now())) {
      // A failed registry read leaves the tasks queued: the next pump (or alarm) tries again.
      this.#start(fn).catch((error: unknown) =>
        console.error(`ebbflow: starting ${fn}: ${messageOf(error)}`),
      );
    }
  }

  async #start(fn: string): Promise<void> {
    const code = await this.#lookup(fn);
    const config = code && !code.error ? this.#config(code) : undefined;
    const lanes = config ? config.concurrency * config.maxWorkers : 1;
    // Counted in the table, which a claim updates before any other start can interleave.
    const busy = this.#table.runningCount(fn);
    if (busy >= lanes) return;
    const workerId = code ? this.#isolates.workerId(code) : 0;
    const claimed = await this.#table.claim(fn, lanes - busy, workerId);
    for (const task of claimed) {
      let stop: (why: string) => void = () => {};
      const stopped = new Promise<string>((resolve) => {
        stop = resolve;
      });
      this.#running.set(task.id, { fn, stop });
      this.#run(task.id, code, config?.permissions, task.args, task.timeoutMs, stopped).catch(
        (error: unknown) =>
          console.error(`ebbflow: recording task ${task.id}: ${messageOf(error)}`),
      );
    }
  }

  async #run(
    id: string,
    code: FunctionRecord | undefined,
    permissions: Parameters<Isolates['run']>[1],
    args: unknown[],
    timeoutMs: number,
    stopped: Promise<string>,
  ): Promise<void> {
    const startedAt = Date.now();
    let outcome: RunOutcome;
    if (!code) {
      outcome = {
        ok: false,
        code: 'function_deleted',
        error: 'its function was deleted',
        workerId: 0,
      };
    } else if (code.error) {
      outcome = { ok: false, code: 'load_failed', error: code.error, workerId: 0 };
    } else {
      outcome = await this.#isolates.run(code, permissions, args, timeoutMs, stopped);
    }
    const endedAt = Date.now();
    const common = {
      startedAt,
      endedAt,
      workerId: outcome.workerId,
      ...(code ? { version: code.version } : {}),
      ...(outcome.logs ? { logs: outcome.logs } : {}),
    };
    try {
      await this.#finish(id, outcome, common);
    } finally {
      // Whatever happened to the write, the lane is free again and waiting work may start.
      this.#running.delete(id);
      const next = this.#table.nextDue();
      if (next !== undefined && next > Date.now()) await this.#arm(next);
      this.#pump();
      if (this.#running.size === 0) {
        // The burst is over: apply the record cap now, not only when an alarm next fires
        // (tasks run from a request, such as invokes, arm no alarm of their own).
        await this.#table.expire(Date.now());
        for (const resolve of this.#idle.splice(0)) resolve();
      }
    }
  }

  #finish(
    id: string,
    outcome: RunOutcome,
    common: {
      startedAt: number;
      endedAt: number;
      workerId: number;
      version?: number;
      logs?: TaskLog[];
    },
  ): Promise<void> {
    return this.#table.finish(
      id,
      outcome.ok
        ? {
            status: 'completed',
            result: outcome.result,
            executionTime: outcome.executionTime,
            ...common,
          }
        : {
            status: 'failed',
            error: outcome.error,
            errorCode: outcome.code,
            ...(outcome.executionTime === undefined
              ? {}
              : { executionTime: outcome.executionTime }),
            ...common,
          },
    );
  }

  #config(code: FunctionRecord) {
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
      found = registry.code(name);
      this.#code.set(name, found);
      // A failed lookup is not kept: the next run asks again.
      found.catch(() => this.#code.delete(name));
    }
    return found;
  }
}
