/**
 * The monitor's decisions, driven in process with a manual clock: when it evaluates, what it
 * applies, and what it logs (and tells listeners). The policy itself is tested in scaler.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Gates, startInProcess, until } from '../../test/support/in-process.ts';
import type { Runtime, ScalingEvent } from '../types.ts';

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.close({ drainTimeoutMs: 0 });
  runtime = undefined;
});

const workers = (name: string) => runtime?.stats().functions[name]?.activeWorkers ?? 0;

describe('the scaling monitor, in process', () => {
  it('Should grow a pool as soon as work queues, not at the tick, and tell listeners', async () => {
    const gates = new Gates();
    const started = await startInProcess(
      { burst: { default: gates.open, config: { minWorkers: 1, maxWorkers: 6 } } },
      { maxWorkers: 6, monitorIntervalMs: 60_000 },
    );
    runtime = started.runtime;
    const told: ScalingEvent[] = [];
    runtime.onScale((event) => told.push(event));
    for (let i = 0; i < 10; i++) await runtime.submit('burst', [`t${i}`]);
    await until('the first task to begin', () => gates.begun.length === 1);
    // One sampling window (100 ms) after the queue built, far before the 60 s tick.
    started.clock.advance(100);
    await until('the pool to grow', () => workers('burst') > 1);
    const ups = runtime.stats().scalingEvents.filter((e) => e.action === 'up');
    expect(ups[0]).toMatchObject({ function: 'burst', from: 1, to: 3 });
    expect(ups[0]?.reason).toMatch(
      /^load 10\.00 > 0\.8 \(10 tasks on 1 worker\): \+2 \[backlog\]$/,
    );
    expect(told).toEqual(runtime.stats().scalingEvents);
  });

  it('Should bring a pool back to its minimum one step at a time once the load stayed low', async () => {
    const gates = new Gates();
    const started = await startInProcess(
      { pool: { default: gates.open, config: { minWorkers: 1, maxWorkers: 4 } } },
      { maxWorkers: 4, monitorIntervalMs: 1_000, scaleDownDelayMs: 3_000 },
    );
    runtime = started.runtime;
    for (let i = 0; i < 6; i++) await runtime.submit('pool', [`t${i}`]);
    await until('the first task to begin', () => gates.begun.length === 1);
    started.clock.advance(100);
    await until('the pool to grow to 3', () => workers('pool') === 3);
    for (let ended = 0; ended < 6; ended++) {
      await until(`task ${ended} to begin`, () => gates.begun.length > ended);
      gates.resolve(gates.begun[ended] as string);
    }
    await until('every task to end', () => runtime?.stats().functions.pool?.tasksCompleted === 6);
    const sizes: number[] = [];
    for (let tick = 0; tick < 8; tick++) {
      started.clock.advance(1_000);
      await until('the tick to be applied', () => runtime?.stats().activeTasks === 0);
      started.clock.advance(150); // the sampling window, and a retired worker's last word
      sizes.push(workers('pool'));
    }
    // Low from the first tick on; the first step once 3 s passed, then one per tick.
    expect(sizes).toEqual([3, 3, 3, 2, 1, 1, 1, 1]);
    const downs = runtime.stats().scalingEvents.filter((e) => e.action === 'down');
    expect(downs.map((e) => [e.from, e.to])).toEqual([
      [3, 2],
      [2, 1],
    ]);
    for (const e of downs) expect(e.reason).toMatch(/< 0\.3 for \d+ ms: -1 \[tick\]$/);
  });

  it('Should log the idle workers taken for a loaded function and who gave them', async () => {
    const gates = new Gates();
    const started = await startInProcess(
      { a: { default: () => 'a' }, b: { default: () => 'b' }, loaded: { default: gates.open } },
      { minWorkers: 1, maxWorkers: 3, monitorIntervalMs: 60_000 },
    );
    runtime = started.runtime;
    expect(runtime.stats().activeWorkers).toBe(3);
    const live = started.host.workers.filter((w) => w.alive);
    for (let i = 0; i < 10; i++) await runtime.submit('loaded', [`t${i}`]);
    await until('the first task to begin', () => gates.begun.length === 1);
    started.clock.advance(100);
    await until('idle workers to stop', () => live.filter((w) => !w.alive).length === 2);
    started.clock.advance(10);
    await until('loaded to run on 3 workers', () => gates.begun.length === 3);
    const events = runtime.stats().scalingEvents;
    expect(events.find((e) => e.function === 'loaded')).toMatchObject({
      action: 'up',
      from: 1,
      to: 3,
    });
    expect(events.find((e) => e.function === 'loaded')?.reason).toMatch(
      /\+2, 2 in place of idle workers of other functions/,
    );
    for (const donor of ['a', 'b']) {
      const event = events.find((e) => e.function === donor);
      expect(event).toMatchObject({ action: 'down', from: 1, to: 0 });
      expect(event?.reason).toMatch(/^retires 1 idle worker \(1 to loaded\)/);
    }
    expect(runtime.stats().activeWorkers).toBe(3);
    // Once the burst is done and loaded scales down, the others get their minimum back.
    for (let ended = 0; ended < 10; ended++) {
      await until(`task ${ended} to begin`, () => gates.begun.length > ended);
      gates.resolve(gates.begun[ended] as string);
    }
    await until('the burst to end', () => runtime?.stats().functions.loaded?.tasksCompleted === 10);
    for (let tick = 0; tick < 40 && (workers('a') < 1 || workers('b') < 1); tick++) {
      started.clock.advance(10_000);
      await until('the tick to be applied', () => runtime?.stats().activeTasks === 0);
    }
    expect([workers('loaded'), workers('a'), workers('b')]).toEqual([1, 1, 1]);
  });
});
