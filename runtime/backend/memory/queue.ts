/**
 * One function's queue in the in-memory backend: claimable tasks in the order they became
 * claimable (a deque: O(1) at both ends), and the tasks backing off before a retry, each with
 * its timer. Status `queued` covers both.
 * @module
 */
import { Deque } from '../../deque.ts';
import type { ClaimedTask } from '../../types.ts';
import type { TaskEntry } from './entry.ts';
import type { BackendClock } from './timers.ts';

/** Below this many cancelled entries a rebuild is not worth a pass. */
const MIN_REBUILD = 1024;

export class FunctionQueue {
  /**
   * May still hold cancelled entries: a claim skips them (removal from the middle is O(n)).
   * Once they outnumber the live ones the deque is rebuilt, so submit-and-cancel with nothing
   * claiming cannot grow it without bound.
   */
  #ready = new Deque<TaskEntry>();
  /** Cancelled entries still in `#ready`. */
  #dead = 0;
  /** Entries with status `queued`, claimable or backing off. */
  #queued = 0;
  #backingOff = new Map<TaskEntry, unknown>();
  #clock: BackendClock;
  /** Told when an entry's backoff is over and it can be claimed. */
  #available: () => void;

  constructor(clock: BackendClock, available: () => void) {
    this.#clock = clock;
    this.#available = available;
  }

  get queued(): number {
    return this.#queued;
  }

  get claimable(): number {
    return this.#queued - this.#backingOff.size;
  }

  /** Entries the claimable deque holds, cancelled ones not yet skipped included. */
  get held(): number {
    return this.#ready.length;
  }

  /** Claimable last (a new task). */
  push(entry: TaskEntry): void {
    this.#ready.push(entry);
    this.#queued++;
  }

  /** Claimable first (a task that never began). */
  unshift(entry: TaskEntry): void {
    this.#ready.unshift(entry);
    this.#queued++;
  }

  /** Queued, claimable once `delayMs` has passed. */
  backOff(entry: TaskEntry, delayMs: number): void {
    this.#queued++;
    const timer = this.#clock.setTimeout(() => {
      if (!this.#backingOff.delete(entry)) return;
      this.#ready.push(entry);
      this.#available();
    }, delayMs);
    this.#clock.unref?.(timer);
    this.#backingOff.set(entry, timer);
  }

  /** Up to `max` claimable entries, oldest first, each turned running through `claim`. */
  take(max: number, claim: (entry: TaskEntry) => ClaimedTask): ClaimedTask[] {
    const claimed: ClaimedTask[] = [];
    while (claimed.length < max && this.#queued > this.#backingOff.size) {
      const entry = this.#ready.shift();
      if (!entry) break;
      if (entry.status !== 'queued') {
        this.#dead--;
        continue;
      }
      this.#queued--;
      claimed.push(claim(entry));
    }
    return claimed;
  }

  /** A queued entry leaves (cancelled): out of the counts, its backoff timer stopped. */
  remove(entry: TaskEntry): void {
    this.#queued--;
    const timer = this.#backingOff.get(entry);
    if (timer === undefined) {
      this.#dead++;
      if (this.#dead > MIN_REBUILD && this.#dead > this.#ready.length - this.#dead) {
        this.#rebuild(entry);
      }
      return;
    }
    this.#clock.clearTimeout(timer);
    this.#backingOff.delete(entry);
  }

  /** Keep only the live entries; `leaving` may still say `queued` (it is being cancelled). */
  #rebuild(leaving: TaskEntry): void {
    const ready = new Deque<TaskEntry>();
    for (const entry of this.#ready) {
      if (entry.status === 'queued' && entry !== leaving) ready.push(entry);
    }
    this.#ready = ready;
    this.#dead = 0;
  }

  /** Every queued entry, backing-off ones included; the queue is left empty. */
  drain(): TaskEntry[] {
    const entries: TaskEntry[] = [];
    for (let entry = this.#ready.shift(); entry; entry = this.#ready.shift()) {
      if (entry.status === 'queued') entries.push(entry);
    }
    entries.push(...this.#backingOff.keys());
    this.close();
    this.#queued = 0;
    this.#dead = 0;
    return entries;
  }

  /** Stop the backoff timers (the entries stay queued). */
  close(): void {
    for (const timer of this.#backingOff.values()) this.#clock.clearTimeout(timer);
    this.#backingOff.clear();
  }
}
