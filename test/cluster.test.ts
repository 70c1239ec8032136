/**
 * Several servers sharing one Redis (docs/cluster.md): a Node, a Bun and a Deno server started as
 * users start them, with `EBBFLOW_REDIS_URL` pointing at a private redis-server. The test listens
 * on the servers' events channel itself and counts terminal events per task: a task reported twice
 * would show two.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysFor } from '../runtime/backend/redis/keys.ts';
import { CLUSTER_FUNCTIONS } from './support/functions.ts';
import { deadRedisUrl, REDIS_MISSING, type RedisServer, startRedis } from './support/redis.ts';
import {
  type Client,
  client,
  type Json,
  launch,
  NODE,
  RUNTIMES,
  type Server,
  type ServerRuntime,
  startServer,
  TERMINAL,
} from './support/server.ts';
import { until } from './support/wait.ts';

const keys = keysFor('ebbflow');
const LOST_AFTER_MS = 3_000;

/** The servers' settings: small pools, quick detection of a lost server. */
const clusterEnv = (url: string): Record<string, string> => ({
  EBBFLOW_REDIS_URL: url,
  EBBFLOW_FUNCTIONS: CLUSTER_FUNCTIONS,
  EBBFLOW_MIN_WORKERS: '1',
  EBBFLOW_MAX_WORKERS: '4',
  EBBFLOW_MONITOR_INTERVAL_MS: '500',
  EBBFLOW_CLUSTER_LOST_AFTER_MS: String(LOST_AFTER_MS),
});

/** Runs `work` over `items`, `width` at a time. */
const inParallel = async <T>(
  items: T[],
  width: number,
  work: (item: T, i: number) => Promise<void>,
) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i] as T, i);
      }
    }),
  );
};

const runtimes = RUNTIMES.filter((r) => r.missing === undefined);
// Three servers; with fewer runtimes selected, Node fills in.
const chosen: ServerRuntime[] = [0, 1, 2].map((i) => runtimes[i] ?? NODE);
/** A Bun server beside one of another kind: what a function that loads only off Bun needs. */
const mixedWithBun = chosen.some((r) => r.name === 'bun') && chosen.some((r) => r.name !== 'bun');

/** Without redis-server these are skipped, and `REDIS_MISSING` says so once. */
const noRedis = REDIS_MISSING !== undefined;

