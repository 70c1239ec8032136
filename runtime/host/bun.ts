/**
 * The Bun host: Web Workers (TypeScript loads natively, spawn to first call is the fastest of
 * the three hosts). Bun has no sandbox and ignores memory limits; workers get an empty
 * environment unless the function's `config.permissions.env` names variables. Workers share the
 * server's process: see docs/security.md for what that leaves a function able to read.
 * @module
 */

import type { WorkerHost } from '../worker-host.ts';
import { nodeSample } from './node-pressure.ts';
import { envRefusal, grantedEnv } from './permissions.ts';
import { webHost } from './web.ts';

export interface BunHostOptions {
  /** How often idle workers are pinged; three missed pings retire one. @default 1000 */
  heartbeatMs?: number;
  /**
   * The variables a function's `config.permissions.env` picks from (as on Node).
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Variables never granted, even when a config names them: the function is refused. */
  reservedEnv?: readonly string[];
}

export const bunHost = ({
  heartbeatMs = 1000,
  env,
  reservedEnv,
}: BunHostOptions = {}): WorkerHost =>
  webHost({
    name: 'bun',
    heartbeatMs,
    sample: nodeSample,
    closeEvents: true,
    refuses: (_entry, permissions) => envRefusal(permissions.env, reservedEnv),
    workerOptions: (_prepared, { permissions }) => ({ env: grantedEnv(permissions?.env, env) }),
  });
