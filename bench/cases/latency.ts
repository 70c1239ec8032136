/**
 * Case 3, sequential latency: `count` calls of the trivial function, each awaited before the
 * next is made; p50 and p99 of one call's round trip in ms. ebbflow keeps its tasks in `store`
 * (case 11: `memory`, the default, or `sqlite`).
 * Usage: latency.ts <ebbflow|piscina|comlink> <workers> <count> [store]
 */
import { arg, emit, numberArg } from '../lib/emit.ts';
import { fixtureRuntime } from '../lib/fixture-runtime.ts';
import { startPeer } from '../lib/peers.ts';
import { percentile } from '../lib/stats.ts';
import { benchStore, type StoreName } from '../lib/store.ts';

const impl = arg(0, 'ebbflow');
const workers = numberArg(1, 2);
const count = numberArg(2, 2_000);
const store = benchStore(arg(3, 'memory') as StoreName);

let call: (x: number) => Promise<unknown>;
let close: () => Promise<unknown>;
if (impl === 'ebbflow') {
  const runtime = await fixtureRuntime(['inc'], {
    minWorkers: workers,
    maxWorkers: workers,
    backend: store.backend,
  });
  call = async (x) => (await runtime.call('inc', [x])).result;
  close = async () => {
    await runtime.close();
    await store.close();
  };
} else {
  ({ call, close } = await startPeer(impl, workers));
}

const run = async (n: number): Promise<number[]> => {
  const samples: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const result = await call(i);
    samples[i] = performance.now() - started;
    if (result !== i + 1) throw new Error(`call ${i} gave ${result}`);
  }
  return samples;
};

await run(Math.min(200, count));
const samples = await run(count);
await close();
emit({ p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99) });
