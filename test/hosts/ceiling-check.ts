/**
 * "Sharing the ceiling" (contract v2) on whatever host runs this script (Node through tsx, Deno,
 * Bun), with real workers: many functions whose minimums fill the ceiling, then a burst on one.
 * The loaded function must take idle workers of the others and grow by the seed's rule. Prints
 * `ok <check> <figures>` per check and exits 1 on the first failure; ceiling.test.ts runs it
 * on all three hosts.
 */
import assert from 'node:assert/strict';
import { detectHost } from '../../runtime/host/detect.ts';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../runtime/index.ts';
import type { FunctionSource, WorkerHost } from '../../runtime/worker-host.ts';

const host = detectHost();
const fixtures = new URL('../fixtures/ceiling/', import.meta.url);

const workerHost = async (): Promise<WorkerHost> => {
  if (host === 'deno') return (await import('../../runtime/host/deno.ts')).denoHost();
  if (host === 'bun') return (await import('../../runtime/host/bun.ts')).bunHost();
  return (await import('../../runtime/host/node.ts')).nodeHost();
};

/** `count` functions named f00, f01, ...: every one `sleep.ts` but the last, which is `last`. */
const functions = (count: number, last: string): FunctionSource => ({
  async list() {
    const entries = Array.from({ length: count }, (_, i) => ({
      name: `f${String(i).padStart(2, '0')}`,
      url: new URL(i === count - 1 ? last : 'sleep.ts', fixtures).href,
    }));
    return { entries, warnings: [] };
  },
});

const open = async (count: number, last: string, options: Partial<RuntimeOptions> = {}) =>
  createRuntime({
    source: functions(count, last),
    host: await workerHost(),
    log: () => {},
    ...options,
  });

/** Poll until `test` holds; the time it took in ms. Deadlines are generous: the machine is shared. */
const until = async (what: string, test: () => boolean, ms = 30_000): Promise<number> => {
  const start = performance.now();
  while (!test()) {
    if (performance.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Math.round(performance.now() - start);
};

const check = async (name: string, body: () => Promise<string>): Promise<void> => {
  try {
    console.log(`ok ${name} ${await body()}`);
  } catch (error) {
    console.log(`not ok ${name}: ${(error as Error).stack ?? error}`);
    process.exit(1);
  }
};

/** A burst on the last function; resolves once it runs on `workers` workers. */
const burst = async (
  rt: Runtime,
  name: string,
  tasks: number,
  args: unknown[],
  workers: number,
) => {
  const before = rt.stats();
  assert.equal(before.activeWorkers, before.maxWorkers, 'the minimums fill the ceiling');
  const from = before.functions[name]?.activeWorkers ?? 0;
  await Promise.all(Array.from({ length: tasks }, () => rt.submit(name, args)));
  const ms = await until(
    `${name} to reach ${workers} workers`,
    () => (rt.stats().functions[name]?.activeWorkers ?? 0) >= workers,
  );
  const after = rt.stats();
  assert.ok(after.activeWorkers <= after.maxWorkers, 'never past the ceiling');
  const taken = after.scalingEvents.filter((e) => e.function !== name && e.action === 'down');
  assert.ok(taken.length > 0, 'idle workers of other functions were retired for it');
  return `${name}: ${from} -> ${after.functions[name]?.activeWorkers} workers in ${ms} ms`;
};

console.log(`# host ${host}`);

await check('12 functions, CPU burst on the last', async () => {
  const rt = await open(12, 'burn.ts');
  try {
    // CPU-bound: the cores bound it, never the idle minimums of the others.
    return await burst(rt, 'f11', 200, [50], 2);
  } finally {
    await rt.close({ drainTimeoutMs: 0 });
  }
});

await check('16 functions under maxWorkers 6, sleep burst on the last', async () => {
  const rt = await open(16, 'sleep.ts', { maxWorkers: 6 });
  try {
    return await burst(rt, 'f15', 60, [300], 4);
  } finally {
    await rt.close({ drainTimeoutMs: 0 });
  }
});

await check('50 functions under the default ceiling, burst on one', async () => {
  const rt = await open(50, 'sleep.ts');
  try {
    return await burst(rt, 'f49', 200, [1000], 6);
  } finally {
    await rt.close({ drainTimeoutMs: 0 });
  }
});
