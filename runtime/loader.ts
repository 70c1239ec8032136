/**
 * Loading a function before it serves: the host prepares the module (bundle, check), then one
 * worker starts to read its `config` export and stops again, since config decides the memory
 * limit and concurrency real workers start with. A module that cannot load becomes an
 * unavailable function whose tasks fail with `load_failed` and the loader's message.
 * @module
 */
import type { WorkerBudget } from './budget.ts';
import type { Clock } from './clock.ts';
import { messageOf } from './errors.ts';
import type { FunctionEntry, PreparedFunction, SpawnedWorker, WorkerHost } from './host/types.ts';
import { type ResolvedOptions, resolveFunctionConfig } from './options.ts';
import type { ResolvedFunctionConfig } from './types.ts';
import type { InitReply } from './worker/protocol.ts';
import { LOAD_TIMEOUT_MS, WorkerHandle } from './worker-handle.ts';

export interface LoaderDeps {
  host: WorkerHost;
  budget: WorkerBudget;
  clock: Clock;
  nextWorkerId(): number;
  options: ResolvedOptions;
}

/** What a module exports: a default function (tasks), a `fetch` function (HTTP calls). */
export type ModuleExports = InitReply['exports'];

export type Loaded =
  | {
      ok: true;
      prepared: PreparedFunction;
      config: ResolvedFunctionConfig;
      exports: ModuleExports;
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
  let config: unknown;
  let exports: ModuleExports;
  try {
    ({ config, exports } = await probe(
      prepared,
      resolveFunctionConfig(undefined, deps.options),
      deps,
    ));
  } catch (error) {
    // The worker and the handle phrase their load failures for people already.
    return { ok: false, error: messageOf(error) };
  }
  try {
    return { ok: true, prepared, config: resolveFunctionConfig(config, deps.options), exports };
  } catch (error) {
    return { ok: false, error: `the module's config is invalid: ${messageOf(error)}` };
  }
};

/**
 * Start one worker to read the module's `config` export (and see what else it exports), then
 * stop it. Rejects with the loader's message.
 */
export const probe = async (
  prepared: PreparedFunction,
  config: ResolvedFunctionConfig,
  deps: LoaderDeps,
): Promise<{ config: unknown; exports: ModuleExports }> => {
  const id = deps.nextWorkerId();
  // The loader keeps probes within the budget. The room goes back once the probe has stopped,
  // and only if it was taken: a probe is not one of the pool's workers, so its death must
  // neither release room it never held nor start a replacement.
  const acquired = deps.budget.tryAcquire();
  const ignore = () => {};
  try {
    let worker: SpawnedWorker;
    try {
      worker = deps.host.spawn(prepared, { workerId: id, memoryLimitMb: config.memoryLimitMb });
    } catch (error) {
      throw new Error(`the module failed to load: ${messageOf(error)}`);
    }
    const handle = new WorkerHandle(
      id,
      worker,
      { outcome: ignore, unsendable: ignore, drained: ignore, timedOut: ignore, dead: ignore },
      deps.clock,
    );
    try {
      const found = await handle.start(config.concurrency, LOAD_TIMEOUT_MS);
      return { config: found, exports: handle.exports ?? { default: true, fetch: false } };
    } finally {
      await handle.stop('the worker that read the config was stopped');
    }
  } finally {
    if (acquired) deps.budget.release();
  }
};

/** Run `jobs` with at most `limit` at once. */
export const runLimited = async (
  jobs: Array<() => Promise<void>>,
  limit: number,
): Promise<void> => {
  const queue = [...jobs];
  const lanes = Array.from({ length: Math.max(1, limit) }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await job();
  });
  await Promise.all(lanes);
};
