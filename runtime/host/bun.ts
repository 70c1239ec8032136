/**
 * The Bun host: Web Workers (TypeScript loads natively, spawn to first call is the fastest of
 * the three hosts). Bun has no sandbox and ignores memory limits; workers get an empty
 * environment unless the function's `config.permissions.env` names variables.
 * @module
 */
import { nodeSample } from './node-pressure.ts';
import { grantedEnv } from './permissions.ts';
import type { WorkerHost } from './types.ts';
import { webHost } from './web.ts';

export const bunHost = (): WorkerHost =>
  webHost({
    name: 'bun',
    heartbeatMs: 1000,
    sample: nodeSample,
    closeEvents: true,
    workerOptions: (_prepared, { permissions }) => ({ env: grantedEnv(permissions?.env) }),
  });
