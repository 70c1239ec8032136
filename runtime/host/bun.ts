/**
 * The Bun host: Web Workers (TypeScript loads natively, spawn to first call is the fastest of
 * the three hosts). Bun has no sandbox and ignores memory limits; workers get an empty
 * environment unless the function's `config.permissions.env` names variables.
 * @module
 */

import type { WorkerHost } from '../worker-host.ts';
import { nodeSample } from './node-pressure.ts';
import { grantedEnv } from './permissions.ts';
import { webHost } from './web.ts';

export interface BunHostOptions {
  /** How often idle workers are pinged; three missed pings retire one. @default 1000 */
  heartbeatMs?: number;
}

export const bunHost = ({ heartbeatMs = 1000 }: BunHostOptions = {}): WorkerHost =>
  webHost({
    name: 'bun',
    heartbeatMs,
    sample: nodeSample,
    closeEvents: true,
    workerOptions: (_prepared, { permissions }) => ({ env: grantedEnv(permissions?.env) }),
  });
