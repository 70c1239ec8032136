import { describe, expect, it } from 'vitest';
import type { PoolStats, TaskRecord } from '../runtime/types.ts';
import { until } from '../test/support/wait.ts';
import { type EdgeEvent, EdgeEvents } from './events.ts';
import type { FeedLine } from './task-feed.ts';

/** A shard's feed the test writes to, and whether its reader cancelled it. */
const feed = () => {
  let push!: (line: FeedLine) => void;
  const state = { cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const encoder = new TextEncoder();
      push = (line) => {
        // Split in two chunks, so lines are put together across reads.
        const bytes = encoder.encode(`${JSON.stringify(line)}\n`);
        controller.enqueue(bytes.slice(0, 5));
        controller.enqueue(bytes.slice(5));
      };
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, push: (line: FeedLine) => push(line), state };
};

const task = (id: string, status: TaskRecord['status']): FeedLine => ({
  type: 'task',
  record: { id, function: 'echo', status, submittedAt: 1 },
});

describe('edge events', () => {
  it('Should tell task changes and printed lines of every shard as they come, and stats', async () => {
    const shards = [feed(), feed()];
    const events = new EdgeEvents({
      feeds: () => shards.map((s) => Promise.resolve(s.stream)),
      stats: async () => ({ activeWorkers: 0 }) as PoolStats,
    });
    const seen: EdgeEvent[] = [];
    const stop = events.subscribe((event) => seen.push(event));
    shards[0]?.push(task('a', 'running'));
    // A line printed by a running task arrives before the task ends.
    shards[1]?.push({
      type: 'log',
      taskId: 'b',
      function: 'echo',
      at: 5,
      level: 'log',
      message: 'hello',
    });
    await until(() => seen.some((e) => e.type === 'log'));
    expect(seen.filter((e) => e.type === 'task').map((e) => (e.data as TaskRecord).id)).toEqual([
      'a',
    ]);
    expect(seen.find((e) => e.type === 'log')?.data).toEqual({
      taskId: 'b',
      function: 'echo',
      at: 5,
      level: 'log',
      message: 'hello',
    });
    await until(() => seen.some((e) => e.type === 'stats'), 10_000);
    stop();
    // The subscriber is gone: its feeds are let go.
    await until(() => shards.every((s) => s.state.cancelled));
  });

  it('Should give each subscriber feeds of its own, so one leaving never silences another', async () => {
    const opened: ReturnType<typeof feed>[] = [];
    const events = new EdgeEvents({
      feeds: () => {
        const shard = feed();
        opened.push(shard);
        return [Promise.resolve(shard.stream)];
      },
      stats: async () => ({}) as PoolStats,
    });
    const first: string[] = [];
    const second: string[] = [];
    const stopFailing = events.subscribe(() => {
      throw new Error('a listener that fails');
    });
    const stopFirst = events.subscribe((e) => e.type === 'task' && first.push(e.data.id));
    const stopSecond = events.subscribe((e) => e.type === 'task' && second.push(e.data.id));
    expect(opened).toHaveLength(3);
    for (const shard of opened) shard.push(task('x', 'queued'));
    await until(() => first.length === 1 && second.length === 1);
    stopFailing();
    stopFirst();
    await until(
      () => (opened[0]?.state.cancelled ?? false) && (opened[1]?.state.cancelled ?? false),
    );
    expect(opened[2]?.state.cancelled).toBe(false);
    opened[2]?.push(task('y', 'running'));
    await until(() => second.length === 2);
    expect(first).toEqual(['x']);
    stopSecond();
    await until(() => opened[2]?.state.cancelled ?? false);
  });
});
