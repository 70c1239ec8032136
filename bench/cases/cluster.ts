/**
 * Case 10, several servers: real servers (`node --import tsx server/node.ts`, each in its own
 * process) sharing a private redis-server (started here, persistence off), or one server alone
 * in memory. All on this machine and 127.0.0.1.
 * - throughput: autocannon, `connections` per server, `POST /functions/<fn>/invoke` spread over
 *   every server at once, for `seconds` after an uncounted warm-up; invokes/s summed.
 * - latency: `count` invokes one after another on the first server; p50 and p99 in ms.
 * - Redis's own counters (`INFO`) around each phase: commands per task (those inside scripts
 *   included), script calls per task (each one round trip), Redis CPU per task. In the sequential
 *   phase, round trips per task = script calls and transactions per invoke, less what the servers
 *   send anyway while idle (their ticks), measured for a second just before.
 * Modes:
 * - `memory` / `redis`: the trivial function `inc` (bench/functions), as a user would run it.
 * - `capped`: `nap-capped` (bench/cluster-functions): one worker per server, 16 tasks at a time,
 *   each waiting `napMs`: a server is capped at 16000 / napMs tasks/s whatever the cores, so the
 *   servers' sum shows whether the shared queue lets each added server bring its share.
 * - `capacity`: no servers; `redis-benchmark` (SET and GET, 50 clients, `count` requests each,
 *   200,000 when 0) on the same kind of Redis.
 * Usage: cluster.ts <memory|redis|capped|capacity> <servers> <seconds> <connections per server>
 *   <count> [napMs]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startRedis } from '../../test/support/redis.ts';
import { arg, emit, numberArg } from '../lib/emit.ts';
import { readListeningUrl } from '../lib/listening.ts';
import { perTask, readRedis } from '../lib/redis-info.ts';
import { percentile } from '../lib/stats.ts';

const mode = arg(0, 'redis');
const servers = numberArg(1, 1);
const seconds = numberArg(2, 5);
const connections = numberArg(3, 10);
const count = numberArg(4, 500);
const napMs = numberArg(5, 25);
const root = fileURLToPath(new URL('../..', import.meta.url));
const headers = { 'content-type': 'application/json' };
const capped = mode === 'capped';
const fn = capped ? 'nap-capped' : 'inc';
const body = JSON.stringify({ args: [capped ? napMs : 1] });

const redis = mode === 'memory' ? undefined : await startRedis();
const children: ChildProcess[] = [];

const startServer = (env: Record<string, string>) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/node.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      EBBFLOW_FUNCTIONS: capped ? 'bench/cluster-functions' : 'bench/functions',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return readListeningUrl(child, /listening on (\S+)/);
};

/**
 * A process and every process under it (Linux: /proc). A server started by hand becomes its own
 * launcher (server/launcher.ts): the server that does the work is the launcher's child.
 */
const family = (pid: number): number[] => {
  const pids = [pid];
  for (const thread of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${thread}/children`, 'utf8').trim();
    for (const child of children ? children.split(' ') : []) pids.push(...family(Number(child)));
  }
  return pids;
};

/** CPU seconds the servers used so far, their launchers and all threads (Linux: /proc; else NaN). */
const serversCpu = () => {
  let ticks = 0;
  for (const child of children) {
    try {
      for (const pid of family(child.pid as number)) {
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ');
        ticks += Number(fields?.[11]) + Number(fields?.[12]);
      }
    } catch {
      return Number.NaN;
    }
  }
  return ticks / 100;
};

/** redis-benchmark's requests per second for SET and GET, 50 clients, no pipelining. */
const capacity = (port: number, requests: number) => {
  const out = spawnSync(
    'redis-benchmark',
    ['-p', String(port), '-q', '--csv', '-n', String(requests), '-c', '50', '-t', 'set,get'],
    { encoding: 'utf8' },
  );
  if (out.status !== 0) throw new Error(`redis-benchmark failed: ${out.stderr}`);
  const rate = (test: string) =>
    Number(new RegExp(`^"${test}","([\\d.]+)"`, 'm').exec(out.stdout)?.[1] ?? Number.NaN);
  return { setPerSec: rate('SET'), getPerSec: rate('GET') };
};

try {
  if (mode === 'capacity')
    emit(capacity((redis as NonNullable<typeof redis>).port, count || 200_000));
  else await measure();
} finally {
  for (const child of children) child.kill('SIGKILL');
  await redis?.stop();
}

async function measure() {
  // The server alone keeps its tasks in memory here, as its name says (nothing on disk).
  const env: Record<string, string> = redis
    ? { EBBFLOW_REDIS_URL: redis.url }
    : { EBBFLOW_STORE: 'memory' };
  const urls = await Promise.all(Array.from({ length: servers }, () => startServer(env)));
  const invoke = async (url: string, x: number) => {
    const res = await fetch(`${url}/functions/${fn}/invoke`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ args: [capped ? napMs : x] }),
    });
    const answer = (await res.json()) as { result?: unknown };
    const expected = capped ? napMs : x + 1;
    if (res.status !== 200 || answer.result !== expected)
      throw new Error(`bad answer ${res.status}`);
  };
  for (const url of urls) await invoke(url, 1);

  const load = (duration: number) =>
    Promise.all(
      urls.map((url) =>
        autocannon({
          url,
          connections,
          duration,
          requests: [{ method: 'POST', path: `/functions/${fn}/invoke`, headers, body }],
        }),
      ),
    );
  await load(Math.min(2, Math.max(1, Math.round(seconds / 5))));
  const before = redis && readRedis(redis.port);
  const cpuBefore = serversCpu();
  const results = await load(seconds);
  const cpuAfter = serversCpu();
  const after = redis && readRedis(redis.port);
  const bad = results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
  if (bad > 0) throw new Error(`${bad} requests failed`);
  const invokesPerSec = results.reduce((n, r) => n + r.requests.average, 0);
  const invoked = results.reduce((n, r) => n + r.requests.total, 0);
  // The servers' own CPU per task (workers included), whatever else the machine runs.
  const figures: Record<string, unknown> = {
    invokesPerSec,
    serverCpuUsPerTask: ((cpuAfter - cpuBefore) * 1e6) / invoked,
  };
  if (capped) figures.capPerServer = (16 * 1000) / napMs;
  if (before && after) Object.assign(figures, perTask(before, after, invoked));

  if (!capped && count > 0) {
    const first = urls[0] as string;
    for (let i = 0; i < Math.min(100, count); i++) await invoke(first, i);
    // What the servers send while idle (their ticks), subtracted from the sequential phase.
    const idleFrom = redis && readRedis(redis.port);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const idleTo = redis && readRedis(redis.port);
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      await invoke(first, i);
      samples.push(performance.now() - started);
    }
    const done = redis && readRedis(redis.port);
    figures.p50Ms = percentile(samples, 50);
    figures.p99Ms = percentile(samples, 99);
    if (idleFrom && idleTo && done) {
      const idle = perTask(idleFrom, idleTo, 1);
      const sequential = perTask(idleTo, done, count);
      const idlePerSec =
        (idle.scriptCallsPerTask + idle.transactionsPerTask) / ((idleTo.at - idleFrom.at) / 1000);
      const busySeconds = (done.at - idleTo.at) / 1000;
      figures.roundTripsPerTask =
        sequential.scriptCallsPerTask +
        sequential.transactionsPerTask -
        (idlePerSec * busySeconds) / count;
      figures.sequentialCommandsPerTask = sequential.commandsPerTask;
    }
  }
  emit(figures);
}
