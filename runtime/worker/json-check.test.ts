import { describe, expect, it } from 'vitest';
import { jsonProblem } from './json-check.ts';

describe('jsonProblem', () => {
  it('Should accept JSON values', () => {
    for (const value of [
      null,
      1,
      'x',
      true,
      [],
      {},
      { a: [1, { b: null }] },
      Object.create(null),
    ]) {
      expect(jsonProblem(value)).toBeUndefined();
    }
  });

  it('Should name the first part that is not JSON', () => {
    expect(jsonProblem({ a: [1, () => 1] })).toBe(
      'value.a[1] is a function, which JSON cannot represent',
    );
    expect(jsonProblem(Number.NaN)).toBe('value is NaN, which JSON cannot represent');
    expect(jsonProblem([undefined])).toBe('value[0] is undefined, which JSON cannot represent');
    expect(jsonProblem(new Date(0))).toBe('value is a Date, not a plain object or array');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(jsonProblem(cycle)).toBe('value.self refers back to itself (a cycle)');
  });

  it('Should allow the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(jsonProblem({ a: shared, b: shared })).toBeUndefined();
  });
});
