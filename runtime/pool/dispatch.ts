/**
 * Keeping one function's workers fed: what waits (ephemeral runs in the pool's own queue first,
 * then tasks claimed from the backend) goes to ready workers in batches sized by how long runs
 * take, spread over the workers, never past a worker's in-flight window. When nothing can take
 * work, the pool is asked for a worker; while work still waits, the scaler is told.
 * @module
 */

import { Deque } from '../deque.ts';
import type { Clock } from '../time/clock.ts';
import { afterIo } from '../time/timers.ts';
import type { WireRequest } from '../worker/protocol.ts';
import { batchLimit, inflightWindow } from './batching.ts';
import type { PoolCounters } from './counters.ts';
import { type RunEnding, Task } from './task.ts';
import type { TaskSource } from './task-source.ts';
import { MAX_SLOTS, type WorkerHandle } from './worker-handle.ts';

export interface DispatchDeps {
  fn: string;
  source: TaskSource;
  counters: PoolCounters;
  clock: Clock;
  concurrency(): number;
  workers(): Iterable<WorkerHandle>;
  /** Ready, and not retiring. */
  feedable(worker: WorkerHandle): boolean;
  /** Nothing can take work now: start a worker (or find room for one). */
  needWorker(): void;
  /** Work still waits after a pass: the scaler may react before its tick. */
  backlog(): void;
  /** A claim promised to `worker` came back (its tasks sent, or none): it may retire now. */
  claimSettled(worker: WorkerHandle): void;
}

/**
 * How recently a worker must have shown progress (an outcome back, or work taken while idle) to
 * be given short tasks rather than another worker being woken for them.
 */
export const AWAKE_MS = 2;

export class Dispatcher {
  #d: DispatchDeps;
  /** Ephemeral runs waiting (no backend record), served before claimed tasks. */
  #local = new Deque<Task>();
  #scheduled = false;
  #ephemeralIds = 0;
  /** Slots promised to a worker by a claim still on its way (async backends). */
  #claiming = new Map<WorkerHandle, number>();

  constructor(deps: DispatchDeps) {
    this.#d = deps;
  }

  /** Runs waiting for a worker: ephemeral ones and claimable tasks. */
  get waiting(): number {
    return this.#local.length + this.#d.source.claimable(this.#d.fn);
  }

  /** Whether a claim for `worker` is still on its way (async backends): it is not idle yet. */
  claimingFor(worker: WorkerHandle): boolean {
    return this.#claiming.has(worker);
  }

  /** Ephemeral runs waiting. */
  get localWaiting(): number {
    return this.#local.length;
  }

