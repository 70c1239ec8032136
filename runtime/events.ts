/**
 * The runtime's live events: task state changes, scaling decisions, what functions print, and
 * pool stats once a second while anyone listens. Listeners run synchronously and must be quick;
 * one that throws is reported and kept.
 * @module
 */
import type { LogEvent, PoolStats, RuntimeEvent, RuntimeListener } from './types.ts';

/** How often `stats` events go out while there are listeners. */
export const STATS_INTERVAL_MS = 1000;

export class RuntimeEvents {
  #listeners = new Set<RuntimeListener>();
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

  subscribe(listener: RuntimeListener): () => void {
    this.#listeners.add(listener);
    if (!this.#timer) {
      this.#timer = setInterval(
        () => this.emit({ type: 'stats', data: this.#stats() }),
        STATS_INTERVAL_MS,
      );
      (this.#timer as { unref?: () => void }).unref?.();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  emit(event: RuntimeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#log(`an event listener threw: ${error instanceof Error ? error.message : error}`);
      }
    }
  }

  /** One `log` event per line. */
  logs(lines: Iterable<LogEvent>): void {
    for (const line of lines) this.emit({ type: 'log', data: line });
  }

  close(): void {
    this.#listeners.clear();
    this.#stop();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
