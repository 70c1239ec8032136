/**
 * Loading a function before it serves: the host prepares the module (bundle, check), then one
 * worker starts to read its `config` export, since config decides the memory limit, concurrency
 * and sandbox real workers start with. Where the config asks for nothing that worker lacks, it
 * stays as the pool's first worker (one spawn fewer before the first result); otherwise it stops.
 * A module that cannot load becomes an unavailable function whose tasks fail with `load_failed`
 * and the loader's message.
 * @module
 */

import { messageOf } from '../errors.ts';
import { type ResolvedOptions, resolveFunctionConfig } from '../options.ts';
import { type HandleEvents, LOAD_TIMEOUT_MS, WorkerHandle } from '../pool/worker-handle.ts';
import type { WorkerBudget } from '../scaling/budget.ts';
import type { Clock } from '../time/clock.ts';
import type { ResolvedFunctionConfig } from '../types.ts';
import type { InitReply } from '../worker/protocol.ts';
import type { FunctionEntry, PreparedFunction, SpawnedWorker, WorkerHost } from '../worker-host.ts';

export interface LoaderDeps {
  host: WorkerHost;
  budget: WorkerBudget;
  clock: Clock;
  nextWorkerId(): number;
  options: ResolvedOptions;
}

/** What a module exports: a default function (tasks), a `fetch` function (HTTP calls). */
export type ModuleExports = InitReply['exports'];

/** The worker that read the config, started and holding its room in the budget, for a pool. */
export interface SpareWorker {
  /**
   * Hand it to a pool, whose `events` it reports to from now on (with its room: the pool gives
   * that back when the worker is gone). Undefined when it died while waiting: then `discard`.
   */
  adopt(events: HandleEvents): WorkerHandle | undefined;
  /** Stop it and give back its room (no pool took it). */
  discard(): Promise<void>;
}

export type Loaded =
  | {
      ok: true;
      prepared: PreparedFunction;
      config: ResolvedFunctionConfig;
      exports: ModuleExports;
      /** The probe's worker, when it can serve as the first of the pool's. */
      spare?: SpareWorker;
    }
  | { ok: false; error: string };

/** Prepare and probe one module; never throws (a failure is `{ ok: false, error }`). */
export const loadFunction = async (entry: FunctionEntry, deps: LoaderDeps): Promise<Loaded> => {
  let prepared: PreparedFunction;
  try {
    prepared = await deps.host.prepare(entry);
  } catch (error) {
    return { ok: false, error: `the module failed to load: ${messageOf(error)}` };
  }
  const started = resolveFunctionConfig(undefined, deps.options);
  let probed: Probed;
  try {
    probed = await probe(prepared, started, deps);
  } catch (error) {
    // The worker and the handle phrase their load failures for people already.
    return { ok: false, error: messageOf(error) };
  }
  let config: ResolvedFunctionConfig;
  try {
    config = resolveFunctionConfig(probed.config, deps.options);
  } catch (error) {
    await probed.spare?.discard();
    return { ok: false, error: `the module's config is invalid: ${messageOf(error)}` };
  }
  let spare = probed.spare;
  // It keeps the limits it started with: a config that changes them, or grants a sandbox more,
  // needs a fresh worker; one that scales to zero starts none before its first call.
  const fits =
    config.minWorkers > 0 &&
    config.concurrency === started.concurrency &&
    config.memoryLimitMb === started.memoryLimitMb &&
    config.permissions === undefined;
  if (spare && !fits) {
    await spare.discard();
    spare = undefined;
  }
  return { ok: true, prepared, config, exports: probed.exports, spare };
};

interface Probed {
  config: unknown;
  exports: ModuleExports;
  spare?: SpareWorker;
}

/** A worker's events, sent to nobody until a pool adopts it. */
class EventRelay implements HandleEvents {
  target: HandleEvents | undefined;
  outcome: HandleEvents['outcome'] = (...args) => this.target?.outcome(...args);
  unsendable: HandleEvents['unsendable'] = (...args) => this.target?.unsendable(...args);
  drained: HandleEvents['drained'] = (...args) => this.target?.drained(...args);
  timedOut: HandleEvents['timedOut'] = (...args) => this.target?.timedOut(...args);
  dead: HandleEvents['dead'] = (...args) => this.target?.dead(...args);
}

/**
 * Start one worker to read the module's `config` export (and see what else it exports). It is
 * offered as a spare when it took room in the budget; else stopped. Rejects with the loader's
 * message.
 */
export const probe = async (
  prepared: PreparedFunction,
  config: ResolvedFunctionConfig,
  deps: LoaderDeps,
): Promise<Probed> => {
  const id = deps.nextWorkerId();
  // The loader keeps probes within the budget. The room goes back once the probe has stopped,
  // and only if it was taken: until a pool adopts it, a probe is not one of the pool's workers,
  // so its death must neither release room it never held nor start a replacement.
  const acquired = deps.budget.tryAcquire();
  let kept = false;
  try {
    let worker: SpawnedWorker;
    try {
      worker = deps.host.spawn(prepared, { workerId: id, memoryLimitMb: config.memoryLimitMb });
    } catch (error) {
      throw new Error(`the module failed to load: ${messageOf(error)}`);
    }
    const relay = new EventRelay();
    const handle = new WorkerHandle(id, worker, relay, deps.clock);
    const stop = () => handle.stop('the worker that read the config was stopped');
    let found: unknown;
    try {
      found = await handle.start(config.concurrency, LOAD_TIMEOUT_MS);
    } catch (error) {
      await stop();
      throw error;
    }
    const exports = handle.exports ?? { default: true, fetch: false };
    if (!acquired) {
      await stop();
      return { config: found, exports };
    }
    kept = true;
    let settled = false;
    const spare: SpareWorker = {
      adopt(events) {
        if (settled || handle.state !== 'ready') return undefined;
        settled = true;
        relay.target = events;
        return handle;
      },
      async discard() {
        if (settled) return;
        settled = true;
        await stop();
        deps.budget.release();
      },
    };
    return { config: found, exports, spare };
  } finally {
    if (acquired && !kept) deps.budget.release();
  }
};
