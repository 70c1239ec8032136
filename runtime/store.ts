/**
 * Where task records live. The default keeps them in memory; a finished record stays readable
 * for `ttlMs` and at most `maxFinished` are kept, the oldest finished going first, so memory
 * stays bounded under any load. A Workers build can put records in a Durable Object instead.
 * @module
 */
import { Deque } from './queue.ts';
import type { Task } from './task.ts';

export interface TaskStore {
  get(id: string): Task | undefined;
  has(id: string): boolean;
  add(task: Task): void;
  /** Called once when a task becomes terminal; starts its time to live. */
  settled(task: Task): void;
  /** Records held, live and finished. */
  readonly size: number;
}

export interface MemoryStoreOptions {
  ttlMs: number;
  maxFinished: number;
  now?: () => number;
}

export class MemoryTaskStore implements TaskStore {
  #tasks = new Map<string, Task>();
  #finished = new Deque<Task>();
  #ttlMs: number;
  #maxFinished: number;
  #now: () => number;

  constructor({ ttlMs, maxFinished, now = Date.now }: MemoryStoreOptions) {
    this.#ttlMs = ttlMs;
    this.#maxFinished = maxFinished;
    this.#now = now;
  }

  get size(): number {
    return this.#tasks.size;
  }

  get(id: string): Task | undefined {
    const task = this.#tasks.get(id);
    if (task?.terminal && this.#expired(task, this.#now())) {
      this.evict();
      return undefined;
    }
    return task;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  add(task: Task): void {
    this.#tasks.set(task.id, task);
  }

  settled(task: Task): void {
    this.#finished.push(task);
    this.evict();
  }

  /** Drop expired records and those past the count, oldest finished first. */
  evict(): void {
    const now = this.#now();
    let head = this.#finished.peek();
    while (head && (this.#finished.length > this.#maxFinished || this.#expired(head, now))) {
      this.#finished.shift();
      this.#tasks.delete(head.id);
      head = this.#finished.peek();
    }
  }

  #expired(task: Task, now: number): boolean {
    return (task.endedAt ?? now) + this.#ttlMs <= now;
  }
}
