/**
 * Who on this server waits for which task's next change, woken by the events channel. It also
 * remembers what it heard of the tasks submitted here in the last seconds: the events channel
 * delivers every change of a task from its submit on while the subscription holds, so an invoke
 * waiting right after its submit needs no read of its own (one round trip less per task).
 * When the subscription breaks, anything may have been missed: every waiter reads again.
 * @module
 */
import type { TaskRecord } from '../../types.ts';

/** What a waiter is told: the task's new record, or undefined to read it again. */
type Wake = (record?: TaskRecord) => void;

interface Fresh {
  at: number;
  record?: TaskRecord;
}

/** Submits remembered at most (the oldest forgotten first), and for at most this long. */
const FRESH_MAX = 1_000;
const FRESH_MS = 10_000;

export class TaskWatch {
  #waiters = new Map<string, Set<Wake>>();
  #failers = new Set<(error: Error) => void>();
  /** Tasks submitted here lately, with their latest record heard (insertion order = age). */
  #fresh = new Map<string, Fresh>();

  /** Before a submit of `id` is sent: from now on its changes are kept. */
  expect(id: string, now: number): void {
    for (const [old, entry] of this.#fresh) {
      if (this.#fresh.size < FRESH_MAX && now - entry.at < FRESH_MS) break;
      this.#fresh.delete(old);
    }
    this.#fresh.set(id, { at: now });
  }

  /** The submit was answered with `record` (a change heard meanwhile is newer: kept). */
  submitted(record: TaskRecord): void {
    const entry = this.#fresh.get(record.id);
    if (entry && !entry.record) entry.record = record;
  }

  /** The submit failed: nothing to remember. */
  forget(id: string): void {
    this.#fresh.delete(id);
  }

  /** The latest record of a task submitted here, known without a read; else undefined. */
  known(id: string): TaskRecord | undefined {
    return this.#fresh.get(id)?.record;
  }

  /** A change heard on the events channel. */
  changed(record: TaskRecord): void {
    const entry = this.#fresh.get(record.id);
    if (entry) entry.record = record;
    const waiters = this.#waiters.get(record.id);
    if (waiters) for (const wake of [...waiters]) wake(record);
  }

  /** The subscription broke: what was heard may be incomplete; every waiter reads again. */
  broken(): void {
    this.#fresh.clear();
    for (const waiters of [...this.#waiters.values()]) for (const wake of [...waiters]) wake();
  }

  /** Redis stopped answering: every waiter fails with `error`. */
  fail(error: Error): void {
    for (const fail of [...this.#failers]) fail(error);
  }

  /**
   * The task's next change, or undefined after `ms` (read then); rejects when `fail` is called.
   * `cancel` stops waiting.
   */
  next(id: string, ms: number) {
    let wake: Wake = () => {};
    let failed: (error: Error) => void = () => {};
    const promise = new Promise<TaskRecord | undefined>((resolve, reject) => {
      wake = resolve;
      failed = reject;
    });
    const waiters = this.#waiters.get(id) ?? new Set<Wake>();
    this.#waiters.set(id, waiters);
    const stop = () => {
      clearTimeout(timer);
      waiters.delete(done);
      this.#failers.delete(fail);
      if (waiters.size === 0 && this.#waiters.get(id) === waiters) this.#waiters.delete(id);
    };
    const done: Wake = (record) => {
      stop();
      wake(record);
    };
    const fail = (error: Error) => {
      stop();
      failed(error);
    };
    // A failure while the waiter is still reading must not count as unhandled.
    promise.catch(() => {});
    const timer = setTimeout(done, ms);
    waiters.add(done);
    this.#failers.add(fail);
    return { promise, cancel: () => done() };
  }

  /** A task waited for has ended: forget what was kept of it. */
  settled(id: string): void {
    this.#fresh.delete(id);
  }
}
