/**
 * The auto-scaler with real workers: bursts, idle, CPU saturation, scale to zero and a fair
 * share between functions. The machine is shared, so every wait polls up to a generous deadline.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { folderSource } from '../runtime/host/fs-source.ts';
import { nodeHost } from '../runtime/host/node.ts';
import type {
  FunctionSource,
  PoolStats,
  Runtime,
  RuntimeOptions,
  WorkerHost,
} from '../runtime/index.ts';
import { createRuntime } from '../runtime/index.ts';

const fixtures = fileURLToPath(new URL('./fixtures/scaling/', import.meta.url));

/** The fixture folder, limited to the functions a test needs. */
const only = (...names: string[]): FunctionSource => {
  const all = folderSource(fixtures);
  return {
    async list() {
      const listing = await all.list();
      return { ...listing, entries: listing.entries.filter((e) => names.includes(e.name)) };
    },
  };
};

const cores =
  (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ??
  availableParallelism();

let runtime: Runtime | undefined;

/** How often the process was read: the monitor does it three times per evaluation, and so does
 * nothing else while the test does not read `stats()`. */
let processReads = 0;

/** The Node host, counting its reads of the process. */
const countingHost = (): WorkerHost => {
  const host = nodeHost();
  return {
    ...host,
    sample: () => {
      processReads++;
      return host.sample?.() ?? {};
    },
  };
};

const start = async (names: string[], options: Partial<RuntimeOptions> = {}) => {
  runtime = await createRuntime({
    source: only(...names),
    host: countingHost(),
    log: () => {},
    ...options,
  });
  return runtime;
};

afterEach(async () => {
  await runtime?.close({ drainTimeoutMs: 0 });
  runtime = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll `check` until it returns true; fail with `what` after `deadlineMs`. */
const until = async (what: string, check: () => boolean, deadlineMs = 20_000): Promise<number> => {
  const begin = performance.now();
  while (!check()) {
    if (performance.now() - begin > deadlineMs) throw new Error(`timed out waiting: ${what}`);
    await sleep(20);
  }
  return performance.now() - begin;
};

/** Samples stats every 10 ms in the background; `stop()` gives the largest worker counts seen. */
const watch = (rt: Runtime, name: string) => {
  let pool = 0;
  let total = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const s = rt.stats();
      pool = Math.max(pool, s.functions[name]?.activeWorkers ?? 0);
      total = Math.max(total, s.activeWorkers);
      await sleep(10);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { pool, total };
    },
  };
};

/** Hold the main event loop for `ms`. */
const block = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
};

/** Submit `count` tasks of `name` at once; their ids. */
const submitMany = async (rt: Runtime, count: number, name: string, args: unknown[]) =>
  (await Promise.all(Array.from({ length: count }, () => rt.submit(name, args)))).map((r) => r.id);

const fn = (stats: PoolStats, name: string) => {
  const s = stats.functions[name];
  if (!s) throw new Error(`no stats for ${name}`);
  return s;
};

