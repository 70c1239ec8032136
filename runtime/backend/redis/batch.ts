/**
 * Calls made in the same turn of the event loop, sent to Redis as one: each caller waits for its
 * own answer. A turn's I/O (several HTTP requests read at once, several workers' outcomes) ends
 * before the batch leaves, so a busy server sends one script for many tasks: fewer round trips,
 * fewer writes to the socket (on loopback each write also costs the sender the receiver's work),
 * and one message on the events channel instead of one per task.
 * @module
 */
import { afterIo } from '../../time/timers.ts';

export class Batch<Item, Answer> {
  #items: Item[] = [];
  #waiters: { resolve(answer: Answer): void; reject(error: unknown): void }[] = [];
  #send: (items: Item[]) => Promise<Answer[]>;

  /** `send` answers one value per item, in order; if it throws, every caller gets the error. */
  constructor(send: (items: Item[]) => Promise<Answer[]>) {
    this.#send = send;
  }

  /** Items waiting for the end of this turn. */
  get size(): number {
    return this.#items.length;
  }

  add(item: Item): Promise<Answer> {
    if (this.#items.length === 0) afterIo(() => void this.flush());
    this.#items.push(item);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  /** Send what waits now (the end of the turn does it by itself). */
  async flush(): Promise<void> {
    const items = this.#items.splice(0);
    const waiters = this.#waiters.splice(0);
    if (items.length === 0) return;
    try {
      const answers = await this.#send(items);
      for (const [i, waiter] of waiters.entries()) waiter.resolve(answers[i] as Answer);
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
    }
  }
}
