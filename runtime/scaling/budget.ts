/**
 * The ceiling on all workers of a runtime together: every pool asks here before it spawns,
 * so one function's burst cannot exceed the server's maxWorkers.
 * @module
 */
export class WorkerBudget {
  #used = 0;
  #waiting: Array<() => void> = [];

  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get used(): number {
    return this.#used;
  }

  get available(): number {
    return this.max - this.#used;
  }

  tryAcquire(): boolean {
    if (this.#used >= this.max) return false;
    this.#used++;
    return true;
  }

  release(): void {
    if (this.#used > 0) this.#used--;
    // Everyone waiting is told: one told alone may no longer need the room, and the others
    // would not hear of it. Those that still need room and miss it ask again.
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const listener of waiting) listener();
  }

  /** Be told once, the next time a worker's room is given back. */
  onRoom(listener: () => void): void {
    this.#waiting.push(listener);
  }
}
