/**
 * Who the in-memory backend tells of what: pools of claimable work and of cancelled runs,
 * subscribers of every change, listeners of endings. A record snapshot is built only when
 * someone is there to read it, and one snapshot serves them all. A listener that throws is
 * logged; it never breaks the backend's own bookkeeping.
 * @module
 */
import { messageOf } from '../../errors.ts';
import type { TaskRecord } from '../../types.ts';
import type { TaskListener } from '../contract.ts';
import type { TaskEntry, Waiter } from './entry.ts';

export class MemoryListeners {
  #available: Array<(fn: string) => void> = [];
  #cancelled: Array<(id: string) => void> = [];
  #changes = new Set<TaskListener>();
  #endings = new Set<TaskListener>();
  #log: (message: string) => void;

  constructor(log: (message: string) => void) {
    this.#log = log;
  }

  onAvailable(listener: (fn: string) => void): void {
    this.#available.push(listener);
  }

  onCancel(listener: (id: string) => void): void {
    this.#cancelled.push(listener);
  }

  subscribe(listener: TaskListener): () => void {
    this.#changes.add(listener);
    return () => this.#changes.delete(listener);
  }

  onEnded(listener: TaskListener): () => void {
    this.#endings.add(listener);
    return () => this.#endings.delete(listener);
  }

  available(fn: string): void {
    for (const listener of this.#available) this.#tell(listener, fn);
  }

  cancelled(id: string): void {
    for (const listener of this.#cancelled) this.#tell(listener, id);
  }

  /** A state change short of the end; `built` is a snapshot already made, if any. */
  changed(entry: TaskEntry, built?: TaskRecord): void {
    if (this.#changes.size === 0) return;
    const record = built ?? entry.toRecord();
    for (const listener of this.#changes) this.#tell(listener, record);
  }

  /** The end: the entry's waiters, subscribers and ending listeners share one snapshot. */
  ended(entry: TaskEntry, waiters: Waiter[] | undefined, built?: TaskRecord): void {
    if (!waiters && this.#changes.size === 0 && this.#endings.size === 0) return;
    const record = built ?? entry.toRecord();
    if (waiters) for (const waiter of waiters) waiter(record);
    for (const listener of this.#changes) this.#tell(listener, record);
    for (const listener of this.#endings) this.#tell(listener, record);
  }

  #tell<T>(listener: (value: T) => void, value: T): void {
    try {
      listener(value);
    } catch (error) {
      this.#log(`a task backend listener threw: ${messageOf(error)}`);
    }
  }
}
