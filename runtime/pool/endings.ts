/**
 * Every way a run on this server ends, turned into exactly one ending: a result or a throw, a
 * timeout, a worker that died (its runs cut off, finished with the result lost, or never begun
 * and so requeued), arguments that could not be sent, a cancel, a shutdown. Endings of claimed
 * tasks go to the backend's `finish`; an ephemeral run's to its caller.
 * @module
 */

import type { Clock } from '../time/clock.ts';
import type { FailureCode } from '../types.ts';
import { boundLogs, cutMessage, resultTooLarge, tooLarge } from '../worker/bounds.ts';
import type { Outcome } from '../worker/protocol.ts';
import type { PoolCounters } from './counters.ts';
import type { RunTimes, Task } from './task.ts';
import type { TaskSource } from './task-source.ts';
import type { Death, Orphan, WorkerHandle } from './worker-handle.ts';

export interface EndingDeps {
  source: TaskSource;
  counters: PoolCounters;
  clock: Clock;
  /** Put ephemeral runs that never began back at the front of the pool's own queue. */
  requeueLocal(tasks: Task[]): void;
  /** The function's version the pool runs, told to the backend with each ending. */
  version(): number | undefined;
  /** Told after each ending (the runtime's drain watches for idle pools). */
  ended(): void;
  /** A task's result larger than this as JSON fails it (`result_too_large`). @default none */
  maxResultBytes?: number;
}

export class TaskEndings {
  #d: EndingDeps;

  constructor(deps: EndingDeps) {
    this.#d = deps;
  }

  outcome(task: Task, outcome: Outcome): void {
    if (task.terminal) return;
    this.#d.counters.ran(outcome.time);
    const at = Math.round(outcome.start + outcome.time);
    const times = {
      startedAt: Math.round(outcome.start),
      executionTime: outcome.time,
      // The worker bounds these; the server does again, as it does results and errors below.
      logs: outcome.logs && boundLogs(outcome.logs),
    };
    const max = this.#d.maxResultBytes;
    if (!outcome.ok) {
      this.fail(task, outcome.code, String(outcome.error), at, times);
    } else if (!task.ephemeral && tooLarge(outcome.value, max)) {
      this.fail(task, 'result_too_large', resultTooLarge(max as number), at, times);
    } else if (task.complete(outcome.value, at, times)) {
      this.#report(task);
    }
  }

  timedOut(task: Task, handle: WorkerHandle): void {
    const now = this.#d.clock.now();
    this.#d.counters.timedOut();
    this.fail(task, 'timed_out', `timed out after ${task.timeoutMs} ms`, now, {
      executionTime: now - (task.startedAt ?? now),
    });
    void handle.stop(`the worker was stopped because task ${task.id} timed out`);
  }

  /** A worker is gone: its runs end by how far they got there. */
  orphaned({ cause, code }: Death, orphans: Orphan[]): void {
    const now = this.#d.clock.now();
    const unstarted: Task[] = [];
    for (const { task, stage } of orphans) {
      if (task.terminal) continue;
      if (stage === 'unstarted') unstarted.push(task);
      else if (stage === 'finished') {
        this.fail(task, code, `the task finished but its result was lost: ${cause}`, now);
      } else {
        this.fail(task, code, cause, now, { executionTime: now - (task.startedAt ?? now) });
      }
    }
    // Back to the front in their original order, so the newest goes back first.
    unstarted.sort((a, b) => b.submittedAt - a.submittedAt);
    const local: Task[] = [];
    for (const task of unstarted) {
      task.requeue();
      if (task.ephemeral) local.push(task);
      else this.#d.source.finish(task.id, { status: 'unstarted' });
    }
    if (local.length > 0) this.#d.requeueLocal(local);
  }

  /** Stop `task` where it runs: withdrawn if it has not begun, else its worker is stopped. */
  cancelRunning(task: Task, handle: WorkerHandle): void {
    if (!task.cancel()) return;
    this.#d.ended();
    // Waiting behind other tasks in its batch: the worker and the run there can stay.
    if (handle.withdraw(task)) return;
    void handle.stop(`the worker was stopped because task ${task.id} was cancelled`);
  }

  fail(task: Task, code: FailureCode, message: string, at: number, times?: RunTimes): void {
    if (task.fail(code, cutMessage(message), at, times)) this.#report(task);
  }

  #report(task: Task): void {
    const ending = task.ending;
    if (!ending) return;
    const { counters } = this.#d;
    counters.ended(ending.status);
    if (!task.ephemeral) {
      const version = this.#d.version();
      this.#d.source.finish(task.id, version === undefined ? ending : { ...ending, version }, () =>
        counters.dropped(ending.status),
      );
    }
    this.#d.ended();
  }
}
