/**
 * Deploys, in-process over a temporary copy of the fixtures (a writable folder, the Node host):
 * - `first-result`: `deploy()` of a new version → the first result that version gives (ms),
 *   beside a cold start of the same function (spawn, load, run) as the peer.
 * - `throughput`: trivial calls from `inflight` callers for `seconds`, once undisturbed and once
 *   while the function is redeployed every second; tasks/s of each and their ratio.
 * Usage: deploy.ts first-result <rounds> | deploy.ts throughput <seconds> <inflight>
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { folderSource } from '../../runtime/host/fs-source.ts';
import { nodeHost } from '../../runtime/host/node.ts';
import { createRuntime, type Runtime } from '../../runtime/index.ts';
import { arg, emit, numberArg } from '../lib/emit.ts';
import { FIXTURES } from '../lib/fixture-runtime.ts';
import { spread } from '../lib/stats.ts';

const mode = arg(0, 'first-result');
/** The trivial function, answering with its version's tag so a mixed-up result shows. */
const source = (tag: number, minWorkers = 2) =>
  `export const config = { maxQueue: 1000000, minWorkers: ${minWorkers} };\nexport default (x) => [x + 1, ${tag}];\n`;

const dir = await mkdtemp(join(tmpdir(), 'ebbflow-bench-deploy-'));
await cp(join(FIXTURES, 'inc.ts'), join(dir, 'inc.ts'));
const runtime: Runtime = await createRuntime({
  source: folderSource(dir),
  host: nodeHost(),
  minWorkers: 2,
  maxWorkers: 4,
  log: () => {},
});
const check = (record: { status: string; result?: unknown; error?: string }) => {
  if (record.status !== 'completed') throw new Error(`task failed: ${record.error}`);
  return record.result as [number, number];
};

try {
  if (mode === 'first-result') {
    const rounds = numberArg(1, 5);
    const deploys: number[] = [];
    const colds: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      let started = performance.now();
      await runtime.deploy('hot', source(round), 'js');
      const [, tag] = check(await runtime.call('hot', [1]));
      deploys.push(performance.now() - started);
      if (tag !== round) throw new Error(`version ${round} answered as ${tag}`);
      // The peer: a cold start (a new worker loading the module, then the run) of a function
      // whose module is already bundled and checked.
      const name = `cold${round}`;
      await runtime.deploy(name, source(round, 0), 'js');
      started = performance.now();
      check(await runtime.call(name, [1]));
      colds.push(performance.now() - started);
    }
    emit({ ms: spread(deploys).median, coldMs: spread(colds).median, rounds });
  } else if (mode === 'throughput') {
    const seconds = numberArg(1, 5);
    const inflight = numberArg(2, 32);
    await runtime.deploy('hot', source(0), 'js');
    const measure = async (redeploy: boolean): Promise<number> => {
      let done = 0;
      let version = 0;
      const until = performance.now() + seconds * 1000;
      const callers = Array.from({ length: inflight }, async () => {
        while (performance.now() < until) {
          const [value] = check(await runtime.call('hot', [done]));
          if (typeof value !== 'number') throw new Error('garbled result');
          done++;
        }
      });
      const deployer = (async () => {
        while (redeploy && performance.now() + 1000 < until) {
          await new Promise((resolve) => setTimeout(resolve, 1000));
          await runtime.deploy('hot', source(++version), 'js');
        }
      })();
      await Promise.all([...callers, deployer]);
      return done / seconds;
    };
    const still = await measure(false);
    const redeploying = await measure(true);
    emit({ tasksPerSec: redeploying, stillTasksPerSec: still, ratio: redeploying / still });
  } else {
    throw new Error(`unknown mode "${mode}"`);
  }
} finally {
  await runtime.close({ drainTimeoutMs: 5_000 });
  await rm(dir, { recursive: true, force: true });
}
