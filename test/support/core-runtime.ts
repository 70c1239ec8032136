/** The runtime core on the Node host over the functions in `fixtures/core/`, in this process. */
import type { RuntimeOptions } from '../../runtime/index.ts';
import { CORE_FUNCTIONS } from './functions.ts';
import { startNodeRuntime } from './node-runtime.ts';

/** One warm worker per function and no log lines, unless `options` say otherwise. */
export const startCore = (options: Partial<RuntimeOptions> = {}) =>
  startNodeRuntime(CORE_FUNCTIONS, { minWorkers: 1, ...options });
