/**
 * The ceiling on all workers of a runtime together, as leases: a pool (or the loader's probe)
 * takes one before it spawns and the worker gives it back once it is gone, so one function's
 * burst cannot exceed the server's maxWorkers, and no room is given back that was never taken.
 * Room given back goes straight to whoever waits for it, in the order they asked; one that no
 * longer needs it releases it, and it goes on to the next.
 * @module
 */
import { Deque } from '../deque.ts';
import { Lease } from '../pool/lease.ts';

/** Handed a lease when room comes back: it keeps the lease (spawns on it) or releases it. */
export type RoomTaker = (lease: Lease) => void;

export class WorkerBudget {
  #used = 0;
  #waiting = new Deque<RoomTaker>();
  #giveBack = (): void => this.#returned();

  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** Leases out now (retiring and stopping workers still hold theirs). */
  get used(): number {
    return this.#used;
  }

  get available(): number {
    return this.max - this.#used;
  }

  /** A lease now, or undefined when the ceiling is reached. */
  tryAcquire(): Lease | undefined {
    if (this.#used >= this.max) return undefined;
    this.#used++;
    return new Lease(this.#giveBack);
  }

  /**
   * Be handed the next room given back, after everyone who asked before. A taker that declines
   * releases the lease before it asks again, so the room goes on to those behind it.
   */
  whenRoom(taker: RoomTaker): void {
    this.#waiting.push(taker);
  }

  // The room goes to the first taker in line as a fresh lease (a lease gives back only once).
  #returned(): void {
    this.#used--;
    const taker = this.#waiting.shift();
    if (!taker) return;
    this.#used++;
    taker(new Lease(this.#giveBack));
  }
}
