import { fixtureRuntime } from './lib/fixture-runtime.ts';
import { benchStore } from './lib/store.ts';
const which = process.argv[2] ?? 'sqlite';
const store = benchStore(which as 'sqlite');
const runtime = await fixtureRuntime(['inc'], { backend: store.backend, minWorkers: 2, maxWorkers: 2 });
const run = async (n: number) => { const seq: number[] = []; for (let i = 0; i < n; i++) { const t = performance.now(); await runtime.call('inc', [i]); seq.push(performance.now() - t); } seq.sort((a, b) => a - b); return seq; };
await run(300);
for (let r = 0; r < 3; r++) { const s = await run(1000); console.log(which, 'p50', s[500]!.toFixed(3), 'p90', s[900]!.toFixed(3)); }
await runtime.close(); await store.close();
