/**
 * Bounds and shutdown with real workers: record eviction by count and time, `close()` with work
 * in flight, the drain timeout, and a module that leaks timers.
 */
import { describe, expect, it } from 'vitest';
import { startCore } from './support/core-runtime.ts';

describe('eviction', () => {
  it('Should keep only the newest maxResults finished records', async () => {
    const runtime = await startCore({ maxResults: 5 });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await runtime.call('add', [i])).id);
    expect(ids.slice(0, 7).map((id) => runtime.result(id))).toEqual(new Array(7).fill(undefined));
    expect(ids.slice(7).map((id) => runtime.result(id)?.result)).toEqual([8, 9, 10, 11, 12]);
    // An evicted id is free again.
    expect(runtime.submit('add', [0], { id: ids[0] }).status).toBe('queued');
    await runtime.close();
  });

  it('Should forget finished records after resultTtlMs, but never live ones', async () => {
    const runtime = await startCore({ resultTtlMs: 150 });
    const done = await runtime.call('add', [1]);
    const live = runtime.submit('faulty', ['sleep', 600]);
    expect(runtime.result(done.id)?.status).toBe('completed');
    await new Promise((r) => setTimeout(r, 300));
    expect(runtime.result(done.id)).toBeUndefined();
    expect(await runtime.wait(done.id, 10)).toBeUndefined();
    expect(runtime.result(live.id)?.status).toBe('running');
    expect((await runtime.wait(live.id, 5000))?.status).toBe('completed');
    await runtime.close();
  });
});

describe('close', () => {
  it('Should finish queued and running work, then refuse new tasks', async () => {
    const runtime = await startCore();
    const accepted = [
      runtime.submit('faulty', ['sleep', 200]),
      runtime.submit('faulty', ['sleep', 200]),
      runtime.submit('faulty', ['sleep', 200]),
      runtime.submit('add', [1]),
    ];
    const closing = runtime.close({ drainTimeoutMs: 10_000 });
    expect(runtime.draining).toBe(true);
    expect(() => runtime.submit('add', [1])).toThrow(expect.objectContaining({ code: 'draining' }));
    // Results stay readable while draining.
    expect(runtime.result(accepted[0]?.id as string)).toBeDefined();
    await closing;
    expect(accepted.map((t) => runtime.result(t.id)?.status)).toEqual(
      new Array(4).fill('completed'),
    );
  });

  it('Should fail what is left when the drain timeout passes, with a clear error', async () => {
    const runtime = await startCore();
    const running = runtime.submit('faulty', ['hang']);
    const queued = runtime.submit('faulty', ['hang']);
    await new Promise((r) => setTimeout(r, 100));
    await runtime.close({ drainTimeoutMs: 200 });
    for (const { id } of [running, queued]) {
      expect(runtime.result(id)).toMatchObject({
        status: 'failed',
        error: 'the runtime shut down before the task finished (drain timeout of 200 ms)',
      });
    }
    expect(runtime.stats().activeWorkers).toBe(0);
  });

  it('Should end the drain at once when close is called again', async () => {
    const runtime = await startCore();
    const { id } = runtime.submit('faulty', ['hang']);
    const first = runtime.close({ drainTimeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 100));
    await runtime.close();
    await first;
    expect(runtime.result(id)?.error).toBe(
      'the runtime shut down before the task finished (the drain was ended early)',
    );
  });

  it('Should stop workers whose function leaked timers', async () => {
    const runtime = await startCore();
    expect((await runtime.call('keeps-alive', [])).result).toBe('leaked a timer');
    await runtime.close();
    expect(runtime.stats().activeWorkers).toBe(0);
  });
});
