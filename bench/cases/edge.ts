/**
 * Case 9, the edge: the local Workers build (`npm run dev:workers`: wrangler + workerd, task
 * shards in Durable Objects, the function in a Worker Loader isolate) or the Node server
 * (`npm start`), each started by its user-facing command over bench/functions, driven by
 * autocannon on 127.0.0.1 after an uncounted warm-up. Modes as in the HTTP case: `invoke`
 * (POST /functions/inc/invoke) and `poll` (POST /functions/inc/tasks, then GET
 * /tasks/:id?wait=5000, two requests per task).
 * Usage: edge.ts <workers|node> <invoke|poll> <connections> <seconds>
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { arg, emit, numberArg } from '../lib/emit.ts';
import { readListeningUrl } from '../lib/listening.ts';
import { loadFigures } from '../lib/load-figures.ts';
import { pollRequests } from '../lib/poll.ts';

const target = arg(0, 'workers');
const mode = arg(1, 'invoke');
const connections = numberArg(2, 10);
const seconds = numberArg(3, 10);
const warmupSeconds = Math.min(2, Math.max(1, Math.round(seconds / 5)));
const body = JSON.stringify({ args: [1] });
const headers = { 'content-type': 'application/json' };
const root = fileURLToPath(new URL('../..', import.meta.url));
const state = mkdtempSync(join(tmpdir(), 'ebbflow-bench-edge-'));

const start = async (): Promise<{ url: string; child: ChildProcess }> => {
  const script = target === 'workers' ? 'dev:workers' : 'start';
  const child = spawn('npm', ['run', script], {
    cwd: root,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      EBBFLOW_FUNCTIONS: 'bench/functions',
      EBBFLOW_WORKERS_STATE: state,
      // npm start keeps its tasks in a SQLite file by default: a temporary one here.
      EBBFLOW_DATA: join(state, 'tasks.db'),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const url = await readListeningUrl(child, /listening on (http:\/\/\S+)/);
  return { url, child };
};

const { url, child } = await start();
const exited = new Promise((resolve) => child.once('exit', resolve));
try {
  const check = await fetch(`${url}/functions/inc/invoke`, { method: 'POST', headers, body });
  const answer = (await check.json()) as { result?: unknown };
  if (check.status !== 200 || answer.result !== 2) throw new Error(`bad answer ${check.status}`);
  const requests: autocannon.Request[] =
    mode === 'poll'
      ? pollRequests(headers, body)
      : [{ method: 'POST', path: '/functions/inc/invoke', headers, body }];
  await autocannon({ url, connections, duration: warmupSeconds, requests });
  const result = await autocannon({ url, connections, duration: seconds, requests });
  emit(loadFigures(result, mode === 'poll' ? 2 : 1));
} finally {
  // npm leads the group: the server (and workerd under it) stop with it.
  process.kill(-(child.pid as number), 'SIGTERM');
  await exited;
  rmSync(state, { recursive: true, force: true });
}
