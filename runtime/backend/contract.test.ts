/**
 * The `TaskBackend` contract (`contract.test-suite.ts`) over every store: memory on a manual
 * clock, Redis on a private `redis-server` (real time), and the edge's
 * `SqlTaskTable` in a Durable Object on workerd's SQLite (Miniflare, on a manual clock).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { type EdgeTables, startEdgeTables } from '../../edge/testing/table-driver.ts';
import { REDIS_MISSING, type RedisServer, startRedis } from '../../test/support/redis.ts';
import { libsqlDriver } from '../host/sqlite-libsql.ts';
import { ManualClock } from '../time/manual-clock.ts';
import {
  type ContractTarget,
  describeTaskBackendContract,
  HALF_JITTER,
} from './contract.test-suite.ts';
import { MemoryTaskBackend } from './memory/backend.ts';
import { createRedisBackend } from './redis/backend.ts';
import { openSqliteStore } from './sqlite/store.ts';

/** Started on first use, stopped after the file. */
const once = <T>(start: () => Promise<T>, stop: (value: T) => Promise<void>) => {
  let started: Promise<T> | undefined;
  afterAll(async () => {
    if (started) await stop(await started);
  });
  return () => {
    started ??= start();
    return started;
  };
};

const listenerBug = () => {
  throw new Error('listener bug');
};

const memory: ContractTarget = {
  name: 'memory',
  clock: 'manual',
  capabilities: {
    sameInstantOrder: 'submission',
    availability: 'exact',
    cap: 'global',
    reusesExpiredIds: true,
  },
  open: async ({ ttlMs, maxFinished }) => {
    const clock = new ManualClock();
    const logged: string[] = [];
    const backend = new MemoryTaskBackend({
      ttlMs,
      maxFinished,
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
        backend.subscribe(listenerBug);
      },
      logged,
      close: () => backend.close(),
    };
  },
};

const redisServer = once<RedisServer>(startRedis, (server) => server.stop());
let prefixes = 0;

const redis: ContractTarget = {
  name: 'redis',
  clock: 'real',
  capabilities: {
    sameInstantOrder: 'submission',
    // Each server's tick (twice a second) tells every function with tasks a claim can take
    // (waiting, or due after their backoff), so a server wakes without a timer per task.
    availability: 'reminders',
    // Every finished task is in one set by end time, trimmed as tasks end.
    cap: 'global',
    // A finished record is a key with a time to live: Redis deletes it, and its id is free.
    reusesExpiredIds: true,
  },
  open: async ({ ttlMs, maxFinished }) => {
    const server = await redisServer();
    const logged: string[] = [];
    const backend = await createRedisBackend({
      url: server.url,
      prefix: `contract${++prefixes}`,
      resultTtlMs: ttlMs,
      maxResults: maxFinished,
      log: (message) => logged.push(message),
    });
    return {
      backend,
      now: () => Date.now(),
      sync: () => backend.cluster.refresh(),
      throwingListener: async () => {
        backend.subscribe(listenerBug);
      },
      logged,
      close: () => backend.close(),
    };
  },
};

const edgeTables = once<EdgeTables>(startEdgeTables, (tables) => tables.dispose());

const edge: ContractTarget = {
  name: 'edge (SqlTaskTable in a Durable Object)',
  clock: 'manual',
  capabilities: {
    // Tasks are spread over shards that share no sequence: one order every shard can page
    // through is (submittedAt, id), so the same millisecond falls back to the id.
    sameInstantOrder: 'id',
    // No timer waits for a backoff's end in a Durable Object: one is lost when the object is
    // evicted, and from compatibility date 2026-10-01 it keeps the object running (billed) for
    // the whole wait. Its alarm, set for the table's nextDue(), claims what came due.
    availability: 'no-timers',
    cap: 'global',
    reusesExpiredIds: true,
  },
  open: async (limits) => {
    const table = await (await edgeTables()).open({
      ttlMs: limits.ttlMs,
      maxResults: limits.maxFinished,
    });
    return {
      backend: table,
      now: () => table.now(),
      advance: (ms) => table.advance(ms),
      sync: async () => {},
      throwingListener: () => table.throwingListener(),
      logged: table.logged,
      close: () => table.close(),
    };
  },
};

const sqlite: ContractTarget = {
  name: 'sqlite (the embedded store, libsql on Node)',
  clock: 'manual',
  capabilities: {
    // The same rows and listing as the edge's table (one module): by submission time, then id.
    sameInstantOrder: 'id',
    // One timer, set for the first backoff to end, tells the functions whose tasks came due.
    availability: 'exact',
    cap: 'global',
    reusesExpiredIds: true,
  },
  open: async ({ ttlMs, maxFinished }) => {
    const folder = mkdtempSync(join(tmpdir(), 'ebbflow-contract-'));
    const clock = new ManualClock();
    const logged: string[] = [];
    const backend = openSqliteStore({
      path: join(folder, 'tasks.db'),
      driver: libsqlDriver,
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
        backend.subscribe(listenerBug);
      },
      logged,
      close: async () => {
        await backend.close();
        rmSync(folder, { recursive: true, force: true });
      },
    };
  },
};

describe.each([memory, sqlite, redis, edge])('$name task backend', (target) => {
  if (target === redis && REDIS_MISSING) {
    it.skip(REDIS_MISSING, () => {});
    return;
  }
  describeTaskBackendContract(target);
});
