/**
 * The in-memory backend's idempotency keys: which task each key created, for the key's time to
 * live. Keys outlive their tasks' records (a day against an hour by default), so they are kept
 * apart; expired ones go from the front (they are added in time order), and at most `max` are
 * held, the oldest going first past it: memory is the only bound a process has.
 * @module
 */
import { Deque } from '../../deque.ts';
import { type Idempotency, idempotencyKeyReused } from '../idempotency.ts';

interface KeyEntry {
  key: string;
  fn: string;
  id: string;
  fingerprint: string;
  expiresAt: number;
}

/** Keys held at most (about 200 bytes each). */
export const MAX_MEMORY_KEYS = 1_000_000;

export class MemoryKeys {
  #byKey = new Map<string, KeyEntry>();
  #order = new Deque<KeyEntry>();
  #max: number;

  constructor(max = MAX_MEMORY_KEYS) {
    this.#max = max;
  }

  /**
   * The task `key` created, or undefined when it names none (or expired by `now`). Throws
   * `idempotency_key_reused` when it was used with another fingerprint.
   */
  taskOf(key: Idempotency, now: number): string | undefined {
    this.evict(now);
    const entry = this.#byKey.get(key.key);
    if (!entry || entry.expiresAt <= now) return undefined;
    if (entry.fingerprint !== key.fingerprint)
      throw idempotencyKeyReused(key.key, entry.fn, entry.id);
    return entry.id;
  }

  /** `key` names task `id` of `fn` until `now + key.ttlMs`. */
  add(key: Idempotency, fn: string, id: string, now: number): void {
    const entry = {
      key: key.key,
      fn,
      id,
      fingerprint: key.fingerprint,
      expiresAt: now + key.ttlMs,
    };
    this.#byKey.set(key.key, entry);
    this.#order.push(entry);
    while (this.#byKey.size > this.#max) this.#dropOldest();
  }

  /** Drop the keys expired by `now` (those at the front: keys are added in time order). */
  evict(now: number): void {
    for (let head = this.#order.peek(); head && head.expiresAt <= now; head = this.#order.peek()) {
      this.#dropOldest();
    }
  }

  #dropOldest(): void {
    const entry = this.#order.shift();
    // A key used again after it expired has a newer entry: the map keeps that one.
    if (entry && this.#byKey.get(entry.key) === entry) this.#byKey.delete(entry.key);
  }
}
