/**
 * The listeners every `TaskBackend` keeps: pools told of claimable work (`onAvailable`) and of
 * cancelled runs (`onCancel`), subscribers told of every state change (`subscribe`). A listener
 * that throws is logged and the others are still told: a bug in one never breaks the backend's
 * own bookkeeping, which is in the middle of a change when it tells.
 * @module
 */
import { messageOf } from '../errors.ts';
import type { TaskRecord } from '../types.ts';
import type { TaskListener } from './contract.ts';

export class BackendListeners {
  #available = new Set<(fn: string) => void>();
  #cancelled = new Set<(id: string) => void>();
  #changes = new Set<TaskListener>();
  #log: (message: string) => void;

  /** `log` is where a throwing listener is reported. */
  constructor(log: (message: string) => void) {
    this.#log = log;
  }

  onAvailable(listener: (fn: string) => void): void {
    this.#available.add(listener);
  }

  onCancel(listener: (id: string) => void): void {
    this.#cancelled.add(listener);
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: TaskListener): () => void {
    this.#changes.add(listener);
    return () => this.#changes.delete(listener);
  }

  /** Whether anyone listens to changes: a backend builds a record to tell only then. */
  get subscribed(): boolean {
    return this.#changes.size > 0;
  }

  /** Tasks of `fn` became claimable. */
  available(fn: string): void {
    this.tell(this.#available, fn);
  }

  /** A task claimed here was cancelled: stop its run. */
  cancelled(id: string): void {
    this.tell(this.#cancelled, id);
  }

  /** A task's state changed; every subscriber gets the same record (to read only). */
  changed(record: TaskRecord): void {
    this.tell(this.#changes, record);
  }

  /** Forget every listener (the backend closed). */
  clear(): void {
    this.#available.clear();
    this.#cancelled.clear();
    this.#changes.clear();
  }

  /** Call each listener with `value`; one that throws is logged and the rest are still told. */
  tell<T>(listeners: Iterable<(value: T) => void>, value: T): void {
    for (const listener of listeners) {
      try {
        listener(value);
      } catch (error) {
        this.#log(`a task backend listener threw: ${messageOf(error)}`);
      }
    }
  }
}
