/**
 * Waits `ms` on the one worker a server may run it on, sixteen at a time: a server's throughput
 * of it is capped at 16000 / ms per second whatever its CPU, so servers added on the same few
 * cores each bring that much more capacity (the cluster case's scaling run). The wait is long
 * next to a round trip to Redis on a loaded machine, so the cap, not the trip, bounds a server.
 */
export const config = { maxQueue: 100_000, minWorkers: 1, maxWorkers: 1, concurrency: 16 };

export default async (ms: number): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
};
