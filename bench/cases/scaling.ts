/**
 * Case 7, scaling: from idle (the pool at its minimum), a burst of `count` × nap(`ms`), then
 * quiet. Workers, queue and tasks/s are sampled every 100 ms until the pool is back at its
 * minimum; the scaler's own decisions are counted from `stats().scalingEvents`.
 * Usage: scaling.ts <count> <ms> <monitorIntervalMs> <scaleDownDelayMs> [maxWorkers]
 */
import { emit, numberArg } from '../lib/emit.ts';
import { fixtureRuntime } from '../lib/fixture-runtime.ts';

const count = numberArg(0, 100);
const napMs = numberArg(1, 200);
const monitorIntervalMs = numberArg(2, 500);
const scaleDownDelayMs = numberArg(3, 2_000);
const maxWorkers = process.argv[6] === undefined ? undefined : numberArg(4, 20);
const SAMPLE_MS = 100;
const LIMIT_MS = 120_000;

const runtime = await fixtureRuntime(['nap'], { monitorIntervalMs, scaleDownDelayMs, maxWorkers });
const info = runtime.getFunction('nap');
if (!info) throw new Error('the nap fixture did not load');
const { minWorkers, concurrency } = info;
const needed = Math.min(info.maxWorkers, Math.ceil(count / concurrency));
const stat = () =>
  runtime.stats().functions.nap as NonNullable<
    ReturnType<typeof runtime.stats>['functions'][string]
  >;

// Idle first: the pool at its minimum and quiet for a moment.
while (stat().activeWorkers !== minWorkers) await new Promise((r) => setTimeout(r, 50));
await new Promise((r) => setTimeout(r, 500));
const eventsBefore = runtime.stats().scalingEvents.length;

interface Sample {
  t: number;
  workers: number;
  queue: number;
  running: number;
  tasksPerSec: number;
}
const samples: Sample[] = [];
const started = performance.now();
const calls = Array.from({ length: count }, () => runtime.call('nap', [napMs]));
let done = 0;
for (const call of calls) void call.then(() => done++);
// The moment of the burst: the pool as it was, the whole burst queued.
const first = stat();
samples.push({
  t: 0,
  workers: first.activeWorkers,
  queue: first.queueSize,
  running: 0,
  tasksPerSec: 0,
});

let lastDone = 0;
let lastT = 0;
let reachedMs: number | undefined;
let drainedMs: number | undefined;
let backToMinMs: number | undefined;
await new Promise<void>((resolve, reject) => {
  const timer = setInterval(() => {
    const t = performance.now() - started;
    const s = stat();
    samples.push({
      t: Math.round(t),
      workers: s.activeWorkers,
      queue: s.queueSize,
      running: s.activeTasks,
      tasksPerSec: Math.round(((done - lastDone) * 1000) / Math.max(1, t - lastT)),
    });
    lastDone = done;
    lastT = t;
    if (reachedMs === undefined && s.activeWorkers >= needed) reachedMs = t;
    if (drainedMs === undefined && done === count) drainedMs = t;
    if (drainedMs !== undefined && backToMinMs === undefined && s.activeWorkers <= minWorkers) {
      backToMinMs = t;
    }
    if (backToMinMs !== undefined && t - backToMinMs >= 500) {
      clearInterval(timer);
      resolve();
    } else if (t > LIMIT_MS) {
      clearInterval(timer);
      reject(new Error(`the pool did not return to ${minWorkers} workers within ${LIMIT_MS} ms`));
    }
  }, SAMPLE_MS);
});
const records = await Promise.all(calls);
const failed = records.filter((r) => r.status !== 'completed').length;
if (failed > 0) throw new Error(`${failed} tasks did not complete`);
const events = runtime
  .stats()
  .scalingEvents.slice(eventsBefore)
  .filter((e) => e.function === 'nap');
const changes = events.filter((e) => e.action !== 'hold');
const peak = Math.max(...samples.map((s) => s.workers));
await runtime.close();
emit({
  needed,
  minWorkers,
  peakWorkers: peak,
  reachNeededMs: reachedMs ?? null,
  drainedMs,
  backToMinMs,
  scaleChanges: changes.length,
  scaleUps: changes.filter((e) => e.action === 'up').length,
  scaleDowns: changes.filter((e) => e.action === 'down').length,
  samples,
});
