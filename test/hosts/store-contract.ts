/**
 * The `TaskBackend` contract suite over the embedded SQLite store on the host that runs this
 * script, with that host's own binding (Deno: `node:sqlite`; Bun: `bun:sqlite`; Node runs the
 * same suite under vitest, runtime/backend/contract.test.ts), then the store's own promises
 * there: a second opener refused, and the runs a closed store left `running` retried or failed
 * `server_lost` at the next open. Prints one `ok`/`not ok` line per test; exits 1 on a failure.
 * `vitest` resolves to test/hosts/vitest-shim.ts (host-store.test.ts runs this).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ContractTarget,
  describeTaskBackendContract,
  HALF_JITTER,
} from '../../runtime/backend/contract.test-suite.ts';
import { openSqliteStore } from '../../runtime/backend/sqlite/store.ts';
import { detectHost } from '../../runtime/host/detect.ts';
import { sqliteDriver } from '../../runtime/host/sqlite.ts';
import { ManualClock } from '../../runtime/time/manual-clock.ts';
import { describe, expect, it, run } from './vitest-shim.ts';

const host = detectHost();
const driver = await sqliteDriver(host);
const base = mkdtempSync(join(process.env.EBBFLOW_TEST_DIR ?? tmpdir(), 'store-'));
let files = 0;
const freshFile = () => join(base, `tasks-${++files}.db`);

const target: ContractTarget = {
  name: `sqlite on ${host} (${driver.name})`,
  clock: 'manual',
  capabilities: {
    sameInstantOrder: 'id',
    availability: 'exact',
    cap: 'global',
    reusesExpiredIds: true,
  },
  open: async ({ ttlMs, maxFinished }) => {
    const clock = new ManualClock();
    const logged: string[] = [];
    const backend = openSqliteStore({
      path: freshFile(),
      driver,
      ttlMs,
      maxResults: maxFinished,
      clock,
      random: HALF_JITTER,
      log: (message) => logged.push(message),
    });
    return {
      backend,
      now: () => clock.now(),
      advance: async (ms) => clock.advance(ms),
      sync: async () => {},
      throwingListener: async () => {
        backend.subscribe(() => {
          throw new Error('listener bug');
        });
      },
      logged,
      close: () => backend.close(),
    };
  },
};

console.log(`# host ${host} ${driver.name}`);
describe(target.name, () => {
  describeTaskBackendContract(target);

  const task = (id: string, attempts: number) => ({
    id,
    function: 'f',
    args: [id],
    timeoutMs: 1000,
    retry: { attempts, backoffMs: 0 },
    maxQueue: 100,
  });
  const limits = { ttlMs: 3_600_000, maxResults: 1000 };

  it('Should refuse a second store on the same file, naming it', async () => {
    const path = freshFile();
    const first = openSqliteStore({ path, driver, ...limits });
    try {
      expect(() => openSqliteStore({ path, driver, ...limits })).toThrow(
        expect.objectContaining({ code: 'store_locked', message: expect.stringContaining(path) }),
      );
    } finally {
      await first.close();
    }
    const again = openSqliteStore({ path, driver, ...limits });
    await again.close();
  });

  it('Should run again, at the next open, what a store left running; server_lost once attempts are spent', async () => {
    const path = freshFile();
    const first = openSqliteStore({ path, driver, ...limits });
    await first.submit(task('retried', 2));
    await first.submit(task('lost', 1));
    await first.submit(task('waiting', 1));
    await first.claim('f', 2, 1);
    await first.close();
    const second = openSqliteStore({ path, driver, ...limits });
    try {
      expect(second.recovered).toEqual({ queued: 1, lost: 2 });
      expect(await second.read('lost')).toMatchObject({
        status: 'failed',
        errorCode: 'server_lost',
      });
      expect(await second.read('retried')).toMatchObject({ status: 'queued', attempt: 2 });
      const claimed = await second.claim('f', 5, 2);
      expect(claimed.map((c) => `${c.id}:${c.attempt}`).sort()).toEqual(['retried:2', 'waiting:1']);
    } finally {
      await second.close();
    }
  });
});

const { passed, failed, skipped } = await run();
rmSync(base, { recursive: true, force: true });
console.log(`# ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (failed > 0) process.exit(1);
