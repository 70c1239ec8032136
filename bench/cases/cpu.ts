/**
 * Case 2, CPU efficiency: `count` × fib(n) through ebbflow on `workers` workers; the same work
 * on one thread (the main thread, no pool) for the reference rate; or split over `workers` bare
 * threads at once (no pool, no message per task): what this machine gives right now. tasks/s.
 * Usage: cpu.ts <ebbflow|single|threads> <workers> <count> <n>
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { fib } from '../functions/fib.ts';
import { arg, emit, numberArg } from '../lib/emit.ts';
import { fixtureRuntime } from '../lib/fixture-runtime.ts';
import { PLAIN } from '../lib/peers.ts';

const impl = arg(0, 'ebbflow');
const workers = numberArg(1, 2);
const count = numberArg(2, 200);
const n = numberArg(3, 27);
const expected = fib(n);

/** One timed run: its wall time, and (for the pool) the time its workers spent in the function. */
type Run = () => Promise<{ ms: number; busyMs?: number }>;

// Three timed runs in this process and the median one: a run lasts about 150 ms, so a passing
// spike of other load on the shared machine would otherwise decide it.
const INNER = 3;
const report = async (run: Run, workersBusy = 0): Promise<void> => {
  const runs: Array<{ ms: number; busyMs?: number }> = [];
  for (let i = 0; i < INNER; i++) runs.push(await run());
  runs.sort((a, b) => a.ms - b.ms);
  const mid = runs[runs.length >> 1] as { ms: number; busyMs?: number };
  const figures: Record<string, unknown> = {
    tasksPerSec: (count / mid.ms) * 1000,
    ms: mid.ms,
    runs: runs.map((r) => r.ms),
  };
  // Share of the workers' time spent in the function (times measured inside the workers): what
  // the pool loses to gaps between tasks, whatever else the machine is doing.
  if (mid.busyMs !== undefined) figures.workerBusyShare = mid.busyMs / (mid.ms * workersBusy);
  emit(figures);
};

if (impl === 'threads') {
  const file = new URL('../peers/fib-loop.mjs', import.meta.url);
  const threads = Array.from({ length: workers }, () => new Worker(file, { execArgv: PLAIN }));
  const ask = (t: Worker, message: object) => {
    t.postMessage(message);
    return once(t, 'message').then(([m]) => m as unknown);
  };
  await Promise.all(threads.map((t) => ask(t, { n })));
  const share = (i: number) => Math.floor(count / workers) + (i < count % workers ? 1 : 0);
  await report(async () => {
    const started = performance.now();
    const sums = await Promise.all(threads.map((t, i) => ask(t, { n, count: share(i), go: true })));
    const ms = performance.now() - started;
    if (sums.reduce((a: number, b) => a + (b as number), 0) !== expected * count) {
      throw new Error('wrong result');
    }
    return { ms };
  });
  await Promise.all(threads.map((t) => t.terminate()));
} else if (impl === 'single') {
  for (let i = 0; i < 20; i++) fib(n); // warm-up, as the pool's workers get below
  await report(async () => {
    const started = performance.now();
    for (let i = 0; i < count; i++) if (fib(n) !== expected) throw new Error('wrong result');
    return { ms: performance.now() - started };
  });
} else {
  const runtime = await fixtureRuntime(['fib'], { minWorkers: workers, maxWorkers: workers });
  const run = async (tasks: number) => {
    const records = await Promise.all(
      Array.from({ length: tasks }, () => runtime.call('fib', [n])),
    );
    for (const r of records) if (r.result !== expected) throw new Error(`wrong result: ${r.error}`);
    return records.reduce((sum, r) => sum + (r.executionTime ?? 0), 0);
  };
  await run(20 * workers);
  await report(async () => {
    const started = performance.now();
    const busyMs = await run(count);
    return { ms: performance.now() - started, busyMs };
  }, workers);
  await runtime.close();
}
