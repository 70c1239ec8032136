/**
 * Functions that try to outlive their timeout or a cancel through what they do to their own
 * globals and shared memory, on whatever host runs this script (Node through tsx, Deno, Bun),
 * with real workers: each must end `timed_out` or `cancelled` on time, and what it would do
 * afterwards must never happen. Also: a throw that cannot be described stays a throw. Prints one
 * `ok <check>` line per check and exits 1 on the first failure; isolation-timeouts.test.ts runs it
 * on all three hosts over a copy of test/fixtures/escape (the folder is the first argument).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { detectHost } from '../../runtime/host/detect.ts';
import { folderSource } from '../../runtime/host/fs-source.ts';
import type { Runtime, TaskRecord } from '../../runtime/index.ts';
import { createRuntime } from '../../runtime/index.ts';
import type { WorkerHost } from '../../runtime/worker-host.ts';

const host = detectHost();
const folder = process.argv[2] as string;

const workerHost = async (): Promise<WorkerHost> => {
  if (host === 'deno') return (await import('../../runtime/host/deno.ts')).denoHost();
  if (host === 'bun') return (await import('../../runtime/host/bun.ts')).bunHost();
  return (await import('../../runtime/host/node.ts')).nodeHost();
};

const check = async (name: string, body: () => Promise<void>): Promise<void> => {
  try {
    await body();
    console.log(`ok ${name}`);
  } catch (error) {
    console.log(`not ok ${name}: ${(error as Error).stack ?? error}`);
    process.exit(1);
  }
};

const until = async (what: string, test: () => Promise<boolean>, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

/** Each escape would run 30 s; the server's word ends it after its 500 ms timeout. */
const ESCAPE_MS = 30_000;
/** Generous for a loaded machine, and far below what an escape would take. */
const ON_TIME_MS = 10_000;

const runtime: Runtime = await createRuntime({
  source: folderSource(folder),
  host: await workerHost(),
  maxWorkers: 6,
  log: () => {},
});
console.log(`# host ${host}`);

const terminal = async (id: string): Promise<TaskRecord> => {
  const record = await runtime.wait(id, ON_TIME_MS * 2);
  assert.ok(record, `task ${id} is gone`);
  return record;
};

for (const [name, fn] of [
  ['float64 trick', 'float64'],
  ['atomics and ports', 'tamper'],
  ['clocks, timers and postMessage', 'globals'],
] as const) {
  await check(name, async () => {
    const started = Date.now();
    const { id } = await runtime.submit(fn, [ESCAPE_MS]);
    const record = await terminal(id);
    const took = Date.now() - started;
    assert.equal(record.status, 'failed', JSON.stringify(record));
    assert.equal(record.errorCode, 'timed_out', JSON.stringify(record));
    assert.equal(record.error, 'timed out after 500 ms');
    assert.ok(took < ON_TIME_MS, `it ended after ${took} ms`);
    console.log(`# ${name}: timed out after ${took} ms`);
  });
}

await check('cancel', async () => {
  const marker = `cancelled-${host}.txt`;
  // Its own timeout is long: only the cancel may end it. It would write the marker at 1 s.
  const { id } = await runtime.submit('float64', [1_000, marker], { timeoutMs: 60_000 });
  await until('it to run', async () => (await runtime.result(id))?.status === 'running');
  const since = Date.now();
  assert.equal((await runtime.cancel(id)).status, 'cancelled');
  // Nothing tells when the marker would have been written: wait well past that moment.
  await until('the moment it would have written', async () => Date.now() - since > 2_500);
  assert.equal(existsSync(join(folder, 'out', marker)), false, 'the cancelled task ran on');
  assert.equal((await runtime.result(id))?.status, 'cancelled');
});

await check('throws that cannot be described', async () => {
  const first = await runtime.call('odd', ['fine']);
  for (const kind of ['unprintable', 'proxy']) {
    const record = await runtime.call('odd', [kind]);
    assert.equal(record.errorCode, 'function_threw', JSON.stringify(record));
    assert.match(record.error ?? '', /^the function failed with a (non-Error )?value/);
  }
  // The same worker still serves: the throws did not end it.
  const after = await runtime.call('odd', ['fine']);
  assert.equal(after.result, 'fine');
  assert.equal(after.workerId, first.workerId);
});

await runtime.close({ drainTimeoutMs: 1_000 });
console.log('# done');
