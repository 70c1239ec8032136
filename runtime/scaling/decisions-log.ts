/**
 * The scaling decisions kept for `stats()` and told to listeners as they are made. A pool held
 * back for the same cause at every evaluation would flood the log: a hold is logged when its
 * cause changes, and again after `HOLD_REPEAT_MS`.
 * @module
 */
import { messageOf } from '../errors.ts';
import type { ScalingEvent } from '../types.ts';

/** A hold for an unchanged cause is logged again after this long. */
const HOLD_REPEAT_MS = 60_000;

export class DecisionsLog {
  #events: ScalingEvent[] = [];
  #lastHold = new Map<string, { cause: string; at: number }>();
  #listeners = new Set<(event: ScalingEvent) => void>();
  #kept: number;
  #log: (message: string) => void;

  constructor(kept: number, log: (message: string) => void) {
    this.#kept = kept;
    this.#log = log;
  }

  /** The last decisions, oldest first. */
  events(): ScalingEvent[] {
    return this.#events.slice();
  }

  /** Be told of each decision as it is recorded; returns the unsubscribe function. */
  listen(listener: (event: ScalingEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether a hold of `name` for `cause` (a key, not the reason's text) is worth a line now. */
  holdWorthLogging(name: string, cause: string, at: number): boolean {
    const last = this.#lastHold.get(name);
    if (last && last.cause === cause && at - last.at < HOLD_REPEAT_MS) return false;
    this.#lastHold.set(name, { cause, at });
    return true;
  }

  record(event: ScalingEvent): void {
    if (event.action !== 'hold') this.#lastHold.delete(event.function);
    this.#events.push(event);
    const excess = this.#events.length - this.#kept;
    if (excess > 0) this.#events.splice(0, excess);
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#log(`a scaling listener threw: ${messageOf(error)}`);
      }
    }
  }
}
