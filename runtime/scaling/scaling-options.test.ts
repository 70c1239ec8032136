import { describe, expect, it } from 'vitest';
import { nodeHost } from '../host/node.ts';
import { DEFAULTS, type RuntimeOptions, resolveOptions } from '../options.ts';

const base: RuntimeOptions = {
  source: { list: async () => ({ entries: [], warnings: [] }) },
  host: nodeHost(),
};

describe('scaling options', () => {
  it('Should default to the documented values', () => {
    const o = resolveOptions(base);
    expect(o).toMatchObject({
      scaleUpThreshold: 0.8,
      scaleDownThreshold: 0.3,
      scaleUpStep: 2,
      scaleDownStep: 1,
      scaleDownDelayMs: 10_000,
      monitorIntervalMs: 10_000,
      reactIntervalMs: 250,
      maxEventLoopLagMs: 200,
      maxEventLoopUtilization: 0.9,
      maxMemoryUsage: 0.85,
      shrinkMemoryUsage: 0.95,
      maxCpuUsage: 0.9,
      cpuBoundUtilization: 0.5,
      scalingEventsKept: 100,
    });
    expect(DEFAULTS.scaleUpStep).toBe(2);
  });

  it.each([
    ['scaleUpStep', 0, 'option scaleUpStep must be an integer >= 1, got 0'],
    ['scaleDownDelayMs', -1, 'option scaleDownDelayMs must be an integer >= 0, got -1'],
    [
      'reactIntervalMs',
      1.5,
      'option reactIntervalMs must be an integer from 1 to 2147483647, got 1.5',
    ],
    [
      'maxMemoryUsage',
      1.5,
      'option maxMemoryUsage must be a number above 0 and at most 1, got 1.5',
    ],
    [
      'cpuBoundUtilization',
      0,
      'option cpuBoundUtilization must be a number above 0 and at most 1, got 0',
    ],
    ['maxEventLoopLagMs', '9', 'option maxEventLoopLagMs must be an integer >= 1, got "9"'],
  ])('Should refuse %s = %s, naming the option and value', (name, value, message) => {
    expect(() => resolveOptions({ ...base, [name]: value })).toThrow(message);
  });

  it('Should refuse a shrink level below the hold level', () => {
    expect(() => resolveOptions({ ...base, maxMemoryUsage: 0.9, shrinkMemoryUsage: 0.8 })).toThrow(
      'option shrinkMemoryUsage must be at least maxMemoryUsage (0.9), got 0.8',
    );
  });
});