describe('auto-scaling with real workers', () => {
  it('Should grow a pool on a burst before the tick, and never past its max', async () => {
    // A tick a minute away: only the queue's own signal can grow the pool in this test.
    const rt = await start(['slow'], { monitorIntervalMs: 60_000 });
    expect(fn(rt.stats(), 'slow').activeWorkers).toBe(2);
    const watcher = watch(rt, 'slow');
    const ids = await submitMany(rt, 18, 'slow', [2000]);
    const grewAfterMs = await until(
      'the pool to grow above its minimum',
      () => fn(rt.stats(), 'slow').activeWorkers > 2,
    );
    // Grown while the first tasks still ran: the queue, not a finished task or a tick, did it.
    expect(fn(rt.stats(), 'slow').tasksCompleted).toBe(0);
    await until('the pool to reach its max', () => fn(rt.stats(), 'slow').activeWorkers === 6);
    const ups = rt.stats().scalingEvents.filter((e) => e.action === 'up');
    expect(ups.length).toBeGreaterThan(0);
    for (const e of ups) expect(e.reason).toMatch(/\[backlog\]$/);
    await Promise.all(ids.map((id) => rt.wait(id, 60_000)));
    const seen = await watcher.stop();
    expect(seen.pool).toBe(6);
    expect(seen.total).toBeLessThanOrEqual(6);
    console.info(`burst: grew above min after ${Math.round(grewAfterMs)} ms`);
  }, 90_000);

  it('Should bring an idle pool back to its minimum, logging why', async () => {
    const rt = await start(['slow'], { monitorIntervalMs: 200, scaleDownDelayMs: 400 });
    const ids = await submitMany(rt, 12, 'slow', [800]);
    await until('the pool to grow', () => fn(rt.stats(), 'slow').activeWorkers > 2);
    await Promise.all(ids.map((id) => rt.wait(id, 60_000)));
    await until('the pool to shrink to 2', () => fn(rt.stats(), 'slow').activeWorkers === 2);
    const downs = rt.stats().scalingEvents.filter((e) => e.action === 'down');
    expect(downs.length).toBeGreaterThan(0);
    for (const e of downs) {
      expect(e.to).toBe(e.from - 1);
      expect(e.to).toBeGreaterThanOrEqual(2);
      expect(e.reason).toMatch(/< 0\.3 for \d+ ms: -1/);
    }
    // Stays there over later evaluations: no down step below the minimum. Two whole ones are
    // over once the process was read nine more times (one may have been half done).
    const reads = processReads;
    await until('two more evaluations', () => processReads >= reads + 9);
    expect(fn(rt.stats(), 'slow').activeWorkers).toBe(2);
  }, 90_000);

  it('Should not grow a CPU-saturated pool past what the cores can run', async () => {
    // Lag and loop limits out of the way: only the CPU-bound rule may hold this pool.
    const rt = await start(['spin'], {
      monitorIntervalMs: 200,
      maxEventLoopLagMs: 60_000,
      maxEventLoopUtilization: 1,
    });
    const watcher = watch(rt, 'spin');
    const ids = await submitMany(rt, 3 * cores + 4, 'spin', [1500]);
    // Two rounds of tasks: time for many evaluations while the queue stays long.
    await Promise.all(ids.slice(0, 2 * cores).map((id) => rt.wait(id, 60_000)));
    const seen = await watcher.stop();
    expect(seen.pool).toBeLessThanOrEqual(Math.max(cores, 1));
    const stats = rt.stats();
    expect(fn(stats, 'spin').queueSize).toBeGreaterThan(0);
    const holds = stats.scalingEvents.filter((e) => e.action === 'hold');
    expect(
      holds.some((e) => /CPU-bound workers busy or starting on \d+ cores/.test(e.reason)),
    ).toBe(true);
  }, 90_000);

  it('Should scale a minWorkers 0 function to zero and serve it again with a cold start', async () => {
    const rt = await start(['lazy'], { monitorIntervalMs: 200, scaleDownDelayMs: 300 });
    expect(fn(rt.stats(), 'lazy').activeWorkers).toBe(0);
    const first = await rt.call('lazy', ['a']);
    expect(first).toMatchObject({ status: 'completed', result: 'hello a' });
    const afterFirst = fn(rt.stats(), 'lazy');
    expect(afterFirst.coldStarts).toBeGreaterThanOrEqual(1);
    expect(afterFirst.lastColdStartMs).toBeGreaterThan(0);
    await until('the pool to reach zero', () => fn(rt.stats(), 'lazy').activeWorkers === 0);
    const second = await rt.call('lazy', ['b']);
    expect(second).toMatchObject({ status: 'completed', result: 'hello b' });
    expect(fn(rt.stats(), 'lazy').coldStarts).toBeGreaterThan(afterFirst.coldStarts);
  }, 90_000);

  it('Should keep a burst of one function from taking every worker from another', async () => {
    // Ceiling 6 over all pools; slow alone could take all 6.
    const rt = await start(['lazy', 'slow'], { maxWorkers: 6, monitorIntervalMs: 200 });
    const ids = await submitMany(rt, 40, 'slow', [1500]);
    await until('slow to take every worker', () => rt.stats().activeWorkers === 6);
    const other = await rt.call('lazy', ['c']);
    expect(other.status).toBe('completed');
    // Served while the burst still waits in the queue.
    expect(fn(rt.stats(), 'slow').queueSize).toBeGreaterThan(0);
    expect(rt.stats().activeWorkers).toBeLessThanOrEqual(6);
    // The worker lazy got retired once its task ended: no task of the burst was cut off.
    const records = await Promise.all(ids.map((id) => rt.result(id)));
    for (const record of records) {
      expect(['queued', 'running', 'completed']).toContain(record?.status);
    }
  }, 90_000);
});

describe('stats', () => {
  it('Should report measured pressure and per-function load', async () => {
    const rt = await start(['spin'], { monitorIntervalMs: 200 });
    const { id } = await rt.submit('spin', [700]);
    // A main event loop held for a moment shows as lag: the probe's next tick comes that late.
    block(300);
    await until('the lag to show', () => rt.stats().performanceMetrics.eventLoopLagMs > 20);
    await rt.wait(id, 30_000);
    const stats = rt.stats();
    const m = stats.performanceMetrics;
    expect(m.cpuUsage).toBeGreaterThan(0);
    expect(m.cpuUsage).toBeLessThanOrEqual(100);
    expect(m.memoryUsage).toBeGreaterThan(0);
    expect(m.memoryUsage).toBeLessThanOrEqual(100);
    expect(m.eventLoopUtilization).toBeGreaterThan(0);
    expect(m.eventLoopUtilization).toBeLessThanOrEqual(1);
    const spin = fn(stats, 'spin');
    // Its one task is done and nothing waits.
    expect(spin.loadRatio).toBe(0);
    expect(spin.tasksCompleted).toBe(1);
    expect(spin.eventLoopUtilization).toBeGreaterThan(0);
  }, 60_000);
});
