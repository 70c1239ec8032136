/**
 * The task backend the settings ask for: with `EBBFLOW_REDIS_URL`, that Redis, shared with every
 * server started with the same URL (docs/cluster.md); without it, none (the runtime keeps tasks
 * in memory). The Redis adapter is imported only then, so a server alone loads nothing of
 * ioredis.
 * @module
 */
import { detectHost } from '../runtime/host/detect.ts';
import { DEFAULTS } from '../runtime/index.ts';
import type { Cluster } from './launch.ts';
import type { Settings } from './settings.ts';

/** Connect to the shared Redis; throws an error naming the URL when it cannot be reached. */
export const clusterBackend = async (
  settings: Settings,
  log: (message: string) => void,
): Promise<Cluster | undefined> => {
  if (settings.redisUrl === undefined) return undefined;
  const { createRedisBackend } = await import('../runtime/backend/redis/index.ts');
  const backend = await createRedisBackend({
    url: settings.redisUrl,
    resultTtlMs: settings.resultTtlMs ?? DEFAULTS.resultTtlMs,
    maxResults: settings.maxResults ?? DEFAULTS.maxResults,
    lostAfterMs: settings.clusterLostAfterMs,
    timeoutMs: settings.redisTimeoutMs,
    describe: {
      runtime: detectHost(),
      pid: (globalThis as { process?: { pid?: number } }).process?.pid,
    },
    log,
  });
  return {
    backend,
    stats: () => backend.cluster.stats(),
    reportedHere: (id) => backend.reportedHere(id),
    leave: () => backend.leave(),
    close: () => backend.close(),
  };
};
