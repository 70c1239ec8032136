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
import type { LoadedModule, PoolDeps } from '../pool/pool.ts';
import {
  type HandleEvents,
  LOAD_TIMEOUT_MS,
  type ModuleExports,
  type SpareWorker,
  WorkerHandle,
} from '../pool/worker-handle.ts';
import type { ResolvedFunctionConfig } from '../types.ts';
import { cutMessage } from '../worker/bounds.ts';
import type { FunctionEntry, PreparedFunction, SpawnedWorker } from '../worker-host.ts';

export type LoaderDeps = Pick<
  PoolDeps,
  'host' | 'clock' | 'ceiling' | 'nextWorkerId' | 'limits'
> & {
  options: ResolvedOptions;
};

export type Loaded =
  | (LoadedModule & {
      ok: true;
      config: ResolvedFunctionConfig;
      /** The probe's worker, when it can serve as the first of the pool's. */
      spare?: SpareWorker;
    })
  | { ok: false; error: string };

/** A load that failed; its message bounded, as a task's error is (it becomes theirs). */
const failed = (error: string): Loaded => ({ ok: false, error: cutMessage(error) });

/** Prepare and probe one module; never throws (a failure is `{ ok: false, error }`). */
export const loadFunction = async (entry: FunctionEntry, deps: LoaderDeps): Promise<Loaded> => {
  let prepared: PreparedFunction;
  try {
    prepared = await deps.host.prepare(entry);
  } catch (error) {
    return failed(`the module failed to load: ${messageOf(error)}`);
  }
  const started = resolveFunctionConfig(undefined, deps.options);
  let probed: Probed;
  try {
    probed = await probe(prepared, started, deps);
  } catch (error) {
    // The worker and the handle phrase their load failures for people already.
    return failed(messageOf(error));
  }
  let config: ResolvedFunctionConfig;
  try {
    config = resolveFunctionConfig(probed.config, deps.options);
  } catch (error) {
    await probed.spare?.discard();
    return failed(`the module's config is invalid: ${messageOf(error)}`);
  }
  const refused = config.permissions && deps.host.refuses?.(entry, config.permissions);
  if (refused) {
    await probed.spare?.discard();
    return { ok: false, error: `the module's config is invalid: ${refused}` };
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
 * offered as a spare when it holds room under the ceiling; else stopped. Rejects with the
 * loader's message. Its lease (if any) goes back as it stops, by whoever stops it.
 */
export const probe = async (
  prepared: PreparedFunction,
  config: ResolvedFunctionConfig,
  deps: LoaderDeps,
): Promise<Probed> => {
  const id = deps.nextWorkerId();
  // Probes take room like any worker; one past the ceiling still reads its config, then stops.
  const lease = deps.ceiling.lease();
  let worker: SpawnedWorker;
  try {
    worker = deps.host.spawn(prepared, { workerId: id, memoryLimitMb: config.memoryLimitMb });
  } catch (error) {
    lease?.release();
    throw new Error(`the module failed to load: ${messageOf(error)}`);
  }
  const relay = new EventRelay();
  const handle = new WorkerHandle(id, worker, relay, deps.clock, lease);
  const stop = () => handle.stop('the worker that read the config was stopped');
  let found: unknown;
  try {
    found = await handle.start(config.concurrency, LOAD_TIMEOUT_MS, deps.limits);
  } catch (error) {
    await stop();
    throw error;
  }
  const exports: ModuleExports = handle.exports ?? { default: true, fetch: false };
  if (!lease) {
    await stop();
    return { config: found, exports };
  }
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
    },
  };
  return { config: found, exports, spare };
};
