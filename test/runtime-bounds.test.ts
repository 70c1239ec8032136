/**
 * Bounds and shutdown with real workers: record eviction by count and time, `close()` with work
 * in flight, the drain timeout, and a module that leaks timers.
 */
import { describe, expect, it } from 'vitest';
import type { Runtime } from '../runtime/index.ts';
import { startCore } from './support/core-runtime.ts';
import { until } from './support/wait.ts';

/** Resolves once task `id` runs on a worker. */
const running = (runtime: Runtime, id: string) =>
  until(async () => (await runtime.result(id))?.status === 'running');

describe('eviction', () => {
  it('Should keep only the newest maxResults finished records', async () => {
    const runtime = await startCore({ maxResults: 5 });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await runtime.call('add', [i])).id);
    const read = (some: string[]) => Promise.all(some.map((id) => runtime.result(id)));
    expect(await read(ids.slice(0, 7))).toEqual(new Array(7).fill(undefined));
    expect((await read(ids.slice(7))).map((r) => r?.result)).toEqual([8, 9, 10, 11, 12]);
    // An evicted id is free again.
    expect((await runtime.submit('add', [0], { id: ids[0] })).status).toBe('queued');
    await runtime.close();
  });

  it('Should forget finished records after resultTtlMs, but never live ones', async () => {
    const runtime = await startCore({ resultTtlMs: 150 });
    const done = await runtime.call('add', [1]);
    const live = await runtime.submit('faulty', ['sleep', 600]);
    expect((await runtime.result(done.id))?.status).toBe('completed');
    await until(async () => (await runtime.result(done.id)) === undefined);
    expect(await runtime.wait(done.id, 10)).toBeUndefined();
    expect((await runtime.result(live.id))?.status).toBe('running');
    expect((await runtime.wait(live.id, 5000))?.status).toBe('completed');
    await runtime.close();
  });
});

describe('close', () => {
  it('Should finish queued and running work, then refuse new tasks', async () => {
    const runtime = await startCore();
    const accepted = await Promise.all([
      runtime.submit('faulty', ['sleep', 200]),
      runtime.submit('faulty', ['sleep', 200]),
      runtime.submit('faulty', ['sleep', 200]),
      runtime.submit('add', [1]),
    ]);
    const closing = runtime.close({ drainTimeoutMs: 10_000 });
    expect(runtime.draining).toBe(true);
    await expect(runtime.submit('add', [1])).rejects.toThrow(
      expect.objectContaining({ code: 'draining' }),
    );
    // Results stay readable while draining.
    expect(await runtime.result(accepted[0]?.id as string)).toBeDefined();
    await closing;
    const finals = await Promise.all(accepted.map((t) => runtime.result(t.id)));
    expect(finals.map((r) => r?.status)).toEqual(new Array(4).fill('completed'));
  });

  it('Should fail what is left when the drain timeout passes, with a clear error', async () => {
    const runtime = await startCore();
    const first = await runtime.submit('faulty', ['hang']);
    const queued = await runtime.submit('faulty', ['hang']);
    await running(runtime, first.id);
    await runtime.close({ drainTimeoutMs: 200 });
    for (const { id } of [first, queued]) {
      expect(await runtime.result(id)).toMatchObject({
        status: 'failed',
        errorCode: 'shutdown',
        error: 'the runtime shut down before the task finished (drain timeout of 200 ms)',
      });
    }
    expect(runtime.stats().activeWorkers).toBe(0);
  });

  it('Should end the drain at once when close is called again', async () => {
    const runtime = await startCore();
    const { id } = await runtime.submit('faulty', ['hang']);
    // The drain then waits on a running task, for up to a minute.
    await running(runtime, id);
    const first = runtime.close({ drainTimeoutMs: 60_000 });
    await runtime.close();
    await first;
    expect((await runtime.result(id))?.error).toBe(
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