describe.skipIf(runtimes.length === 0 || noRedis)('several servers on one Redis', () => {
  let redis: RedisServer;
  let listener: Redis;
  let reader: Redis;
  const servers: Server[] = [];
  const apis: Client[] = [];
  /** Terminal events seen per task id. */
  const terminal = new Map<string, number>();

  beforeAll(async () => {
    redis = await startRedis();
    listener = new Redis(redis.url);
    reader = new Redis(redis.url);
    await listener.subscribe(keys.events);
    listener.on('message', (_channel: string, message: string) => {
      for (const record of (JSON.parse(message) as Json).records as Json[]) {
        if (TERMINAL.has(record.status))
          terminal.set(record.id, (terminal.get(record.id) ?? 0) + 1);
      }
    });
    const started = await Promise.all(chosen.map((r) => startServer(r, clusterEnv(redis.url))));
    servers.push(...started);
    apis.push(...started.map((s) => client(s.url)));
  }, 180_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop(20_000)));
    listener?.disconnect();
    reader?.disconnect();
    await redis?.stop();
  }, 60_000);

  /** The server whose pools run a task of `fn` now (by its own /stats). */
  const runningOn = async (fn: string, alive = apis): Promise<Client> => {
    let found: Client | undefined;
    await until(async () => {
      for (const api of alive) {
        const stats = await api.get('/stats');
        if ((stats.body.functions?.[fn]?.activeTasks ?? 0) > 0) found = api;
      }
      return found !== undefined;
    });
    return found as Client;
  };

  it('Should run 5,000 tasks submitted across the servers, each ending once, readable from every server', async () => {
    const tasks = Array.from({ length: 5_000 }, (_, i) => {
      const kind = i % 10 === 0 ? 'throw' : i % 10 === 1 ? 'flaky' : 'ok';
      return { kind, id: `many-${i}` };
    });
    await inParallel(tasks, 40, async ({ kind, id }, i) => {
      const body =
        kind === 'ok'
          ? { id, args: ['ok', i] }
          : { id, args: ['throw', i], retry: { attempts: kind === 'flaky' ? 3 : 1, backoffMs: 5 } };
      const res = await (apis[i % apis.length] as Client).post('/functions/work/tasks', body);
      expect(res.status, JSON.stringify(res.body)).toBe(202);
    });
    const records = new Map<string, Json>();
    await inParallel(tasks, 40, async ({ id }, i) => {
      records.set(id, await (apis[(i + 1) % apis.length] as Client).settle(id));
    });
    for (const [i, { kind, id }] of tasks.entries()) {
      const record = records.get(id);
      if (kind === 'ok')
        expect(record).toMatchObject({ status: 'completed', result: { value: i } });
      else {
        expect(record).toMatchObject({
          status: 'failed',
          errorCode: 'function_threw',
          attempt: kind === 'flaky' ? 3 : 1,
        });
      }
    }
    // Every server answers each of them with the same record.
    await inParallel(tasks, 40, async ({ id }) => {
      for (const api of apis) expect((await api.get(`/tasks/${id}`)).body).toEqual(records.get(id));
    });
    // One server lists them all, newest first, page by page.
    const listed = new Map<string, Json>();
    let before = '';
    for (;;) {
      const page = await (apis[2] as Client).get(`/tasks?function=work&limit=1000${before}`);
      expect(page.status).toBe(200);
      for (const record of page.body.tasks) listed.set(record.id, record);
      if (!page.body.next) break;
      before = `&before=${page.body.next}`;
    }
    for (const { id } of tasks) expect(listed.get(id)?.status).toBe(records.get(id).status);
    // A dead letter replayed through another server runs again, as a new task.
    const dead = tasks.find(({ kind }) => kind === 'throw') as { id: string };
    const replay = await (apis[1] as Client).post(`/tasks/${dead.id}/retry`);
    expect(replay.status).toBe(202);
    expect(replay.body.retryOf).toBe(dead.id);
    expect(await (apis[0] as Client).settle(replay.body.id)).toMatchObject({
      status: 'failed',
      errorCode: 'function_threw',
    });
    tasks.push({ kind: 'throw', id: replay.body.id });
    // Each server's metrics count the endings it reported: together, each task once.
    const counted = async () => {
      let sum = 0;
      for (const api of apis) {
        const text = (await api.get('/metrics')).body.raw as string;
        for (const m of text.matchAll(/^ebbflow_tasks_total\{function="work",[^}]*\} (\d+)$/gm)) {
          sum += Number(m[1]);
        }
      }
      return sum;
    };
    await until(async () => (await counted()) >= tasks.length);
    expect(await counted()).toBe(tasks.length);
    await until(() => tasks.every(({ id }) => terminal.has(id)));
    expect(
      tasks.filter(({ id }) => terminal.get(id) !== 1).map(({ id }) => [id, terminal.get(id)]),
    ).toEqual([]);
  }, 300_000);

  it('Should show cluster totals in /stats and /metrics on every server', async () => {
    for (const api of apis) {
      // The totals are a count refreshed twice a second: wait for the one after the last task.
      await until(async () => {
        const work = (await api.get('/stats')).body.cluster.functions.work;
        return work.queued === 0 && work.running === 0;
      });
      const stats = await api.get('/stats');
      expect(stats.body.cluster.servers).toHaveLength(apis.length);
      expect(stats.body.functions.work).toBeDefined();
      const metrics = (await api.get('/metrics')).body.raw as string;
      expect(metrics).toContain(`ebbflow_cluster_servers ${apis.length}`);
      expect(metrics).toContain('ebbflow_cluster_queued_tasks{function="work"} 0');
    }
    const ids = new Set(
      await Promise.all(apis.map(async (api) => (await api.get('/stats')).body.cluster.serverId)),
    );
    expect(ids.size).toBe(apis.length);
  });

  it('Should answer a long-poll on one server for a task running on another', async () => {
    const submitted = await (apis[0] as Client).post('/functions/hold/tasks', { args: [1_500] });
    expect(submitted.status).toBe(202);
    const runner = await runningOn('hold');
    const other = apis.find((api) => api !== runner) as Client;
    const polled = await other.get(`/tasks/${submitted.body.id}?wait=30000`);
    expect(polled.body).toMatchObject({ status: 'completed', result: { slept: 1_500 } });
  }, 60_000);

  it('Should cancel, from one server, a task running on another, stopping it there', async () => {
    const submitted = await (apis[1] as Client).post('/functions/hold/tasks', { args: [60_000] });
    const id = submitted.body.id as string;
    const runner = await runningOn('hold');
    const other = apis.find((api) => api !== runner) as Client;
    const cancelled = await other.del(`/tasks/${id}`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    // Stopped where it ran: that server's pool no longer counts it.
    await until(
      async () => ((await runner.get('/stats')).body.functions.hold.activeTasks ?? 0) === 0,
    );
    for (const api of apis) expect((await api.get(`/tasks/${id}`)).body.status).toBe('cancelled');
    expect((await other.del(`/tasks/${id}`)).status).toBe(409);
    await until(() => terminal.has(id));
    expect(terminal.get(id)).toBe(1);
  }, 60_000);

  it.skipIf(!mixedWithBun)(
    'Should leave the queue to the servers that can run a function one server cannot load',
    async () => {
      const bun = servers.findIndex((s) => s.runtime === 'bun');
      const others = apis.filter((_, i) => servers[i]?.runtime !== 'bun');
      const broken = apis[bun] as Client;
      expect((await broken.get('/functions/not-on-bun')).body).toMatchObject({
        status: 'unavailable',
      });
      // Submitted on the server that cannot run it, and on the others: none fails with
      // load_failed; the servers that loaded it run them all.
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) {
        const api = i % 2 === 0 ? broken : (others[i % others.length] as Client);
        const res = await api.post('/functions/not-on-bun/tasks', { args: [i] });
        expect(res.status).toBe(202);
        ids.push(res.body.id);
      }
      for (const [i, id] of ids.entries()) {
        const record = await broken.settle(id);
        expect(record).toMatchObject({ status: 'completed', result: { doubled: i * 2 } });
      }
      const invoked = await broken.post('/functions/not-on-bun/invoke', { args: [21] });
      expect(invoked.body).toMatchObject({ status: 'completed', result: { doubled: 42 } });
    },
    60_000,
  );

  it('Should retry elsewhere or fail with server_lost the tasks of a server killed mid-run', async () => {
    const ids: { id: string; attempts: number }[] = [];
    for (let i = 0; i < 18; i++) {
      const attempts = i % 2 === 0 ? 2 : 1;
      const res = await (apis[i % apis.length] as Client).post('/functions/hold/tasks', {
        id: `lost-${i}`,
        args: [6_000],
        retry: { attempts, backoffMs: 0 },
      });
      expect(res.status).toBe(202);
      ids.push({ id: res.body.id, attempts });
    }
    // The victim: the server running the most of them; what it runs, read from its run marks.
    const victim = await runningOn('hold');
    const victimIndex = apis.indexOf(victim);
    const victimId = (await victim.get('/stats')).body.cluster.serverId as string;
    (servers[victimIndex] as Server).kill();
    await (servers[victimIndex] as Server).exited;
    // What it held when it died: its held set. Read after the kill, so a claim it made in the
    // last moment counts too; its lease outlives it by up to half the lost-after time, and its
    // held set is emptied only when another server takes its runs back.
    const onVictim = new Set(await reader.smembers(keys.held(victimId)));
    expect(onVictim.size).toBeGreaterThan(0);
    const alive = apis.filter((api) => api !== victim);
    for (const { id, attempts } of ids) {
      const record = await (alive[0] as Client).settle(id);
      if (!onVictim.has(id)) expect(record).toMatchObject({ status: 'completed', attempt: 1 });
      else if (attempts === 2) expect(record).toMatchObject({ status: 'completed', attempt: 2 });
      else {
        expect(record).toMatchObject({
          status: 'failed',
          errorCode: 'server_lost',
          error: 'the server running it was lost',
        });
      }
      for (const api of alive)
        expect((await api.get(`/tasks/${id}`)).body.status).toBe(record.status);
    }
    await until(() => ids.every(({ id }) => terminal.has(id)));
    expect(ids.filter(({ id }) => terminal.get(id) !== 1)).toEqual([]);
    servers.splice(victimIndex, 1);
    apis.splice(victimIndex, 1);
  }, 120_000);

  it('Should let a draining server finish what it runs and leave the queue to the others', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await (apis[i % apis.length] as Client).post('/functions/hold/tasks', {
        args: [1_500],
      });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    const leaving = servers[0] as Server;
    await until(async () => ((await (apis[0] as Client).get('/stats')).body.activeTasks ?? 0) > 0);
    expect(await leaving.stop(30_000)).toBe(0);
    const staying = apis[1] as Client;
    for (const id of ids) {
      expect(await staying.settle(id)).toMatchObject({
        status: 'completed',
        result: { slept: 1_500 },
      });
    }
    servers.splice(0, 1);
    apis.splice(0, 1);
  }, 120_000);
});

