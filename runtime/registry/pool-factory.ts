/**
 * How the registry's pools are made: a loaded one (the loader prepares and probes the module; the
 * probe's worker stays as the pool's first when it fits), a placeholder that queues while its
 * function loads, and an unavailable one for a module that never loaded. Every pool and probe it
 * makes numbers its workers from one counter.
 * @module
 */

import { type ResolvedOptions, resolveFunctionConfig } from '../options.ts';
import { FunctionPool, type PoolDeps } from '../pool/pool.ts';
import type { FunctionEntry } from '../worker-host.ts';
import { loadFunction } from './loader.ts';

export class PoolFactory {
  #deps: PoolDeps;
  #o: ResolvedOptions;
  #workerIds = 0;

  constructor(deps: Omit<PoolDeps, 'nextWorkerId'>, options: ResolvedOptions) {
    this.#deps = {
      ...deps,
      nextWorkerId: () => ++this.#workerIds,
      limits: { maxResultBytes: options.maxResultBytes },
    };
    this.#o = options;
  }

  /** A `ready` pool for `entry`, loaded and probed; rejects with the loader's message. */
  async load(entry: FunctionEntry): Promise<FunctionPool> {
    const loaded = await loadFunction(entry, { ...this.#deps, options: this.#o });
    if (!loaded.ok) throw new Error(loaded.error);
    const pool = new FunctionPool(entry.name, loaded.config, loaded, this.#deps);
    if (loaded.spare && !pool.adopt(loaded.spare)) await loaded.spare.discard();
    return pool;
  }

  /** A `loading` pool that only queues, standing for a function while it loads. */
  placeholder(entry: FunctionEntry): FunctionPool {
    return new FunctionPool(entry.name, this.#provisional(), undefined, this.#deps);
  }

  /** An `unavailable` pool whose tasks fail with `reason` (a module that never loaded). */
  unavailable(entry: FunctionEntry, reason: string): FunctionPool {
    const pool = this.placeholder(entry);
    void pool.markUnavailable(reason);
    this.#deps.log(`${entry.name}: unavailable: ${reason}`);
    return pool;
  }

  #provisional() {
    return resolveFunctionConfig(undefined, this.#o);
  }
}
