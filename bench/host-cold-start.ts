/**
 * Cold start per worker host on the runtime running this script: spawn a worker for
 * functions/fib.ts, load it, run fib(10) once, stop it; median and range of `RUNS` in a row.
 * `node_modules/.bin/tsx bench/host-cold-start.ts`, `deno run -A bench/host-cold-start.ts`,
 * `bun bench/host-cold-start.ts`. Candidates: the host's default adapter and, for comparison,
 * the Node adapter (esbuild bundle + node:worker_threads) where it runs.
 */
import { transfer, wrap } from 'comlink';
import { detectHost } from '../runtime/host/detect.ts';
import type { OutcomeMessage, WorkerApi } from '../runtime/worker/protocol.ts';
import type { WorkerHost } from '../runtime/worker-host.ts';

const RUNS = Number(process.env.RUNS ?? 15);
const entry = { name: 'fib', url: new URL('../functions/fib.ts', import.meta.url).href };

const measure = async (label: string, host: WorkerHost): Promise<void> => {
  const prepareStart = performance.now();
  const prepared = await host.prepare(entry);
  const prepareMs = performance.now() - prepareStart;
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const worker = host.spawn(prepared, { workerId: i + 1, memoryLimitMb: 128 });
    const api = wrap<WorkerApi>(worker.endpoint);
    const { port1, port2 } = new MessageChannel();
    const outcome = new Promise<OutcomeMessage>((resolve) => {
      port1.onmessage = (event) => resolve(event.data as OutcomeMessage);
    });
    await api.init(null, 1, transfer(port2, [port2]));
    await api.run([{ slot: 0, args: [10] }]);
    const [, ok, payload] = await outcome;
    if (!ok) throw new Error(`fib failed: ${JSON.stringify(payload)}`);
    port1.close();
    times.push(performance.now() - t0);
    await worker.terminate();
  }
  await host.dispose?.();
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] as number;
  console.log(
    `${detectHost()} ${label}: spawn+first call median ${median.toFixed(1)} ms (min ${times[0]?.toFixed(1)}, max ${times.at(-1)?.toFixed(1)}, ${RUNS} runs); prepare ${prepareMs.toFixed(0)} ms`,
  );
};

const on = detectHost();
if (on === 'deno')
  await measure('Web Worker (deno.ts)', (await import('../runtime/host/deno.ts')).denoHost());
if (on === 'bun')
  await measure('Web Worker (bun.ts)', (await import('../runtime/host/bun.ts')).bunHost());
await measure(
  'worker_threads + esbuild (node.ts)',
  (await import('../runtime/host/node.ts')).nodeHost(),
);
process.exit(0);
