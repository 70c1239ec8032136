/**
 * What Node tells about the process's use of the machine, for the scaler: CPU time of all
 * threads, resident memory against a cgroup limit or the machine's RAM, and free memory.
 * @module
 */
import { freemem, totalmem } from 'node:os';
import type { HostSample } from '../worker-host.ts';

/** `process.constrainedMemory()` says 2^64 (or 0) when no container limit is set. */
const NO_LIMIT = 2 ** 60;

export const nodeSample = (): HostSample => {
  const { user, system } = process.cpuUsage();
  const total = totalmem();
  const constrained = process.constrainedMemory?.() ?? 0;
  return {
    cpuTimeMs: (user + system) / 1000,
    memoryBytes: process.memoryUsage.rss(),
    memoryLimitBytes:
      constrained > 0 && constrained < NO_LIMIT ? Math.min(constrained, total) : total,
    systemFreeBytes: freemem(),
  };
};
