/**
 * The pool's record of one worker: its comlink remote, the tasks in flight on it by slot, the
 * shared timing table the worker writes, and the watchdog that enforces each task's timeout.
 * comlink never settles a call whose worker died, so this record is what fails or requeues them.
 *
 * The deadline is the server's word: the worker's start times only place a task's clock within
 * bounds this record sets from its own clock (see `#deadline`), and a task withdrawn on a cancel
 * lets its worker stay only once the worker confirms it never began (`withdraw`).
 * @module
 */
import { type Remote, transfer, wrap } from 'comlink';
import type { Clock, TimerId } from '../time/clock.ts';
import { unrefTimer } from '../time/timers.ts';
import type { FailureCode } from '../types.ts';
import {
  type InitReply,
  type MemoryReport,
  type Outcome,
  type OutcomeMessage,
  type PortMessage,
  type ResultsMessage,
  type TaskMessage,
  TIMING_CELLS,
  WITHDRAWN,
  type WorkerApi,
  type WorkerFailure,
  type WorkerLimits,
} from '../worker/protocol.ts';
import type { SpawnedWorker } from '../worker-host.ts';
import type { Lease } from './lease.ts';
import type { Task } from './task.ts';

export type WorkerState = 'starting' | 'ready' | 'stopping' | 'dead';

/** A task in flight when its worker died, and what became of it there. */
export interface Orphan {
  task: Task;
  /** `unstarted`: never began, safe to requeue; `running`: cut off; `finished`: result lost. */
  stage: 'unstarted' | 'running' | 'finished';
}

export interface HandleEvents {
  outcome(task: Task, outcome: Outcome, handle: WorkerHandle): void;
  /** Its arguments could not be posted to the worker (the worker stays). */
  unsendable(task: Task, message: string, handle: WorkerHandle): void;
  /** Runs after each outcome was delivered, so the pool can send more. */
  drained(handle: WorkerHandle): void;
  timedOut(task: Task, handle: WorkerHandle): void;
  dead(handle: WorkerHandle, death: Death, orphans: Orphan[]): void;
}

/** What a module exports: a default function (tasks), a `fetch` function (HTTP calls). */
export type ModuleExports = InitReply['exports'];

/** The worker that read a module's config (registry/loader.ts), started, waiting for a pool. */
export interface SpareWorker {
  /**
   * Hand it to a pool, whose `events` it reports to from now on (with its lease, given back
   * when the worker is gone). Undefined when it died while waiting: then `discard`.
   */
  adopt(events: HandleEvents): WorkerHandle | undefined;
  /** Stop it (no pool took it); its room goes back as it stops. */
  discard(): Promise<void>;
}

/** Why a worker is gone: for people, and for programs (the code its running tasks fail with). */
export interface Death {
  cause: string;
  code: Extract<FailureCode, 'worker_exited' | 'out_of_memory'>;
}

/** Slots in each worker's timing table: the most tasks that can be in flight on one worker. */
export const MAX_SLOTS = 128;

const sharedMemory = typeof SharedArrayBuffer === 'function';

/**
 * How long a worker may take to load its module. Apart from task timeouts on purpose: a burst
 * of restarts on a busy machine can make loading slow, and a short task timeout must not make a
 * healthy function look broken.
 */
export const LOAD_TIMEOUT_MS = 30_000;

/** How long a dead worker's posted outcomes may take to arrive before they count as lost. */
const LATE_OUTCOME_MS = 2_000;

/**
 * How long after a withdrawn task could have begun at the latest (`#bounds`) its worker may take
 * to confirm it never did, before the worker is stopped (a confirmation is one message away).
 */
export const WITHDRAW_CONFIRM_MS = 1_000;

/** Per slot in `#bounds`: when the task was sent, and the latest it can honestly have begun. */
const SENT = 0;
const LATEST_START = 1;

export class WorkerHandle {
  #state: WorkerState = 'starting';
  readonly spawnedAt: number;
  #readyAt?: number;
  #idleSince: number;
  #progressAt = 0;
  #inflight = new Map<number, Task>();
  /** Whether start times are known exactly (shared memory) rather than assumed at dispatch. */
  readonly exactTimings = sharedMemory;
  #remote: Remote<WorkerApi>;
  #timings: Float64Array<ArrayBufferLike>;
  #buffer: SharedArrayBuffer | null;
  #free: number[] = [];
  /**
   * Per slot, from this server's clock: `[sentAt, latestStart]`. A task begins no later than
   * every task ahead of it on this worker has ended or timed out, so `latestStart` is the latest
   * deadline ahead of it when it was sent (or its send time).
   */
  #bounds = new Float64Array(MAX_SLOTS * 2);
  /** Withdrawn tasks whose worker has not confirmed yet, by slot: when to stop waiting. */
  #withdrawing = new Map<number, number>();
  #timer: TimerId | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #stopCause: string | undefined;
  #stopCode: Death['code'] = 'worker_exited';
  #clock: Clock;
  /** Its room under the worker ceiling, given back the moment it is gone (`#died`). */
  #lease: Lease | undefined;
  /** Set up through comlink's `init`; then task batches go out and outcomes (one message per
   * task) come back on it, apart from comlink's calls. */
  #results = new MessageChannel();

