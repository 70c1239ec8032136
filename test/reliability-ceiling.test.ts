/**
 * The worker ceiling holds when the functions' minimums together pass it: the probes that read
 * each module's config at start must give back exactly the room they took (a probe that found
 * the budget full used to give back room it never held, so pools later grew past the ceiling).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../runtime/index.ts';
import { RELIABILITY_FUNCTIONS } from './support/functions.ts';
import { startNodeRuntime } from './support/node-runtime.ts';

describe('the worker ceiling under more minimums than it allows', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await startNodeRuntime(RELIABILITY_FUNCTIONS, { minWorkers: 1, maxWorkers: 3 });
  }, 60_000);
  afterAll(async () => {
    await runtime?.close({ drainTimeoutMs: 0 });
  });

  it('Should never count more live workers than maxWorkers, at start or under work for every function', async () => {
    const peaks: number[] = [runtime.stats().activeWorkers];
    const ready = runtime.functions().filter((f) => f.status === 'ready');
    expect(ready.length).toBeGreaterThan(3);
    const sampler = setInterval(() => peaks.push(runtime.stats().activeWorkers), 5);
    try {
      const args: Record<string, unknown[]> = {
        echo: [1],
        fault: ['ok', 1],
        'leaks-timers': [1],
        nap: [50],
        pause: [50],
      };
      const records = await Promise.all(
        ready.flatMap((f) =>
          Array.from({ length: 4 }, () => runtime.call(f.name, args[f.name] ?? [])),
        ),
      );
      expect(records.map((r) => r.status)).toEqual(records.map(() => 'completed'));
    } finally {
      clearInterval(sampler);
    }
    peaks.push(runtime.stats().activeWorkers);
    expect(Math.max(...peaks)).toBeLessThanOrEqual(3);
  }, 60_000);
});
