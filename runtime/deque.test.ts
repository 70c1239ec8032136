import { describe, expect, it } from 'vitest';
import { Deque } from './deque.ts';

describe('Deque', () => {
  it('Should keep FIFO order across growth and wrap-around', () => {
    const q = new Deque<number>(2);
    for (let i = 0; i < 5; i++) q.push(i);
    expect(q.shift()).toBe(0);
    q.push(5);
    q.unshift(-1);
    expect([...q]).toEqual([-1, 1, 2, 3, 4, 5]);
    expect(q.length).toBe(6);
    const drained: number[] = [];
    for (let x = q.shift(); x !== undefined; x = q.shift()) drained.push(x);
    expect(drained).toEqual([-1, 1, 2, 3, 4, 5]);
    expect(q.peek()).toBeUndefined();
  });
});
