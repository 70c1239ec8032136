/** The runtime core on the Node host over the functions in `fixtures/core/`, in this process. */
import { folderSource } from '../../runtime/host/fs-source.ts';
import { nodeHost } from '../../runtime/host/node.ts';
import { createRuntime, type RuntimeOptions } from '../../runtime/index.ts';
import { CORE_FUNCTIONS } from './functions.ts';

/** One warm worker per function and no log lines, unless `options` say otherwise. */
export const startCore = (options: Partial<RuntimeOptions> = {}) =>
  createRuntime({
    source: folderSource(CORE_FUNCTIONS),
    host: nodeHost(),
    minWorkers: 1,
    log: () => {},
    ...options,
  });
