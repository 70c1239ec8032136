import { describe, expect, it } from 'vitest';
import type { PoolStats, TaskRecord } from '../runtime/types.ts';
import { until } from '../test/support/wait.ts';
import { type EdgeEvent, EdgeEvents } from './events.ts';

/** A shard's feed the test writes to, and whether its reader cancelled it. */
const feed = () => {
  let push!: (record: TaskRecord) => void;
  const state = { cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const encoder = new TextEncoder();
      push = (record) => {
        // Split in two chunks, so lines are put together across reads.
        const bytes = encoder.encode(`${JSON.stringify(record)}\n`);
        controller.enqueue(bytes.slice(0, 5));
        controller.enqueue(bytes.slice(5));
      };
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, push: (record: TaskRecord) => push(record), state };
};

const record = (id: string, status: TaskRecord['status'], extra = {}): TaskRecord => ({
  id,
  function: 'echo',
  status,
  submittedAt: 1,
  ...extra,
});

describe('edge events', () => {
  it('Should tell task changes of every shard, the lines of ended tasks, and stats', async () => {
    const shards = [feed(), feed()];
    const events = new EdgeEvents({
      feeds: () => shards.map((s) => Promise.resolve(s.stream)),
      stats: async () => ({ activeWorkers: 0 }) as PoolStats,
    });
    const seen: EdgeEvent[] = [];
    const stop = events.subscribe((event) => seen.push(event));
    shards[0]?.push(record('a', 'running'));
    const logs = [{ at: 5, level: 'log' as const, message: 'hello' }];
    shards[1]?.push(record('b', 'completed', { logs }));
    await until(() => seen.filter((e) => e.type === 'log').length === 1);
    expect(
      seen
        .filter((e) => e.type === 'task')
        .map((e) => (e.data as TaskRecord).id)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(seen.find((e) => e.type === 'log')?.data).toEqual({
      taskId: 'b',
      function: 'echo',
      at: 5,
      level: 'log',
      message: 'hello',
    });
    await until(() => seen.some((e) => e.type === 'stats'), 10_000);
    stop();
    // Nobody listens: the feeds are let go.
    await until(() => shards.every((s) => s.state.cancelled));
  });

  it('Should open the feeds once for several listeners and keep telling the others', async () => {
    let opened = 0;
    const shard = feed();
    const events = new EdgeEvents({
      feeds: () => {
        opened++;
        return [Promise.resolve(shard.stream)];
      },
      stats: async () => ({}) as PoolStats,
    });
    const first: string[] = [];
    const second: string[] = [];
    const stopFirst = events.subscribe(() => {
      throw new Error('a listener that fails');
    });
    const stopSecond = events.subscribe((e) => e.type === 'task' && second.push(e.data.id));
    const stopThird = events.subscribe((e) => e.type === 'task' && first.push(e.data.id));
    shard.push(record('x', 'queued'));
    await until(() => first.length === 1 && second.length === 1);
    expect(opened).toBe(1);
    stopFirst();
    stopSecond();
    expect(shard.state.cancelled).toBe(false);
    stopThird();
    await until(() => shard.state.cancelled);
  });
});
