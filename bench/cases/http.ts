/**
 * Case 5, HTTP: this process is the load generator (autocannon), the server runs in a child
 * process (bench/http/server.ts); both on 127.0.0.1. req/s and p99 latency, after a warm-up
 * run of 1-2 s that is not counted.
 * Modes: `invoke` (POST /functions/inc/invoke), `poll` (POST /functions/inc/tasks, then
 * GET /tasks/:id?wait=5000: two requests per task), `inline` (the plain Hono handler).
 * `handler`: `POST /fn/inc-http/`, the same addition in a function's `fetch` export.
 * The store (case 11): `memory` (default), `sqlite` or `sqlite-full`; with SQLite, the commits
 * of the measured run per second and the tasks each took (group commit at work).
 * Usage: http.ts <invoke|poll|inline|handler> <connections> <seconds> [store]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { arg, emit, numberArg } from '../lib/emit.ts';
import { readListeningUrl } from '../lib/listening.ts';
import { loadFigures } from '../lib/load-figures.ts';
import { pollRequests } from '../lib/poll.ts';
import { stopAndReadCpuMs } from '../lib/server-cpu.ts';

const mode = arg(0, 'invoke');
const connections = numberArg(1, 10);
const seconds = numberArg(2, 10);
const store = arg(3, 'memory');
const warmupSeconds = Math.min(2, Math.max(1, Math.round(seconds / 5)));
const body = JSON.stringify({ args: [1] });
const headers = { 'content-type': 'application/json' };

/** What the server printed: its address, then the store's counts at the mark and at the end. */
let printed = '';

const startServer = async (impl: string): Promise<{ url: string; child: ChildProcess }> => {
  const script = fileURLToPath(new URL('../http/server.ts', import.meta.url));
  const flags = process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', script, impl, store], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    printed += chunk.toString();
  });
  const url = await readListeningUrl(child, /listening (\S+)/);
  return { url, child };
};

/** The store's commits during the measured run: per second, and tasks per commit. */
const commitFigures = (secs: number) => {
  const read = (tag: string) => {
    const line = new RegExp(`^${tag} (.*)$`, 'm').exec(printed)?.[1];
    return line ? (JSON.parse(line) as { commits: number; tasksCommitted: number }) : undefined;
  };
  const [mark, end] = [read('mark'), read('store')];
  if (!mark || !end) return {};
  const commits = end.commits - mark.commits;
  return {
    commitsPerSec: commits / secs,
    tasksPerCommit: commits > 0 ? (end.tasksCommitted - mark.tasksCommitted) / commits : 0,
  };
};

const server = mode === 'inline' || mode === 'handler' ? mode : 'ebbflow';
const path = mode === 'handler' ? '/fn/inc-http/' : '/functions/inc/invoke';
const { url, child } = await startServer(server);
const exited = once(child, 'exit');
try {
  // One request by hand first: the route answers what a client expects.
  const check = await fetch(`${url}${path}`, { method: 'POST', headers, body });
  const answer = (await check.json()) as { result?: unknown };
  if (check.status !== 200 || answer.result !== 2) throw new Error(`bad answer ${check.status}`);

  const requests: autocannon.Request[] =
    mode === 'poll' ? pollRequests(headers, body) : [{ method: 'POST', path, headers, body }];
  // A warm-up run first, discarded: both servers' code is compiled by then.
  await autocannon({ url, connections, duration: warmupSeconds, requests });
  child.kill('SIGUSR2');
  const result = await autocannon({ url, connections, duration: seconds, requests });
  const cpuMs = await stopAndReadCpuMs(child);
  emit({
    ...loadFigures(result, mode === 'poll' ? 2 : 1),
    // CPU time of the server process (all threads) per request, in µs: what the server pays for
    // one request, less sensitive than req/s to other load on a shared machine.
    serverCpuUsPerReq: (cpuMs * 1000) / result.requests.total,
    ...commitFigures(seconds),
  });
} finally {
  child.kill('SIGTERM');
  await exited;
}
