/**
 * Which host this process runs on, and its worker adapter. The adapters are imported on demand,
 * so Deno and Bun never load the Node host's bundler.
 * @module
 */
import type { WorkerHost } from '../worker-host.ts';

export type HostName = 'node' | 'deno' | 'bun' | 'workerd' | 'unknown';

export const detectHost = (): HostName => {
  const global = globalThis as Record<string, unknown>;
  if (typeof global.Bun !== 'undefined') return 'bun';
  if (typeof global.Deno !== 'undefined') return 'deno';
  if (
    (global.navigator as { userAgent?: string } | undefined)?.userAgent === 'Cloudflare-Workers'
  ) {
    return 'workerd';
  }
  const versions = (global.process as { versions?: { node?: string } } | undefined)?.versions;
  return versions?.node ? 'node' : 'unknown';
};

/** Options of `defaultHost`; each applies where its host is the one chosen. */
export interface DefaultHostOptions {
  /** The host to use. @default the one this process runs on (`detectHost()`) */
  host?: HostName;
  /**
   * Node: the folder that keeps function bundles between starts, or `false` to bundle on every
   * start. @default a folder of this user's under the OS temp dir
   */
  bundleCache?: string | false;
  /** Deno and Bun: how often idle workers are pinged; three missed pings retire one. @default 1000 */
  heartbeatMs?: number;
}

/**
 * The worker host for this process (Node: worker_threads; Deno, Bun: Web Workers).
 * @example
 * const host = await defaultHost(); // or defaultHost({ bundleCache: false })
 */
export const defaultHost = async (
  options: DefaultHostOptions | HostName = {},
): Promise<WorkerHost> => {
  const {
    host: name = detectHost(),
    bundleCache,
    heartbeatMs,
  } = typeof options === 'string' ? { host: options } : options;
  switch (name) {
    case 'deno':
      return (await import('./deno.ts')).denoHost({ heartbeatMs });
    case 'bun':
      return (await import('./bun.ts')).bunHost({ heartbeatMs });
    case 'node':
      return (await import('./node.ts')).nodeHost({ bundleCache });
    default:
      throw new Error(`ebbflow has no worker host for this runtime (${name})`);
  }
};