  /** Queue an ephemeral run (no backend record); resolves with how it ended. */
  runEphemeral(args: unknown[], timeoutMs: number, request?: WireRequest): Promise<RunEnding> {
    return new Promise((resolve) => {
      const id = `ephemeral:${this.#d.fn}:${++this.#ephemeralIds}`;
      const submittedAt = this.#d.clock.now();
      const run = { id, function: this.#d.fn, args, timeoutMs, attempt: 1, submittedAt };
      this.#local.push(new Task(run, resolve, request));
      this.schedule();
    });
  }

  /** Put ephemeral runs that never began back at the front, in order. */
  unshift(tasks: Task[]): void {
    for (const task of tasks) this.#local.unshift(task);
  }

  /** Take every waiting ephemeral run out (a shutdown fails them). */
  drainLocal(): Task[] {
    const tasks: Task[] = [];
    for (let task = this.#local.shift(); task; task = this.#local.shift()) tasks.push(task);
    return tasks;
  }

  /** Work became available: dispatch soon, once per turn however many tasks arrived. */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // With a worker free and nothing in flight, at once (latency); while work is in flight,
    // after this turn's I/O, so the tasks of requests that arrived together travel in one
    // message (one wake-up of a worker, not one each).
    if (this.#idleWithFreeWorker()) queueMicrotask(this.#run);
    else afterIo(this.#run);
  }

  #run = (): void => {
    this.#scheduled = false;
    this.dispatch();
  };

  dispatch(): void {
    let left = this.waiting;
    if (left === 0) return;
    const concurrency = this.#d.concurrency();
    const limit = this.#limit();
    const window = inflightWindow(limit, concurrency, MAX_SLOTS);
    let ready = 0;
    for (const worker of this.#d.workers()) if (this.#d.feedable(worker)) ready++;
    if (ready === 0) {
      this.#d.needWorker();
      return;
    }
    // Short tasks, less than a batch of them: a worker already at work takes them (within its
    // window) rather than one that sleeps being woken for them, while it shows progress (a
    // task that turns out long holds nothing more behind it once `AWAKE_MS` passed).
    const awake = limit > concurrency && left < limit && this.#awakeWithRoom(window);
    for (const worker of this.#d.workers()) {
      if (left <= 0) break;
      if (!this.#d.feedable(worker)) continue;
      const load = worker.load + (this.#claiming.get(worker) ?? 0);
      const room = window - load;
      if (room <= 0) continue;
      if (awake) {
        if (load === 0 || worker.progressAt < this.#d.clock.now() - AWAKE_MS) continue;
      } else if (load >= concurrency && left < limit) {
        // A worker with all its slots taken gets less than a full batch only when one comes
        // back: tasks arriving one by one (HTTP) then travel together, not one message each.
        continue;
      }
      // Spread over the workers, but never split what is less than one batch of work.
      const share = Math.max(Math.ceil(left / ready), Math.min(limit, left));
      left -= this.#feed(worker, Math.min(room, limit, share));
    }
    if (this.waiting > 0) this.#d.backlog();
  }

  /** After each outcome on `handle`: send more once a whole batch fits, not a task at a time. */
  refill(handle: WorkerHandle): void {
    const waiting = this.waiting;
    if (waiting === 0) return;
    const limit = this.#limit();
    const window = inflightWindow(limit, this.#d.concurrency(), MAX_SLOTS);
    if (window - handle.load >= Math.min(limit, waiting)) this.dispatch();
  }

  /** Send up to `count` runs to `worker`; how many went (or were promised) to it. */
  #feed(worker: WorkerHandle, count: number): number {
    const batch: Task[] = [];
    while (batch.length < count) {
      const task = this.#local.shift();
      if (!task) break;
      batch.push(task);
    }
    const rest = count - batch.length;
    if (rest > 0) {
      const claimed = this.#d.source.claim(this.#d.fn, rest, worker.id);
      if (Array.isArray(claimed)) {
        for (const c of claimed) batch.push(new Task(c));
      } else {
        this.#claiming.set(worker, (this.#claiming.get(worker) ?? 0) + rest);
        void claimed.then((tasks) =>
          this.#claimed(
            worker,
            rest,
            tasks.map((c) => new Task(c)),
          ),
        );
      }
    }
    if (batch.length > 0) worker.send(batch);
    return batch.length + (this.#claiming.get(worker) ?? 0);
  }

  #claimed(worker: WorkerHandle, promised: number, tasks: Task[]): void {
    const left = (this.#claiming.get(worker) ?? promised) - promised;
    if (left > 0) this.#claiming.set(worker, left);
    else this.#claiming.delete(worker);
    if (tasks.length > 0) {
      if (this.#d.feedable(worker)) worker.send(tasks);
      else for (const task of tasks) this.#d.source.finish(task.id, { status: 'unstarted' });
      this.schedule();
    }
    this.#d.claimSettled(worker);
  }

  /** A worker with runs in flight that has room for more. */
  #awakeWithRoom(window: number): boolean {
    const since = this.#d.clock.now() - AWAKE_MS;
    for (const worker of this.#d.workers()) {
      const load = worker.load + (this.#claiming.get(worker) ?? 0);
      if (load > 0 && load < window && worker.progressAt >= since && this.#d.feedable(worker)) {
        return true;
      }
    }
    return false;
  }

  /** No run in flight on any worker, and one that can take work. */
  #idleWithFreeWorker(): boolean {
    let free = false;
    for (const worker of this.#d.workers()) {
      if (worker.load > 0) return false;
      if (!free && this.#d.feedable(worker)) free = true;
    }
    return free;
  }

  #limit(): number {
    return batchLimit(this.#d.counters.recentTaskMs, this.#d.concurrency(), MAX_SLOTS);
  }
}
