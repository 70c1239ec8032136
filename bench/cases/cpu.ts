/**
 * Case 2, CPU efficiency: `count` × fib(n) through ebbflow on `workers` workers, or the same
 * work on one thread (the main thread, no pool) for the reference rate. tasks/s.
 * Usage: cpu.ts <ebbflow|single> <workers> <count> <n>
 */
import { fib } from '../functions/fib.ts';
import { arg, emit, numberArg } from '../lib/emit.ts';
import { fixtureRuntime } from '../lib/fixture-runtime.ts';

const impl = arg(0, 'ebbflow');
const workers = numberArg(1, 2);
const count = numberArg(2, 200);
const n = numberArg(3, 27);
const expected = fib(n);

if (impl === 'single') {
  for (let i = 0; i < 20; i++) fib(n); // warm-up, as the pool's workers get below
  const started = performance.now();
  for (let i = 0; i < count; i++) if (fib(n) !== expected) throw new Error('wrong result');
  const ms = performance.now() - started;
  emit({ tasksPerSec: (count / ms) * 1000, ms });
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
  const started = performance.now();
  const busyMs = await run(count);
  const ms = performance.now() - started;
  await runtime.close();
  // Share of the workers' time spent in the function (times measured inside the workers): what
  // the pool loses to gaps between tasks, whatever else the machine is doing.
  emit({ tasksPerSec: (count / ms) * 1000, ms, workerBusyShare: busyMs / (ms * workers) });
}
