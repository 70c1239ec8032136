/** The folders of fixture functions the suites load, as absolute paths. */
import { fileURLToPath } from 'node:url';

/** Functions for the runtime core's tests: good, faulty and broken modules. */
export const CORE_FUNCTIONS = fileURLToPath(new URL('../fixtures/core/', import.meta.url));

/** Functions for the reliability suites: faults, naps, races and modules that leak timers. */
export const RELIABILITY_FUNCTIONS = fileURLToPath(
  new URL('../fixtures/reliability/', import.meta.url),
);

/** A server's settings for the reliability functions: a warm worker each, `maxWorkers` in all. */
export const reliabilityEnv = (maxWorkers: number, env: Record<string, string> = {}) => ({
  EBBFLOW_FUNCTIONS: RELIABILITY_FUNCTIONS,
  EBBFLOW_MIN_WORKERS: '1',
  EBBFLOW_MAX_WORKERS: String(maxWorkers),
  ...env,
});

/** Functions for the cluster suite: `work` (ok, throw, nap) and `hold` (sleeps). */
export const CLUSTER_FUNCTIONS = fileURLToPath(new URL('../fixtures/cluster/', import.meta.url));

/** Functions for the storage suites: `hold` (two at a time, the rest queued), `echo`, `burst`. */
export const STORAGE_FUNCTIONS = fileURLToPath(new URL('../fixtures/storage/', import.meta.url));
