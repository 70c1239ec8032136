/**
 * The last minutes of each function's workers, queued and running tasks, one sample a second,
 * so the dashboard's charts start with the recent past instead of empty. Fed by the runtime's
 * `stats` events (once a second while anyone listens, and this history listens for as long as
 * the app lives); a server turns it on (`createApp({ statsHistorySeconds })`), the edge does not.
 * @module
 */
import type { PoolStats, Runtime } from '../runtime/index.ts';

/** One second of one function. */
export interface FunctionSample {
  activeWorkers: number;
  queueSize: number;
  activeTasks: number;
}

/** One sample: when (epoch ms), and every function's gauges then. */
export interface HistorySample {
  at: number;
  functions: Record<string, FunctionSample>;
}

export class StatsHistory {
  #seconds: number;
  #samples: HistorySample[] = [];

  constructor(runtime: Runtime, seconds: number) {
    this.#seconds = seconds;
    runtime.subscribe((event) => {
      if (event.type === 'stats') this.#add(event.data);
    });
  }

  /** The samples kept, oldest first. */
  samples(): HistorySample[] {
    return [...this.#samples];
  }

  #add(stats: PoolStats): void {
    const functions: Record<string, FunctionSample> = {};
    for (const [name, f] of Object.entries(stats.functions)) {
      functions[name] = {
        activeWorkers: f.activeWorkers,
        queueSize: f.queueSize,
        activeTasks: f.activeTasks,
      };
    }
    const at = Date.now();
    this.#samples.push({ at, functions });
    const oldest = at - this.#seconds * 1000;
    while ((this.#samples[0]?.at ?? at) < oldest) this.#samples.shift();
  }
}
