import { describe, expect, it } from 'vitest';
import { MemoryTaskStore } from './store.ts';
import { Task } from './task.ts';

const finished = (store: MemoryTaskStore, id: string, at: number) => {
  const task = new Task(id, 'f', [], 1000, at);
  store.add(task);
  task.complete(undefined, at, {});
  store.settled(task);
  return task;
};

describe('MemoryTaskStore', () => {
  it('Should evict the oldest finished records beyond the count', () => {
    let now = 0;
    const store = new MemoryTaskStore({ ttlMs: 1e9, maxFinished: 2, now: () => now });
    const live = new Task('live', 'f', [], 1000, 0);
    store.add(live);
    for (const id of ['a', 'b', 'c']) finished(store, id, now++);
    expect(['a', 'b', 'c', 'live'].map((id) => store.has(id))).toEqual([false, true, true, true]);
  });

  it('Should expire finished records after the TTL, on read and on later settles', () => {
    let now = 0;
    const store = new MemoryTaskStore({ ttlMs: 100, maxFinished: 10, now: () => now });
    finished(store, 'a', 0);
    now = 99;
    expect(store.get('a')).toBeDefined();
    now = 100;
    expect(store.get('a')).toBeUndefined();
    finished(store, 'b', 100);
    now = 250;
    finished(store, 'c', 250);
    expect(store.size).toBe(1);
  });
});