  readonly id: number;
  readonly worker: SpawnedWorker;
  readonly events: HandleEvents;

  /** `lease` is the room it holds; none for a worker that only reads a config past the ceiling. */
  constructor(
    id: number,
    worker: SpawnedWorker,
    events: HandleEvents,
    clock: Clock,
    lease: Lease | undefined,
  ) {
    this.id = id;
    this.worker = worker;
    this.events = events;
    this.#clock = clock;
    this.#lease = lease;
    this.spawnedAt = this.#idleSince = clock.now();
    this.#buffer = sharedMemory ? new SharedArrayBuffer(MAX_SLOTS * TIMING_CELLS * 8) : null;
    this.#timings = this.#buffer
      ? new Float64Array(this.#buffer)
      : new Float64Array(MAX_SLOTS * TIMING_CELLS);
    for (let slot = MAX_SLOTS - 1; slot >= 0; slot--) this.#free.push(slot);
    this.#remote = wrap<WorkerApi>(worker.endpoint);
    worker.onExit((cause, kind) =>
      this.#died(
        this.#stopCause
          ? { cause: this.#stopCause, code: this.#stopCode }
          : { cause, code: kind ?? 'worker_exited' },
      ),
    );
  }

  get state(): WorkerState {
    return this.#state;
  }
  /** When it finished loading its module. */
  get readyAt(): number | undefined {
    return this.#readyAt;
  }
  /** When it last had nothing in flight (for idle-first retirement). */
  get idleSince(): number {
    return this.#idleSince;
  }
  /**
   * When it last showed it is working through what it holds: an outcome came back, or it was
   * sent work while it held none (dispatch prefers such a worker for short tasks).
   */
  get progressAt(): number {
    return this.#progressAt;
  }
  /** Tasks in flight on it. */
  get load(): number {
    return this.#inflight.size;
  }
  /** The tasks in flight on it. */
  tasks(): IterableIterator<Task> {
    return this.#inflight.values();
  }
  runs(task: Task): boolean {
    for (const running of this.#inflight.values()) if (running === task) return true;
    return false;
  }

  /** What the module exports, known once `start` resolved. */
  exports?: ModuleExports;

  /** Load the module in the worker; resolves with its `config` export. */
  async start(concurrency: number, deadlineMs: number, limits?: WorkerLimits): Promise<unknown> {
    let timer: TimerId | undefined;
    const exited = new Promise<never>((_, reject) => {
      this.#onEarlyDeath = (cause) => reject(new Error(`the module failed to load: ${cause}`));
      timer = this.#clock.setTimeout(
        () => reject(new Error(`the module did not finish loading within ${deadlineMs} ms`)),
        deadlineMs,
      );
    });
    try {
      this.#results.port1.onmessage = (event: MessageEvent<ResultsMessage>) =>
        this.#deliver(event.data);
      const port = this.#results.port2;
      const init = this.#remote.init(this.#buffer, concurrency, transfer(port, [port]), limits);
      const reply = await Promise.race([init, exited]);
      this.#state = 'ready';
      this.#readyAt = this.#clock.now();
      this.exports = reply.exports;
      this.worker.setIdle?.(true);
      return reply.config;
    } finally {
      this.#clock.clearTimeout(timer);
      this.#onEarlyDeath = undefined;
    }
  }

  #onEarlyDeath: ((cause: string) => void) | undefined;

  /** Free slots: how many more tasks this worker can take. */
  get free(): number {
    return this.#free.length;
  }

  send(tasks: Task[]): void {
    this.worker.setIdle?.(false);
    const batch: TaskMessage[] = new Array(tasks.length);
    const now = this.#clock.now();
    if (this.#inflight.size === 0) this.#progressAt = now;
    let ahead = this.#latestEnd();
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i] as Task;
      const slot = this.#free.pop() as number;
      const base = slot * TIMING_CELLS;
      this.#timings[base] = 0;
      this.#timings[base + 1] = 0;
      const latestStart = Math.max(ahead, now);
      this.#bounds[slot * 2 + SENT] = now;
      this.#bounds[slot * 2 + LATEST_START] = latestStart;
      ahead = latestStart + task.timeoutMs;
      this.#inflight.set(slot, task);
      task.markRunning(this.id, now);
      batch[i] = task.request
        ? { slot, args: task.args, request: task.request }
        : { slot, args: task.args };
    }
    this.#arm(now + minTimeout(tasks));
    // Straight on the channel, not through comlink's `run`: no call id, proxy or reply per batch
    // (sequential p50 31 -> 23 us, HTTP invoke +20 % on the bench machine, bench/NOTES.md).
    try {
      this.#results.port1.postMessage(batch);
    } catch (error) {
      // Only arguments that cannot be cloned get here (submit already checked they are JSON).
      const message = `the task could not be sent to the worker: ${(error as Error)?.message ?? error}`;
      for (const { slot } of batch) {
        const task = this.#inflight.get(slot);
        this.#inflight.delete(slot);
        this.#free.push(slot);
        if (task) this.events.unsendable(task, message, this);
      }
      this.#settled();
    }
  }

