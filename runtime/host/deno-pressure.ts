/**
 * What Deno tells about the process for the scaler: CPU time through node:process, resident
 * memory from `Deno.memoryUsage()`, and the machine's memory from `Deno.systemMemoryInfo()`,
 * which needs `--allow-sys=systemMemoryInfo` (without it the memory fields stay unset).
 * @module
 */
import { cpuUsage } from 'node:process';
import type { HostSample } from '../worker-host.ts';

interface DenoMemory {
  memoryUsage(): { rss: number };
  systemMemoryInfo(): { total: number; available: number };
}

export const denoSample = (): HostSample => {
  const deno = (globalThis as unknown as { Deno: DenoMemory }).Deno;
  const { user, system } = cpuUsage();
  const sample: HostSample = {
    cpuTimeMs: (user + system) / 1000,
    memoryBytes: deno.memoryUsage().rss,
  };
  try {
    const info = deno.systemMemoryInfo();
    sample.memoryLimitBytes = info.total;
    sample.systemFreeBytes = info.available;
  } catch {
    // NotCapable: started without --allow-sys=systemMemoryInfo.
  }
  return sample;
};
