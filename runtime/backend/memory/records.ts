/**
 * The records the in-memory backend holds, bounded: a finished record stays readable for
 * `ttlMs`, at most `maxFinished` are kept, and the oldest finished go first. Live (queued or
 * running) records are never dropped.
 * @module
 */

import { Deque } from '../../deque.ts';
import { unknownCursor } from '../../errors.ts';
import type { TaskPage, TaskQuery, TaskRecord } from '../../types.ts';
import { PageBudget } from '../page-size.ts';
import type { TaskEntry } from './entry.ts';
import { Listing } from './listing.ts';

export class MemoryRecords {
  #tasks = new Map<string, TaskEntry>();
  /** Terminal entries in the order they ended: expiry and the cap drop from the front. */
  #finished = new Deque<TaskEntry>();
  #listing = new Listing();
  #ttlMs: number;
  #maxFinished: number;

  constructor(ttlMs: number, maxFinished: number) {
    this.#ttlMs = ttlMs;
    this.#maxFinished = maxFinished;
  }

  /** A live record; an expired one is dropped on the way. */
  get(id: string, now: number): TaskEntry | undefined {
    const entry = this.#tasks.get(id);
    if (!entry?.terminal || entry.settledAt + this.#ttlMs > now) return entry;
    this.evict(now);
    return undefined;
  }

  /** The entry under `id` whatever its age (the hot path: a running task cannot expire). */
  peek(id: string): TaskEntry | undefined {
    return this.#tasks.get(id);
  }

  add(entry: TaskEntry): void {
    this.#tasks.set(entry.id, entry);
    this.#listing.add(entry);
  }

  /** Called once when an entry becomes terminal; starts its time to live. */
  ended(entry: TaskEntry, now: number): void {
    this.#finished.push(entry);
    this.evict(now);
  }

  /** Drop records past their time to live and beyond the cap, oldest finished first. */
  evict(now: number): void {
    for (
      let head = this.#finished.peek();
      head && (this.#finished.length > this.#maxFinished || head.settledAt + this.#ttlMs <= now);
      head = this.#finished.peek()
    ) {
      this.#finished.shift();
      head.drop();
      this.#tasks.delete(head.id);
      this.#listing.removed();
    }
  }

  /** Newest first, filtered; `before` must name a live record. */
  page(query: TaskQuery, now: number): TaskPage {
    this.evict(now);
    let beforeSeq: number | undefined;
    if (query.before !== undefined) {
      const cursor = this.#tasks.get(query.before);
      if (!cursor) throw unknownCursor(query.before);
      beforeSeq = cursor.seq;
    }
    const budget = new PageBudget();
    const tasks: TaskRecord[] = [];
    const { entries, more } = this.#listing.page(query, query.limit, beforeSeq, (entry) => {
      const record = entry.toRecord();
      if (!budget.take(record)) return false;
      tasks.push(record);
      return true;
    });
    const page: TaskPage = { tasks };
    const last = entries[entries.length - 1];
    if (more && last) page.next = last.id;
    return page;
  }
}
