/** The runtime core on the Node host over a folder of functions, in this process. */
import { folderSource } from '../../runtime/host/fs-source.ts';
import { nodeHost } from '../../runtime/host/node.ts';
import { createRuntime, type RuntimeOptions } from '../../runtime/index.ts';

/** No warm workers and no log lines, unless `options` say otherwise. */
export const startNodeRuntime = (folder: string, options: Partial<RuntimeOptions> = {}) =>
  createRuntime({
    source: folderSource(folder),
    host: nodeHost(),
    minWorkers: 0,
    log: () => {},
    ...options,
  });
