/**
 * Case 4, cold start: a function with `minWorkers: 0` has no worker until a task comes; the time
 * from submit to its result covers spawn, module load and the run. One cold start per process.
 * Usage: coldstart.ts <ebbflow|piscina>
 */
import { Piscina } from 'piscina';
import { arg, emit } from '../lib/emit.ts';
import { fixtureRuntime } from '../lib/fixture-runtime.ts';
import { PLAIN } from '../lib/peers.ts';

const impl = arg(0, 'ebbflow');

if (impl === 'ebbflow') {
  const runtime = await fixtureRuntime(['cold']);
  if (runtime.stats().activeWorkers !== 0) throw new Error('expected no warm worker');
  const started = performance.now();
  const record = await runtime.call('cold', [1]);
  const ms = performance.now() - started;
  if (record.result !== 2) throw new Error(`cold start failed: ${record.error}`);
  const spawnToReadyMs = runtime.stats().functions.cold?.lastColdStartMs;
  await runtime.close();
  emit({ ms, spawnToReadyMs });
} else if (impl === 'piscina') {
  const filename = new URL('../peers/piscina-inc.mjs', import.meta.url).href;
  const pool = new Piscina({ filename, minThreads: 0, maxThreads: 1, execArgv: PLAIN });
  const started = performance.now();
  const result = await pool.run(1);
  const ms = performance.now() - started;
  if (result !== 2) throw new Error('cold start failed');
  await pool.destroy();
  emit({ ms });
} else {
  throw new Error(`unknown implementation "${impl}"`);
}
