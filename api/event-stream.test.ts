import { describe, expect, it } from 'vitest';
import { MAX_PENDING_BYTES, MAX_PENDING_FRAMES, Reader } from './event-stream.ts';

describe('Reader', () => {
  it('Should drop the oldest frames past the frame bound and count them', async () => {
    const reader = new Reader(new Set(['task']), undefined);
    for (let i = 0; i < MAX_PENDING_FRAMES + 10; i++) reader.push(`f${i};`);
    expect(reader.pending).toBe(MAX_PENDING_FRAMES);
    expect(reader.dropped).toBe(10);
    const first = (await reader.next()) as string;
    expect(first.startsWith('f10;f11;')).toBe(true);
  });

  it('Should hold at most its byte bound, keeping the newest', () => {
    const reader = new Reader(new Set(['log']), undefined);
    const big = 'x'.repeat(100_000);
    for (let i = 0; i < 30; i++) reader.push(`${i}${big}`);
    expect(reader.pendingBytes).toBeLessThanOrEqual(MAX_PENDING_BYTES);
    expect(reader.pending).toBe(Math.floor(MAX_PENDING_BYTES / (big.length + 2)));
    expect(reader.dropped).toBe(30 - reader.pending);
  });

  it('Should give the frames waiting in one text, and end after the last once ended', async () => {
    const reader = new Reader(new Set(['task']), undefined);
    reader.push('a');
    reader.push('b');
    reader.end();
    reader.push('c');
    expect(await reader.next()).toBe('ab');
    expect(await reader.next()).toBeUndefined();
  });

  it('Should filter by type and function, and let stats through a function filter', () => {
    const reader = new Reader(new Set(['task', 'stats']), 'fib');
    expect(reader.wants({ type: 'task', fn: 'fib', text: '' })).toBe(true);
    expect(reader.wants({ type: 'task', fn: 'other', text: '' })).toBe(false);
    expect(reader.wants({ type: 'log', fn: 'fib', text: '' })).toBe(false);
    expect(reader.wants({ type: 'stats', fn: undefined, text: '' })).toBe(true);
  });
});
