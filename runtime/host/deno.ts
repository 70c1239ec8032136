/**
 * The Deno host: Web Workers in a sandbox. Each function's workers may read only their own
 * folder; net, env, write, run, sys and ffi stay denied unless the function's
 * `config.permissions` grants them (within the server's own permissions, and never the server's
 * own variables, state or code: `protections`). Needs
 * `"unstable": ["worker-options"]` in deno.json. Deno reports no worker exit, so idle workers
 * are pinged.
 * @module
 */
import type { FunctionPermissions } from '../types.ts';
import type { WorkerHost } from '../worker-host.ts';
import { denoSample } from './deno-pressure.ts';
import { type DenoProtections, denoPermissions, denoRefusal } from './permissions.ts';
import { webHost } from './web.ts';

export type { DenoProtections };

export interface DenoHostOptions {
  /** How often idle workers are pinged; three missed pings retire one. @default 1000 */
  heartbeatMs?: number;
  /**
   * What to tell when a function's `config.permissions` asks for more than the process holds
   * (Deno then refuses the worker): e.g. the command that starts the server with those grants.
   */
  refusalHint?(permissions: FunctionPermissions): string;
  /**
   * What no function's grants may reach (the server's variables, state, code and task store):
   * a function whose config asks for it is refused.
   */
  protections?: DenoProtections;
}

export const denoHost = ({
  heartbeatMs = 1000,
  refusalHint,
  protections,
}: DenoHostOptions = {}): WorkerHost =>
  webHost({
    name: 'deno',
    heartbeatMs,
    refuses: (entry, permissions) => denoRefusal(entry.home ?? entry.url, permissions, protections),
    refused: (error, { permissions }) =>
      refusalHint && permissions && error.name === 'NotCapable'
        ? new Error(
            `${error.message}: config.permissions asks for more than this server holds; ${refusalHint(permissions)}`,
          )
        : error,
    sample: denoSample,
    closeEvents: false,
    workerOptions: (prepared, { permissions }) => ({
      deno: {
        permissions: denoPermissions(prepared.entry.home ?? prepared.entry.url, permissions),
      },
    }),
  });
