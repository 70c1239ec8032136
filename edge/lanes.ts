/**
 * How many runs of a function may be in flight at once at the edge, and where. A function has
 * `maxWorkers × concurrency` lanes (its config, over the settings), dealt over the task shards
 * starting at the function's home shard (a hash of its name): with 20 lanes and 8 shards, four
 * shards run 3 at once and four run 2; with 1 lane only the home shard runs it. So the bound
 * holds for the whole Worker, not per shard. A shard without lanes for a function (a client-
 * chosen id landed there) has each of its runs done by a shard with lanes (`laneShard`), which
 * takes it in turn with its own. Each shard counts its lanes in flight with `Lanes`.
 * @module
 */
import { fnv1a } from './hash.ts';

/** The shard a function's lanes start at. */
export const homeShard = (fn: string, shards: number): number => fnv1a(`fn:${fn}`) % shards;

/** How many of a function's `lanes` shard `shard` holds (all shards' shares add up to `lanes`). */
export const laneShare = (fn: string, lanes: number, shards: number, shard: number): number => {
  const offset = (shard - homeShard(fn, shards) + shards) % shards;
  return Math.floor(lanes / shards) + (offset < lanes % shards ? 1 : 0);
};

/** A shard with lanes for the function, chosen by `key` (a task id) among those that have some. */
export const laneShard = (fn: string, lanes: number, shards: number, key: string): number => {
  const holders = Math.min(lanes, shards);
  return (homeShard(fn, shards) + (fnv1a(key) % holders)) % shards;
};

/** A run asked for by another shard, waiting for a lane here. */
interface Borrower {
  resolve: () => void;
}

/** The lanes of each function in flight in one shard, and the runs of other shards waiting. */
export class Lanes {
  #busy = new Map<string, number>();
  #borrowers = new Map<string, Borrower[]>();
  /** Whether the last lane freed went to a borrower (they take turns with local work). */
  #lentLast = new Map<string, boolean>();

  busy(fn: string): number {
    return this.#busy.get(fn) ?? 0;
  }

  /** Every run in flight here. */
  get total(): number {
    let n = 0;
    for (const count of this.#busy.values()) n += count;
    return n;
  }

  /** Take a lane (the caller checked there is one). */
  take(fn: string): void {
    this.#busy.set(fn, this.busy(fn) + 1);
  }

  /**
   * Give a lane back. When another shard's run waits, it gets the lane at once (true) unless
   * it had the last one and `localWaiting`: local work and borrowers take turns.
   */
  free(fn: string, localWaiting: boolean): boolean {
    const count = this.busy(fn) - 1;
    if (count > 0) this.#busy.set(fn, count);
    else this.#busy.delete(fn);
    const waiting = this.#borrowers.get(fn);
    if (!waiting?.length) return false;
    if (localWaiting && this.#lentLast.get(fn)) {
      this.#lentLast.set(fn, false);
      return false;
    }
    const next = waiting.shift() as Borrower;
    if (waiting.length === 0) this.#borrowers.delete(fn);
    this.#lentLast.set(fn, true);
    this.take(fn);
    next.resolve();
    return true;
  }

  /** A lane for another shard's run: now if one is free under `share`, else in turn. */
  borrow(fn: string, share: number): Promise<void> {
    if (this.busy(fn) < share && !this.#borrowers.get(fn)?.length) {
      this.take(fn);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const waiting = this.#borrowers.get(fn) ?? [];
      this.#borrowers.set(fn, waiting);
      waiting.push({ resolve });
    });
  }

  /** Whether other shards' runs wait for this function's lanes (local work waits behind them). */
  lending(fn: string): boolean {
    return (this.#borrowers.get(fn)?.length ?? 0) > 0;
  }
}
