import { describe, expect, it } from 'vitest';
import { resolveFunctionConfig, resolveOptions } from './options.ts';
import type { FunctionSource, WorkerHost } from './worker-host.ts';

const base = { source: {} as FunctionSource, host: {} as WorkerHost };

describe('resolveOptions', () => {
  it("Should apply the seed's defaults", () => {
    expect(resolveOptions(base)).toMatchObject({
      minWorkers: 2,
      maxWorkers: 20,
      scaleUpThreshold: 0.8,
      scaleDownThreshold: 0.3,
      monitorIntervalMs: 10_000,
    });
  });

  it('Should name the option and the bad value', () => {
    expect(() => resolveOptions({ ...base, maxWorkers: 0 })).toThrow(
      'option maxWorkers must be an integer >= 1, got 0',
    );
    expect(() => resolveOptions({ ...base, minWorkers: 1.5 })).toThrow(
      'option minWorkers must be an integer >= 0, got 1.5',
    );
    // Times above the longest timer are refused (a longer timer would fire at once).
    expect(() => resolveOptions({ ...base, resultTtlMs: 2 ** 31 })).toThrow(
      'option resultTtlMs must be an integer from 0 to 2147483647, got 2147483648',
    );
    expect(() => resolveOptions({ ...base, drainTimeoutMs: 2 ** 31 })).toThrow('drainTimeoutMs');
    expect(() => resolveOptions({ ...base, scaleDownThreshold: 0.9 })).toThrow(
      'option scaleDownThreshold must be below scaleUpThreshold (0.8), got 0.9',
    );
  });
});

describe('resolveFunctionConfig', () => {
  const o = resolveOptions({ ...base, maxWorkers: 8 });

  it('Should let a function lower, never raise, its share of the ceiling', () => {
    expect(resolveFunctionConfig({ maxWorkers: 50 }, o).maxWorkers).toBe(8);
    expect(resolveFunctionConfig({ maxWorkers: 3, minWorkers: 0 }, o)).toMatchObject({
      maxWorkers: 3,
      minWorkers: 0,
    });
    expect(resolveFunctionConfig({ maxWorkers: 1 }, o).minWorkers).toBe(1);
  });

  it('Should refuse bad fields by name', () => {
    expect(() => resolveFunctionConfig({ concurrency: 0 }, o)).toThrow('config.concurrency');
    expect(() => resolveFunctionConfig({ timeoutMs: '5' }, o)).toThrow(
      'option config.timeoutMs must be an integer from 1 to 2147483647, got "5"',
    );
    expect(() => resolveFunctionConfig({ minWorkers: 3, maxWorkers: 2 }, o)).toThrow(
      'config.minWorkers',
    );
    expect(() => resolveFunctionConfig(7, o)).toThrow('option config must be an object, got 7');
  });

  it('Should take a retry policy, with no retry and a 1 s backoff by default', () => {
    expect(resolveFunctionConfig({}, o).retry).toEqual({ attempts: 1, backoffMs: 1000 });
    expect(resolveFunctionConfig({ retry: { attempts: 3 } }, o).retry).toEqual({
      attempts: 3,
      backoffMs: 1000,
    });
    expect(resolveFunctionConfig({ retry: { attempts: 10, backoffMs: 0 } }, o).retry).toEqual({
      attempts: 10,
      backoffMs: 0,
    });
  });

  it('Should refuse a bad retry policy, naming the field and the value', () => {
    const bad: Array<[unknown, string]> = [
      [3, 'option config.retry must be an object like { "attempts": 3, "backoffMs": 1000 }, got 3'],
      [{ attempts: 11 }, 'option config.retry.attempts must be an integer from 1 to 10, got 11'],
      [{ attempts: 0 }, 'config.retry.attempts must be an integer from 1 to 10, got 0'],
      [{}, 'config.retry.attempts must be an integer from 1 to 10, got nothing'],
      [
        { attempts: 2, backoffMs: -1 },
        'config.retry.backoffMs must be an integer from 0 to 2147483647, got -1',
      ],
      [{ attempts: 2, backoffMs: 2 ** 31 }, 'got 2147483648'],
      [{ attempts: 2, backoffMs: '5' }, 'got "5"'],
      [
        { attempts: 2, tries: 3 },
        'config.retry has an unknown field "tries"; allowed: attempts, backoffMs',
      ],
    ];
    for (const [retry, message] of bad) {
      expect(() => resolveFunctionConfig({ retry }, o)).toThrow(message);
    }
  });
});
