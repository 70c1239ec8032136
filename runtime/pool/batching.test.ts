import { describe, expect, it } from 'vitest';
import { batchLimit, inflightWindow, nextRecentTaskMs } from './batching.ts';

describe('batch sizing', () => {
  it('Should send one task per concurrency slot until run times are known, and for long tasks', () => {
    expect(batchLimit(undefined, 1, 128)).toBe(1);
    expect(batchLimit(5, 1, 128)).toBe(1);
    expect(batchLimit(1, 4, 128)).toBe(4);
  });

  it('Should batch about 1 ms of short work, capped by half the slots', () => {
    expect(batchLimit(0.1, 1, 128)).toBe(10);
    expect(batchLimit(0.001, 1, 128)).toBe(64);
    expect(batchLimit(0.5, 8, 128)).toBe(8);
  });

  it('Should keep two batches in flight only when batching', () => {
    expect(inflightWindow(10, 1, 128)).toBe(20);
    expect(inflightWindow(64, 1, 128)).toBe(128);
    expect(inflightWindow(4, 4, 128)).toBe(4);
  });

  it('Should follow run times with a moving average', () => {
    expect(nextRecentTaskMs(undefined, 2)).toBe(2);
    expect(nextRecentTaskMs(2, 12)).toBeCloseTo(3);
  });
});
