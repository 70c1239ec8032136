import { describe, expect, it } from 'vitest';
import { until } from '../../test/support/wait.ts';
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
    expect(probe.lagMs).toBe(0);
    // Its first tick is due in 100 ms: held past that, it comes about 300 ms late.
    block(400);
    await until(() => probe.lagMs > 50, 5_000);
    const lagged = probe.lagMs;
    // Each later tick on time weighs the lateness down.
    await until(() => probe.lagMs < lagged / 2, 5_000);
    probe.stop();
  });

  it('Should read CPU, memory and event-loop utilization on Node', async () => {
    const gauge = new PressureGauge(nodeHost());
    // The loop's utilization is real once it has run (a stub would answer zeros for ever).
    await until(() => gauge.snapshot().elu !== undefined, 5_000);
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
