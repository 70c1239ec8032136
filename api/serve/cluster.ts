/**
 * The task backend the settings ask for: with `EBBFLOW_REDIS_URL`, BullMQ on that Redis, shared
 * with every server started with the same URL (docs/cluster.md); without it, none (the runtime
 * keeps tasks in memory). The Redis adapter is imported only then, so a server alone loads
 * nothing of bullmq or ioredis.
 * @module
 */
import { type ClusterStats, DEFAULTS, type TaskBackend } from '../../runtime/index.ts';
import type { Settings } from '../settings.ts';

export interface Cluster {
  backend: TaskBackend;
  /** Totals over every server, for `/stats` and `/metrics`. */
  stats(): ClusterStats;
}

/** Connect to the shared Redis; throws an error naming the URL when it cannot be reached. */
export const clusterBackend = async (
  settings: Settings,
  describe: Record<string, unknown>,
  log: (message: string) => void,
): Promise<Cluster | undefined> => {
  if (settings.redisUrl === undefined) return undefined;
  const { createRedisBackend } = await import('../../runtime/host/redis/index.ts');
  const backend = await createRedisBackend({
    url: settings.redisUrl,
    resultTtlMs: settings.resultTtlMs ?? DEFAULTS.resultTtlMs,
    maxResults: settings.maxResults ?? DEFAULTS.maxResults,
    lostAfterMs: settings.clusterLostAfterMs,
    describe,
    log,
  });
  return { backend, stats: () => backend.cluster.stats() };
};
