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

/** The worker host for this process (Node: worker_threads; Deno, Bun: Web Workers). */
export const defaultHost = async (name: HostName = detectHost()): Promise<WorkerHost> => {
  switch (name) {
    case 'deno':
      return (await import('./deno.ts')).denoHost();
    case 'bun':
      return (await import('./bun.ts')).bunHost();
    case 'node':
      return (await import('./node.ts')).nodeHost();
    default:
      throw new Error(`ebbflow has no worker host for this runtime (${name})`);
  }
};
