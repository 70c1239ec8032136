/**
 * Case 1, trivial tasks: `count` × (x) => x + 1 submitted at once, all awaited; tasks/s.
 * Usage: trivial.ts <ebbflow|piscina|comlink> <workers> <count>
 */
import { arg, emit, numberArg } from '../lib/emit.ts';
import { fixtureRuntime } from '../lib/fixture-runtime.ts';
import { startPeer } from '../lib/peers.ts';
import { spread } from '../lib/stats.ts';

const impl = arg(0, 'ebbflow');
const workers = numberArg(1, 2);
const count = numberArg(2, 20_000);
const warmup = Math.min(2_000, count);
const INNER = 3;

type Call = (x: number) => Promise<number>;

const burst = async (call: Call, n: number): Promise<number> => {
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => call(i)));
  const ms = performance.now() - started;
  // Every result checked, so a runtime that drops or garbles tasks cannot look fast.
  for (let i = 0; i < n; i++)
    if (results[i] !== i + 1) throw new Error(`task ${i} gave ${results[i]}`);
  return ms;
};

let call: Call;
let close: () => Promise<unknown>;
if (impl === 'ebbflow') {
  const runtime = await fixtureRuntime(['inc'], { minWorkers: workers, maxWorkers: workers });
  call = async (x) => {
    const record = await runtime.call('inc', [x]);
    if (record.status !== 'completed') throw new Error(`task failed: ${record.error}`);
    return record.result as number;
  };
  close = () => runtime.close();
} else {
  ({ call, close } = await startPeer(impl, workers));
}

await burst(call, warmup);
// Three bursts in this process and their median: a 20,000-task burst lasts a fifth of a second,
// so one passing spike of other load on the shared machine would decide a single one.
const times: number[] = [];
for (let i = 0; i < INNER; i++) times.push(await burst(call, count));
await close();
const ms = spread(times).median;
emit({ tasksPerSec: (count / ms) * 1000, ms, bursts: times });
