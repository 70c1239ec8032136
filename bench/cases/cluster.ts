/**
 * Case 8, several servers: real servers (`node --import tsx server/node.ts`, each in its own
 * process) over the trivial function, either one server alone in memory or N servers sharing a
 * private redis-server (started here, persistence off). All on this machine and 127.0.0.1.
 * - throughput: autocannon, `connections` per server, `POST /functions/inc/invoke` spread over
 *   every server at once, for `seconds` after an uncounted warm-up; invokes/s summed.
 * - latency: `count` invokes one after another on the first server; p50 and p99 in ms. The
 *   cluster's added latency per task is this p50 minus the in-memory server's.
 * Usage: cluster.ts <memory|redis> <servers> <seconds> <connections per server> <count>
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startRedis } from '../../test/support/redis.ts';
import { arg, emit, numberArg } from '../lib/emit.ts';
import { readListeningUrl } from '../lib/listening.ts';
import { percentile } from '../lib/stats.ts';

const mode = arg(0, 'redis');
const servers = numberArg(1, 1);
const seconds = numberArg(2, 5);
const connections = numberArg(3, 10);
const count = numberArg(4, 500);
const root = fileURLToPath(new URL('../..', import.meta.url));
const body = JSON.stringify({ args: [1] });
const headers = { 'content-type': 'application/json' };

const redis = mode === 'redis' ? await startRedis() : undefined;
const children: ChildProcess[] = [];

const startServer = (env: Record<string, string>) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/node.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      EBBFLOW_FUNCTIONS: 'bench/functions',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return readListeningUrl(child, /listening on (\S+)/);
};

try {
  // The server alone keeps its tasks in memory here, as its name says (nothing on disk).
  const env: Record<string, string> = redis
    ? { EBBFLOW_REDIS_URL: redis.url }
    : { EBBFLOW_STORE: 'memory' };
  const urls = await Promise.all(Array.from({ length: servers }, () => startServer(env)));
  const invoke = async (url: string, x: number) => {
    const res = await fetch(`${url}/functions/inc/invoke`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ args: [x] }),
    });
    const answer = (await res.json()) as { result?: unknown };
    if (res.status !== 200 || answer.result !== x + 1) throw new Error(`bad answer ${res.status}`);
  };
  for (const url of urls) await invoke(url, 1);

  const load = (duration: number) =>
    Promise.all(
      urls.map((url) =>
        autocannon({
          url,
          connections,
          duration,
          requests: [{ method: 'POST', path: '/functions/inc/invoke', headers, body }],
        }),
      ),
    );
  await load(Math.min(2, Math.max(1, Math.round(seconds / 5))));
  const results = await load(seconds);
  const bad = results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
  if (bad > 0) throw new Error(`${bad} requests failed`);
  const invokesPerSec = results.reduce((n, r) => n + r.requests.average, 0);

  const first = urls[0] as string;
  for (let i = 0; i < Math.min(100, count); i++) await invoke(first, i);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await invoke(first, i);
    samples.push(performance.now() - started);
  }
  emit({
    invokesPerSec,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
  });
} finally {
  for (const child of children) child.kill('SIGKILL');
  await redis?.stop();
}
