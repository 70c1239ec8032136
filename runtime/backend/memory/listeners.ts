/**
 * Who the in-memory backend tells of what: the listeners every backend keeps
 * (`BackendListeners`), plus those of endings alone (`onEnded`, memory only). A record snapshot
 * is built only when someone is there to read it, and one snapshot serves them all.
 * @module
 */
import type { TaskRecord } from '../../types.ts';
import type { TaskListener } from '../contract.ts';
import { BackendListeners } from '../listeners.ts';
import type { TaskEntry, Waiter } from './entry.ts';

export class MemoryListeners extends BackendListeners {
  #endings = new Set<TaskListener>();

  onEnded(listener: TaskListener): () => void {
    this.#endings.add(listener);
    return () => this.#endings.delete(listener);
  }

  /** A state change short of the end; `built` is a snapshot already made, if any. */
  entryChanged(entry: TaskEntry, built?: TaskRecord): void {
    if (this.subscribed) this.changed(built ?? entry.toRecord());
  }

  /** The end: the entry's waiters, subscribers and ending listeners share one snapshot. */
  ended(entry: TaskEntry, waiters: Waiter[] | undefined, built?: TaskRecord): void {
    if (!waiters && !this.subscribed && this.#endings.size === 0) return;
    const record = built ?? entry.toRecord();
    if (waiters) for (const waiter of waiters) waiter(record);
    this.changed(record);
    this.tell(this.#endings, record);
  }
}
