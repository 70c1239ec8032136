/**
 * The runtime core on whatever host runs this script (Node through tsx, Deno, Bun), with real
 * workers: call, throw, timeout, cancel, exits, crashes, the sandbox and load failures. Prints
 * one `ok <check>` line per check and exits 1 on the first failure. host-runtime.test.ts runs it
 * on all three hosts.
 */
import assert from 'node:assert/strict';
import { detectHost } from '../../runtime/host/detect.ts';
import { folderSource } from '../../runtime/host/fs-source.ts';
import type { FailureCode, Runtime, TaskRecord } from '../../runtime/index.ts';
import { createRuntime } from '../../runtime/index.ts';
import type { WorkerHost } from '../../runtime/worker-host.ts';

const host = detectHost();
const here = new URL('.', import.meta.url);
const examples = new URL('../../functions/', here);
const fixtures = new URL('../fixtures/hosts/', here);
const outside = new URL('../../package.json', here);

// A quick heartbeat (idle workers retired after about 1 s of silence) makes the checks short.
const HEARTBEAT_MS = 250;
const workerHost = async (): Promise<WorkerHost> => {
  if (host === 'deno')
    return (await import('../../runtime/host/deno.ts')).denoHost({ heartbeatMs: HEARTBEAT_MS });
  if (host === 'bun')
    return (await import('../../runtime/host/bun.ts')).bunHost({ heartbeatMs: HEARTBEAT_MS });
  return (await import('../../runtime/host/node.ts')).nodeHost();
};

const logged: string[] = [];
const open = async (folder: URL): Promise<Runtime> =>
  createRuntime({
    source: folderSource(decodeURIComponent(folder.pathname)),
    host: await workerHost(),
    minWorkers: 1,
    maxWorkers: 8,
    log: (message) => logged.push(message),
  });

const check = async (name: string, body: () => Promise<void>): Promise<void> => {
  try {
    await body();
    console.log(`ok ${name}`);
  } catch (error) {
    console.log(`not ok ${name}: ${(error as Error).stack ?? error}`);
    process.exit(1);
  }
};

const until = async (what: string, test: () => boolean, ms = 15_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

const failed = (record: TaskRecord, pattern: RegExp, code?: FailureCode) => {
  assert.equal(record.status, 'failed', JSON.stringify(record));
  if (code) assert.equal(record.errorCode, code, JSON.stringify(record));
  assert.match(record.error ?? '', pattern);
};

console.log(`# host ${host}`);
const started = Date.now();
const ex = await open(examples);
console.log(`# examples ready in ${Date.now() - started} ms`);

await check('call', async () => {
  const record = await ex.call('fib', [20]);
  assert.equal(record.status, 'completed', JSON.stringify(record));
  assert.equal(record.result, 6765);
  assert.equal((await ex.call('wordcount', ['a b a'])).status, 'completed');
});

await check('throw', async () => {
  failed(await ex.call('fib', [-1]), /^RangeError: n must be an integer/, 'function_threw');
  assert.equal((await ex.call('fib', [10])).result, 55);
});

await check('timeout', async () => {
  failed(
    await ex.call('sleep', [10_000], { timeoutMs: 300 }),
    /^timed out after 300 ms$/,
    'timed_out',
  );
  assert.equal((await ex.call('sleep', [5])).status, 'completed');
});

await check('cancel', async () => {
  const { id } = await ex.submit('sleep', [10_000]);
  let status: string | undefined;
  await until('the task to run', () => {
    void ex.result(id).then((r) => {
      status = r?.status;
    });
    return status === 'running';
  });
  assert.equal((await ex.cancel(id)).status, 'cancelled');
  assert.equal((await ex.call('sleep', [5])).status, 'completed');
});

await ex.close({ drainTimeoutMs: 5_000 });

const fx = await open(fixtures);

await check('load failure', async () => {
  const info = fx.getFunction('throws-at-load');
  assert.equal(info?.status, 'unavailable');
  assert.match(info?.error ?? '', /this module refuses to load/);
  failed(await fx.call('throws-at-load', []), /this module refuses to load/, 'load_failed');
});

await check('exit', async () => {
  failed(await fx.call('exits', [3]), /exited with code 3/, 'worker_exited');
  failed(await fx.call('closes', []), /exited/);
  await until('the replacement worker', () => fx.getFunction('exits')?.activeWorkers === 1);
  failed(await fx.call('exits', [0]), /exited with code 0/);
});

await check('crash', async () => {
  const record = await fx.call('crashes', []);
  assert.equal(record.result, 'scheduled', JSON.stringify(record));
  const firstWorker = record.workerId;
  // The timer's throw ends that worker; a new one replaces it and serves the next call.
  await until('a replacement worker', () => {
    const stats = fx.stats().functions.crashes;
    return (stats?.coldStarts ?? 0) >= 2 && fx.getFunction('crashes')?.activeWorkers === 1;
  });
  const next = await fx.call('crashes', []);
  assert.notEqual(next.workerId, firstWorker);
});

await check('busy worker', async () => {
  // Busy far longer than the heartbeat's patience: only idle workers must answer pings.
  const record = await fx.call('burns', [8 * HEARTBEAT_MS]);
  assert.equal(record.status, 'completed', JSON.stringify(record));
});

// Node has no heartbeat: there, the next task's timeout is what ends such a worker.
if (host !== 'node') {
  await check('stalled worker', async () => {
    const first = await fx.call('stalls', []);
    assert.equal(first.result, 'stalled');
    // The worker can answer nothing now; the host's heartbeat must retire and replace it.
    await until('a replacement', () => (fx.stats().functions.stalls?.coldStarts ?? 0) >= 2);
    const next = await fx.call('stalls', [], { timeoutMs: 20_000 });
    assert.equal(next.status, 'completed', JSON.stringify(next));
    assert.notEqual(next.workerId, first.workerId);
  });
}

await check('sandbox', async () => {
  const record = await fx.call('snoops', [decodeURIComponent(outside.pathname)]);
  assert.equal(record.status, 'completed', JSON.stringify(record));
  const seen = record.result as Record<string, string>;
  // Every host keeps the server's variables from functions.
  assert.equal(seen.env, host === 'deno' ? 'denied: NotCapable' : 'allowed: undefined');
  if (host === 'deno') {
    assert.deepEqual(seen, {
      env: 'denied: NotCapable',
      read: 'denied: NotCapable',
      net: 'denied: NotCapable',
    });
  }
  console.log(`# sandbox on ${host}: ${JSON.stringify(seen)}`);
  const outsider = fx.getFunction('imports-outside');
  if (host === 'deno') {
    assert.equal(outsider?.status, 'unavailable');
    // Plain text for HTTP clients: Deno's colour codes are stripped.
    const error = outsider?.error ?? '';
    assert.match(error, /^the module failed to load: .*Requires read access to ".*package\.json"/);
    assert.ok(!error.includes(String.fromCharCode(27)), error);
  } else {
    assert.equal((await fx.call('imports-outside', [])).result, 'ebbflow');
  }
  assert.equal((await fx.call('granted', [])).result, 'granted-value');
});

await fx.close({ drainTimeoutMs: 5_000 });
console.log(`# done in ${Date.now() - started} ms`);
