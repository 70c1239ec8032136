/**
 * Starting one pool's workers: spawn on the host, load the module (with its own deadline, apart
 * from task timeouts), count the cold start, and tell the pool when a worker is ready or failed
 * to start. Failures in a row are counted; the pool decides what they mean.
 * @module
 */

import { messageOf } from '../errors.ts';
import type { Clock } from '../time/clock.ts';
import type { ResolvedFunctionConfig } from '../types.ts';
import type { WorkerLimits } from '../worker/protocol.ts';
import type { PreparedFunction, WorkerHost } from '../worker-host.ts';
import type { PoolCounters } from './counters.ts';
import type { Lease } from './lease.ts';
import { type HandleEvents, LOAD_TIMEOUT_MS, WorkerHandle } from './worker-handle.ts';
import type { WorkerSet } from './worker-set.ts';

export interface SpawnerDeps {
  host: WorkerHost;
  clock: Clock;
  nextWorkerId(): number;
  prepared: PreparedFunction;
  events: HandleEvents;
  /** What its workers hold their tasks' outcomes to. */
  limits?: WorkerLimits;
  workers: WorkerSet;
  counters: PoolCounters;
  /** A worker finished loading. */
  ready(worker: WorkerHandle): void;
  /** A worker failed to start, the `failures`-th time in a row; unless `shuttingDown()`. */
  failed(message: string, failures: number): void;
  shuttingDown(): boolean;
}

export class Spawner {
  #d: SpawnerDeps;
  #failures = 0;
  /** Workers still loading the module, settled either way. */
  #starting = new Set<Promise<unknown>>();

  constructor(deps: SpawnerDeps) {
    this.#d = deps;
  }

  /** Start one worker on `lease` (its room under the ceiling), which the worker then carries. */
  spawn(config: ResolvedFunctionConfig, lease: Lease): void {
    const d = this.#d;
    const id = d.nextWorkerId();
    let handle: WorkerHandle;
    try {
      const worker = d.host.spawn(d.prepared, {
        workerId: id,
        memoryLimitMb: config.memoryLimitMb,
        permissions: config.permissions,
      });
      handle = new WorkerHandle(id, worker, d.events, d.clock, lease);
    } catch (error) {
      // No worker took the lease: it goes back from here.
      lease.release();
      this.#failed(error);
      return;
    }
    d.workers.add(handle);
    const started = handle.start(config.concurrency, LOAD_TIMEOUT_MS, d.limits).then(
      () => {
        this.#failures = 0;
        d.counters.coldStart((handle.readyAt as number) - handle.spawnedAt);
        d.ready(handle);
      },
      (error: unknown) => {
        void handle.stop('the worker failed to start');
        // A worker still starting when the runtime closes is no failure of the function.
        if (!d.shuttingDown()) this.#failed(error);
      },
    );
    this.#starting.add(started);
    void started.finally(() => this.#starting.delete(started));
  }

  /** Resolves once every worker spawned so far has started or failed to. */
  async started(): Promise<void> {
    while (this.#starting.size > 0) await Promise.all(this.#starting);
  }

  /** Resolves once `ready()` holds, or no worker is starting any more. */
  async until(ready: () => boolean): Promise<void> {
    while (!ready() && this.#starting.size > 0) await Promise.race(this.#starting);
  }

  #failed(error: unknown): void {
    this.#failures++;
    this.#d.failed(messageOf(error), this.#failures);
  }
}