  /** The latest a task in flight here can end without being timed out, by this server's clock. */
  #latestEnd(): number {
    let latest = 0;
    for (const [slot, task] of this.#inflight) {
      const end = (this.#bounds[slot * 2 + LATEST_START] as number) + task.timeoutMs;
      if (end > latest) latest = end;
    }
    return latest;
  }

  #deliver(message: ResultsMessage): void {
    if (!Array.isArray(message)) {
      this.#overMemory(message as MemoryReport);
      return;
    }
    const [slot, ok, payload, start, time, code, logs] = message as OutcomeMessage;
    if (this.#withdrawing.size > 0 && this.#withdrawing.has(slot)) {
      this.#answered(slot, code === 'withdrawn');
      return;
    }
    const task = this.#inflight.get(slot);
    if (!task) return;
    this.#inflight.delete(slot);
    this.#free.push(slot);
    this.#progressAt = this.#clock.now();
    const outcome: Outcome = ok
      ? { ok, value: payload, start, time }
      : {
          ok,
          error: payload as string,
          code: (code as WorkerFailure | undefined) ?? 'function_threw',
          start,
          time,
        };
    if (logs) outcome.logs = logs;
    this.events.outcome(task, outcome, this);
    this.#settled();
  }

  /**
   * The worker's word on a withdrawn task: it never began (the slot is free again), or it did
   * (its outcome, or `began`): then whatever it started may still run, and the worker stops.
   */
  #answered(slot: number, skipped: boolean): void {
    this.#withdrawing.delete(slot);
    const task = this.#inflight.get(slot);
    if (skipped) {
      this.#inflight.delete(slot);
      this.#free.push(slot);
      this.#settled();
      return;
    }
    void this.stop(
      `the worker was stopped because task ${task?.id ?? `in slot ${slot}`} was cancelled after it began`,
    );
  }

  #overMemory({ memoryBytes, limitMb }: MemoryReport): void {
    const usedMb = Math.round(memoryBytes / (1024 * 1024));
    void this.stop(
      `the worker ran out of memory (limit ${limitMb} MiB): its JavaScript heap and buffers used ${usedMb} MiB`,
      'out_of_memory',
    );
  }

  // Slots came free (a result, or a batch that could not be sent): the one place `drained` is
  // told, once each time. The watchdog stays armed when the worker goes idle: it fires once,
  // finds nothing in flight and stops, instead of a timer cleared and set again on every call.
  #settled(): void {
    if (this.#inflight.size === 0) {
      this.#idleSince = this.#clock.now();
      this.worker.setIdle?.(true);
    }
    this.events.drained(this);
  }

  /**
   * Withdraw a task sent here that may not have begun (its worker has others to run first): it
   * is marked in its start cell (a worker about to begin it skips it instead) and the worker is
   * told on the batches' port. The worker stays only if it confirms the task never began, within
   * `WITHDRAW_CONFIRM_MS` of when it could have begun at the latest; otherwise it is stopped.
   * False (stop it now) when it has begun, or when start times are not known.
   */
  withdraw(task: Task): boolean {
    if (!this.exactTimings || this.#state !== 'ready') return false;
    for (const [slot, inflight] of this.#inflight) {
      if (inflight !== task) continue;
      const base = slot * TIMING_CELLS;
      if ((this.#timings[base] as number) > 0) return false;
      this.#timings[base] = WITHDRAWN;
      // On the port the batch went on, so the withdrawal cannot overtake it.
      const message: PortMessage = { skip: slot };
      this.#results.port1.postMessage(message);
      const now = this.#clock.now();
      const latestStart = this.#bounds[slot * 2 + LATEST_START] as number;
      const by = Math.max(latestStart, now) + WITHDRAW_CONFIRM_MS;
      this.#withdrawing.set(slot, by);
      this.#arm(by);
      return true;
    }
    return false;
  }

  /**
   * Stop the worker; its in-flight tasks are reported to `dead` with `cause` (and `code`, e.g.
   * `out_of_memory` when the worker reported its memory over the limit).
   */
  async stop(cause: string, code: Death['code'] = 'worker_exited'): Promise<void> {
    if (this.#state === 'dead') return;
    if (this.#stopCause === undefined) {
      this.#stopCause = cause;
      this.#stopCode = code;
    }
    this.#state = 'stopping';
    this.#disarm();
    await this.worker.terminate();
    // Hosts that report no exit (Deno's Web Workers) still end up here.
    this.#died({ cause: this.#stopCause, code: this.#stopCode });
  }

  #died(death: Death): void {
    if (this.#state === 'dead') return;
    this.#state = 'dead';
    this.#disarm();
    // It can run no more code: its room is free now, though its last outcomes may still come.
    this.#lease?.release();
    this.#onEarlyDeath?.(death.cause);
    // Outcomes the worker posted just before it ended may still be on their way: under load they
    // arrive several ms after the exit is seen. Wait for each task the timing table shows as
    // finished (bounded, in case one was never posted) before sorting out what is left.
    this.#awaitLateOutcomes(death, this.#clock.now() + LATE_OUTCOME_MS);
  }

  #awaitLateOutcomes(death: Death, deadline: number): void {
    this.#clock.setTimeout(() => {
      if (this.#finishedUndelivered() && this.#clock.now() < deadline) {
        this.#awaitLateOutcomes(death, deadline);
      } else {
        this.#bury(death);
      }
    }, 1);
  }

  #finishedUndelivered(): boolean {
    if (!this.exactTimings) return false;
    for (const slot of this.#inflight.keys()) {
      if ((this.#timings[slot * TIMING_CELLS + 1] as number) > 0) return true;
    }
    return false;
  }

  #bury(death: Death): void {
    this.#results.port1.close();
    const orphans: Orphan[] = [];
    for (const [slot, task] of this.#inflight) {
      const base = slot * TIMING_CELLS;
      const started = !this.exactTimings || (this.#timings[base] as number) > 0;
      const finished = this.exactTimings && (this.#timings[base + 1] as number) > 0;
      orphans.push({ task, stage: finished ? 'finished' : started ? 'running' : 'unstarted' });
    }
    this.#inflight.clear();
    this.events.dead(this, death, orphans);
  }

  // The watchdog: one timer per worker, set for the earliest deadline in flight. A task's clock
  // starts when the worker begins it (read from the shared table), not when it was sent.
  #arm(at: number): void {
    if (at >= this.#timerAt) return;
    this.#disarm();
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#check(), Math.max(0, at - this.#clock.now()));
    unrefTimer(this.#timer);
  }

  #disarm(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #check(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    if (this.#state !== 'ready') return;
    const now = this.#clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [slot, task] of this.#inflight) {
      const confirmBy = this.#withdrawing.size > 0 ? this.#withdrawing.get(slot) : undefined;
      if (confirmBy !== undefined) {
        if (confirmBy <= now) {
          void this.stop(
            `the worker was stopped because task ${task.id} was cancelled and the worker did not confirm it had not begun`,
          );
          return;
        }
        next = Math.min(next, confirmBy);
        continue;
      }
      const deadline = this.#deadline(slot, task);
      if (deadline <= now) {
        this.events.timedOut(task, this);
        return;
      }
      next = Math.min(next, deadline);
    }
    if (next < Number.POSITIVE_INFINITY) this.#arm(next);
  }

  /**
   * When `task` times out. Its clock starts when the worker began it, read from the shared table
   * (a task waiting behind batch-mates has no clock running), but only within what this server
   * knows: never before it was sent, never after it could have begun at the latest. A start the
   * worker never wrote (or wrote as anything else) counts as that latest start, so whatever a
   * function does to the table, it cannot run past `latestStart + timeoutMs`.
   */
  #deadline(slot: number, task: Task): number {
    if (!this.exactTimings) return (task.startedAt as number) + task.timeoutMs;
    const started = this.#timings[slot * TIMING_CELLS] as number;
    const sent = this.#bounds[slot * 2 + SENT] as number;
    const latest = this.#bounds[slot * 2 + LATEST_START] as number;
    // Written as NaN, below zero or past the bound, it falls to the bound (comparisons with NaN fail).
    const begun =
      started >= sent && started <= latest
        ? started
        : started > 0 && started < sent
          ? sent
          : latest;
    return begun + task.timeoutMs;
  }
}

const minTimeout = (tasks: Task[]): number => {
  let min = Number.POSITIVE_INFINITY;
  for (const task of tasks) if (task.timeoutMs < min) min = task.timeoutMs;
  return min;
};
