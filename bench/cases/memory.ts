/**
 * Case 6, memory: RSS per idle worker. The process is measured with everything loaded and no
 * workers, then again with `workers` idle ones; the difference divided by their number.
 * Usage: node --expose-gc memory.ts <ebbflow|piscina|bare> <workers>
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { arg, emit, numberArg } from '../lib/emit.ts';
import { fixtureRuntime } from '../lib/fixture-runtime.ts';
import { PLAIN } from '../lib/peers.ts';

const impl = arg(0, 'ebbflow');
const workers = numberArg(1, 8);
const MiB = 1024 * 1024;

/** RSS once things settle: collect garbage, wait, and take the median of a few readings. */
const settledRss = async (): Promise<number> => {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await sleep(200);
    readings.push(process.memoryUsage.rss());
  }
  return (readings.sort((a, b) => a - b)[2] as number) / MiB;
};

let before: number;
let after: number;
let stop: () => Promise<unknown>;
if (impl === 'ebbflow') {
  // A runtime with no warm worker first, so everything but the workers is already loaded.
  const empty = await fixtureRuntime(['inc'], { minWorkers: 0, maxWorkers: workers });
  await empty.call('inc', [1]); // one cold start and back, so the first worker's costs are paid
  await empty.close();
  before = await settledRss();
  const runtime = await fixtureRuntime(['inc'], { minWorkers: workers, maxWorkers: workers });
  after = await settledRss();
  if (runtime.stats().activeWorkers !== workers) throw new Error('workers did not start');
  stop = () => runtime.close();
} else if (impl === 'piscina') {
  const file = new URL('../peers/piscina-inc.mjs', import.meta.url).href;
  const warm = new Piscina({ filename: file, minThreads: 1, maxThreads: 1, execArgv: PLAIN });
  await warm.run(1);
  await warm.destroy();
  before = await settledRss();
  const pool = new Piscina({
    filename: file,
    minThreads: workers,
    maxThreads: workers,
    execArgv: PLAIN,
  });
  await Promise.all(Array.from({ length: workers * 4 }, (_, i) => pool.run(i)));
  while (pool.threads.length < workers) await sleep(50);
  after = await settledRss();
  stop = () => pool.destroy();
} else {
  const file = new URL('../peers/idle.mjs', import.meta.url);
  const first = new Worker(file, { execArgv: PLAIN });
  await once(first, 'message');
  await first.terminate();
  before = await settledRss();
  const threads = Array.from({ length: workers }, () => new Worker(file, { execArgv: PLAIN }));
  await Promise.all(threads.map((t) => once(t, 'message')));
  after = await settledRss();
  stop = () => Promise.all(threads.map((t) => t.terminate()));
}
await stop();
emit({
  rssPerWorkerMiB: (after - before) / Math.max(1, workers),
  beforeMiB: before,
  afterMiB: after,
});
