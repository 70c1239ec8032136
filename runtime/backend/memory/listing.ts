/**
 * Every live record in submission order, for `list`: newest first, filtered, paged by a cursor.
 * Records mostly leave from the old end (skipped by moving a head index), but not always (the
 * oldest *finished* go first, a long task stays): other holes are counted and the array is
 * compacted once they outnumber records. O(1) amortized either way.
 * @module
 */
import type { TaskStatus } from '../../types.ts';
import type { TaskEntry } from './entry.ts';

/** Below this many holes, compaction is not worth a pass. */
const MIN_COMPACT = 1024;

export interface Filter {
  function?: string;
  status?: TaskStatus;
}

export class Listing {
  #entries: TaskEntry[] = [];
  /** Entries below it are all dropped. */
  #head = 0;
  /** Dropped entries at or above the head. */
  #holes = 0;

  /** Entries arrive in `seq` order. */
  add(entry: TaskEntry): void {
    this.#entries.push(entry);
  }

  /** Told after an entry was dropped. */
  removed(): void {
    this.#holes++;
    const entries = this.#entries;
    while (this.#head < entries.length && (entries[this.#head] as TaskEntry).dropped) {
      this.#head++;
      this.#holes--;
    }
    const held = entries.length - this.#head;
    if (this.#head > MIN_COMPACT && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
    if (this.#holes > MIN_COMPACT && this.#holes * 2 > held) {
      this.#entries = this.#entries.filter((entry) => !entry.dropped);
      this.#head = 0;
      this.#holes = 0;
    }
  }

  /**
   * Up to `limit` live entries matching `filter`, newest first, starting below `beforeSeq` when
   * given, each while `take` accepts it (a page bounded by size); `more` tells whether another
   * matching entry follows the page.
   */
  page(
    filter: Filter,
    limit: number,
    beforeSeq?: number,
    take: (entry: TaskEntry) => boolean = () => true,
  ): { entries: TaskEntry[]; more: boolean } {
    const entries: TaskEntry[] = [];
    let i = beforeSeq === undefined ? this.#entries.length - 1 : this.#indexBelow(beforeSeq);
    for (; i >= this.#head; i--) {
      const entry = this.#entries[i] as TaskEntry;
      if (!this.#matches(entry, filter)) continue;
      if (entries.length === limit || !take(entry)) return { entries, more: true };
      entries.push(entry);
    }
    return { entries, more: false };
  }

  #matches(entry: TaskEntry, filter: Filter): boolean {
    return (
      (filter.function === undefined || entry.fn === filter.function) &&
      (filter.status === undefined || entry.status === filter.status) &&
      !entry.dropped
    );
  }

  /** The index of the last entry whose seq is below `seq` (binary search; -1 when none). */
  #indexBelow(seq: number): number {
    let low = 0;
    let high = this.#entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#entries[mid] as TaskEntry).seq < seq) low = mid + 1;
      else high = mid;
    }
    return low - 1;
  }
}
