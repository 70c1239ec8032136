/**
 * The runtime's live events: task state changes, scaling decisions, what functions print, and
 * pool stats once a second while anyone listens. Listeners run synchronously and must be quick;
 * one that throws is reported and kept.
 * @module
 */

import { messageOf } from './errors.ts';
import type { LogEvent, PoolStats, RuntimeEvent, RuntimeListener } from './types.ts';

/** How often `stats` events go out while there are listeners. */
export const STATS_INTERVAL_MS = 1000;

export class RuntimeEvents {
  #listeners = new Set<RuntimeListener>();
  #closers = new Set<() => void>();
  #closed = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stats: () => PoolStats;
  #log: (message: string) => void;

  constructor(stats: () => PoolStats, log: (message: string) => void) {
    this.#stats = stats;
    this.#log = log;
  }

  /** Whether anyone listens: callers skip building events nobody reads. */
  get active(): boolean {
    return this.#listeners.size > 0;
  }

  subscribe(listener: RuntimeListener, onClose?: () => void): () => void {
    if (this.#closed) {
      onClose?.();
      return () => {};
    }
    this.#listeners.add(listener);
    if (onClose) this.#closers.add(onClose);
    if (!this.#timer) {
      this.#timer = setInterval(
        () => this.emit({ type: 'stats', data: this.#stats() }),
        STATS_INTERVAL_MS,
      );
      (this.#timer as { unref?: () => void }).unref?.();
    }
    return () => {
      this.#listeners.delete(listener);
      if (onClose) this.#closers.delete(onClose);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  emit(event: RuntimeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#log(`an event listener threw: ${messageOf(error)}`);
      }
    }
  }

  /** One `log` event per line. */
  logs(lines: Iterable<LogEvent>): void {
    for (const line of lines) this.emit({ type: 'log', data: line });
  }

  /** The runtime has shut down: tell the `onClose` of every subscriber once, then forget them. */
  close(): void {
    this.#closed = true;
    const closers = [...this.#closers];
    this.#listeners.clear();
    this.#closers.clear();
    this.#stop();
    for (const closer of closers) {
      try {
        closer();
      } catch (error) {
        this.#log(`an event listener's onClose threw: ${messageOf(error)}`);
      }
    }
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
