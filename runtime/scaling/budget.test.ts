/**
 * Room under the worker ceiling as leases: taken up to the ceiling and no further, given back
 * once however often a lease is released, and handed to those who wait in the order they asked.
 */
import { describe, expect, it } from 'vitest';
import type { Lease } from '../pool/lease.ts';
import { WorkerBudget } from './budget.ts';

const take = (budget: WorkerBudget, count: number): Lease[] =>
  Array.from({ length: count }, () => budget.tryAcquire()).filter((l) => l !== undefined);

describe('the worker budget and its leases', () => {
  it('Should lease up to the ceiling and no further', () => {
    const budget = new WorkerBudget(2);
    const leases = take(budget, 3);
    expect(leases).toHaveLength(2);
    expect(leases.every((lease) => lease.held)).toBe(true);
    expect([budget.used, budget.available]).toEqual([2, 0]);
    expect(budget.tryAcquire()).toBeUndefined();
  });

  it('Should give the room back once, and ignore a second release of the same lease', () => {
    const budget = new WorkerBudget(2);
    const [first, second] = take(budget, 2) as [Lease, Lease];
    first.release();
    expect(first.held).toBe(false);
    expect(budget.used).toBe(1);
    first.release();
    expect(budget.used).toBe(1);
    // The other lease still holds its room: the ceiling is reached again with one more.
    expect(second.held).toBe(true);
    expect(take(budget, 2)).toHaveLength(1);
    expect(budget.used).toBe(2);
  });

  it('Should hand room given back to those who wait, one each, in the order they asked', () => {
    const budget = new WorkerBudget(1);
    const [only] = take(budget, 1) as [Lease];
    const served: string[] = [];
    const kept: Lease[] = [];
    for (const name of ['a', 'b', 'c']) {
      budget.whenRoom((lease) => {
        served.push(name);
        kept.push(lease);
      });
    }
    expect(served).toEqual([]);
    only.release();
    // The room went straight to a: never free in between, never past the ceiling.
    expect(served).toEqual(['a']);
    expect(budget.used).toBe(1);
    only.release();
    expect(served).toEqual(['a']);
    kept[0]?.release();
    expect(served).toEqual(['a', 'b']);
    kept[1]?.release();
    kept[1]?.release();
    expect(served).toEqual(['a', 'b', 'c']);
    kept[2]?.release();
    expect([budget.used, budget.available]).toEqual([0, 1]);
  });

  it('Should pass room a waiter declines on to the next in line', () => {
    const budget = new WorkerBudget(1);
    const [only] = take(budget, 1) as [Lease];
    const served: string[] = [];
    let kept: Lease | undefined;
    budget.whenRoom((lease) => {
      served.push('declines');
      lease.release();
    });
    budget.whenRoom((lease) => {
      served.push('keeps');
      kept = lease;
    });
    only.release();
    expect(served).toEqual(['declines', 'keeps']);
    expect(kept?.held).toBe(true);
    expect(budget.used).toBe(1);
  });
});