describe.skipIf(noRedis)('a server on Redis that goes away', () => {
  it('Should refuse to start when Redis cannot be reached, naming the URL', async () => {
    const url = await deadRedisUrl();
    const started = launch(NODE, clusterEnv(url));
    const code = await started.exited;
    expect(code).toBe(1);
    expect(started.stderr()).toContain(`cannot reach Redis at ${url}`);
  }, 60_000);

  it('Should answer 503 within EBBFLOW_REDIS_TIMEOUT_MS while Redis hangs (SIGSTOP), keep /health, and recover on SIGCONT', async () => {
    const redis = await startRedis();
    const timeoutMs = 1_000;
    const server = await startServer(NODE, {
      ...clusterEnv(redis.url),
      EBBFLOW_REDIS_TIMEOUT_MS: String(timeoutMs),
    });
    const api = client(server.url);
    try {
      const held = await api.post('/functions/hold/tasks', { id: 'held', args: [30_000] });
      expect(held.status).toBe(202);
      const waiting = api.post('/functions/hold/invoke', { args: [30_000] });
      await until(async () => (await api.get('/stats')).body.functions.hold.activeTasks === 2);
      redis.pause();
      const timed = async (request: Promise<Json>) => {
        const started = Date.now();
        const answer = await request;
        return { answer, ms: Date.now() - started };
      };
      const answers = await Promise.all([
        timed(api.post('/functions/work/tasks', { id: 'frozen', args: ['ok', 1] })),
        timed(api.post('/functions/work/invoke', { args: ['ok', 2] })),
        timed(api.get('/tasks/held')),
        timed(api.get('/tasks/held?wait=20000')),
        timed(api.get('/tasks?limit=5')),
        timed(api.del('/tasks/held')),
        timed(api.post('/tasks/held/retry')),
        timed(waiting),
      ]);
      for (const { answer, ms } of answers) {
        expect(answer.status, JSON.stringify(answer.body)).toBe(503);
        expect(answer.body.error.code).toBe('backend_unavailable');
        // The bound is the setting; the slack is for a loaded machine, far below a hang.
        expect(ms).toBeLessThan(timeoutMs + 4_000);
      }
      // Liveness stays: restarting a server does not bring Redis back. /stats says it.
      expect((await api.get('/health')).status).toBe(200);
      await until(async () => (await api.get('/stats')).body.cluster.reachable === false);
      expect((await api.get('/metrics')).body.raw).toContain('\nebbflow_cluster_reachable 0\n');
      redis.resume();
      await until(async () => (await api.get('/stats')).body.cluster.reachable === true);
      // The submit Redis ran late, after its 503, made no task; the held one still runs.
      expect((await api.get('/tasks/frozen')).status).toBe(404);
      expect((await api.get('/tasks/held')).body.status).toBe('running');
      const after = await api.post('/functions/work/invoke', { args: ['ok', 3] });
      expect(after.status).toBe(200);
      expect(after.body.result).toEqual({ value: 3 });
      expect((await api.del('/tasks/held')).body.status).toBe('cancelled');
    } finally {
      redis.resume();
      await server.stop(20_000);
      await redis.stop();
    }
  }, 120_000);

  it('Should answer 503, never a queued record, to an invoke whose task Redis lost', async () => {
    const redis = await startRedis();
    const server = await startServer(NODE, clusterEnv(redis.url));
    const api = client(server.url);
    const reader = new Redis(redis.url);
    try {
      // Its task's hash deleted while it runs, then all of Redis flushed while another runs.
      for (const lose of [(id: string) => reader.del(keys.task(id)), () => reader.flushall()]) {
        const id = `lost-${Math.random().toString(36).slice(2)}`;
        const invoked = api.post('/functions/hold/invoke', { id, args: [1_500] });
        await until(async () => (await reader.hget(keys.task(id), 'st')) === 'running');
        await lose(id);
        const answer = await invoked;
        expect(answer.status, JSON.stringify(answer.body)).toBe(503);
        expect(answer.body.error.code).toBe('backend_unavailable');
        expect(answer.body.error.message).toContain(id);
      }
      // The server goes on: a new invoke runs.
      const after = await api.post('/functions/hold/invoke', { args: [10] });
      expect(after.status).toBe(200);
    } finally {
      reader.disconnect();
      await server.stop(20_000);
      await redis.stop();
    }
  }, 120_000);

  it('Should answer 503 while Redis is lost, stay up, and resume when it returns', async () => {
    const redis = await startRedis();
    const server = await startServer(NODE, clusterEnv(redis.url));
    const api = client(server.url);
    try {
      const before = await api.post('/functions/work/tasks', { args: ['ok', 1] });
      expect(before.status).toBe(202);
      await api.settle(before.body.id);
      await redis.stop();
      let refused: Json;
      await until(async () => {
        refused = await api.post('/functions/work/tasks', { args: ['ok', 2] });
        return refused.status === 503;
      });
      expect(refused.body.error.code).toBe('backend_unavailable');
      expect(refused.body.error.message).toContain(redis.url);
      expect((await api.get('/health')).status).toBe(200);
      await redis.restart();
      let accepted: Json;
      await until(async () => {
        accepted = await api.post('/functions/work/tasks', { args: ['ok', 3] });
        return accepted.status === 202;
      });
      expect(await api.settle(accepted.body.id)).toMatchObject({
        status: 'completed',
        result: { value: 3 },
      });
    } finally {
      await server.stop(20_000);
      await redis.stop();
    }
  }, 120_000);
});
