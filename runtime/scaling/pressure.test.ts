import { describe, expect, it } from 'vitest';
import { nodeHost } from '../host/node.ts';
import type { WorkerHost } from '../worker-host.ts';
import { hardwareConcurrency, LagProbe, memoryUse, PressureGauge } from './pressure.ts';

const block = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
};

describe('pressure signals', () => {
  it('Should measure memory against the smaller of the limit and what is free', () => {
    expect(memoryUse({ memoryBytes: 100, memoryLimitBytes: 1000, systemFreeBytes: 10_000 })).toBe(
      0.1,
    );
    // The machine has 100 bytes left: holding 100 is half of what the process can get.
    expect(memoryUse({ memoryBytes: 100, memoryLimitBytes: 1000, systemFreeBytes: 100 })).toBe(0.5);
    expect(memoryUse({ memoryBytes: 100 })).toBeUndefined();
    expect(memoryUse(undefined)).toBeUndefined();
  });

  it('Should take the cores from navigator where there is one, else from the host', () => {
    const host = { hardwareConcurrency: () => 3 } as WorkerHost;
    const fromNavigator = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
      ?.hardwareConcurrency;
    expect(hardwareConcurrency(host)).toBe(fromNavigator ?? 3);
  });

  it('Should see a blocked event loop as lag, and let it decay', async () => {
    const probe = new LagProbe();
    probe.start();
    await new Promise((resolve) => setTimeout(resolve, 150));
    block(400);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const lagged = probe.lagMs;
    expect(lagged).toBeGreaterThan(50);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(probe.lagMs).toBeLessThan(lagged);
    probe.stop();
  });

  it('Should read CPU, memory and event-loop utilization on Node', async () => {
    const gauge = new PressureGauge(nodeHost());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const base = gauge.snapshot();
    block(200);
    const r = gauge.since(base);
    expect(r.cpu).toBeGreaterThan(0);
    expect(r.cpu).toBeLessThanOrEqual(1);
    expect(r.memory).toBeGreaterThan(0);
    expect(r.memory).toBeLessThanOrEqual(1);
    // The loop was busy for the whole window.
    expect(r.elu).toBeGreaterThan(0.5);
  });
});
