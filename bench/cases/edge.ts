/**
 * Case 9, the edge: the local Workers build (`npm run dev:workers`: wrangler + workerd, task
 * shards in Durable Objects, the function in a Worker Loader isolate) or the Node server
 * (`npm start`), each started by its user-facing command over bench/functions, driven by
 * autocannon on 127.0.0.1 after an uncounted warm-up. Modes as in the HTTP case: `invoke`
 * (POST /functions/inc/invoke) and `poll` (POST /functions/inc/tasks, then GET
 * /tasks/:id?wait=5000, two requests per task). For the Worker it also prints what each task
 * cost its task shards over the measured run, from `/stats`'s `costs` (edge/costs.ts): calls into
 * the Durable Objects (alarm runs included), storage alarm writes and SQL statements per task.
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

interface Costs {
  tasks: number;
  calls: Record<string, number>;
  statements: number;
}

/** The shards' costs so far (Worker only), with the tasks that ended; undefined elsewhere. */
const costs = async (url: string): Promise<Costs | undefined> => {
  // Let a burst's last records land (and its alarm run) before reading.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const stats = (await (await fetch(`${url}/stats`)).json()) as {
    costs?: { calls: Record<string, number>; statements: number };
    performanceMetrics: { tasksCompleted: number; tasksFailed: number };
  };
  if (!stats.costs) return undefined;
  const { tasksCompleted, tasksFailed } = stats.performanceMetrics;
  return { tasks: tasksCompleted + tasksFailed, ...stats.costs };
};

/** Object calls (by name and in all), alarm writes and SQL statements per task between two reads. */
const perTask = (before: Costs | undefined, after: Costs | undefined): Record<string, number> => {
  if (!before || !after || after.tasks === before.tasks) return {};
  const tasks = after.tasks - before.tasks;
  const delta = (name: string) => ((after.calls[name] ?? 0) - (before.calls[name] ?? 0)) / tasks;
  const objectCalls = Object.keys(after.calls)
    .filter((name) => !['setAlarm', 'isolate', 'registry'].includes(name))
    .reduce((sum, name) => sum + delta(name), 0);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    objectCallsPerTask: round(objectCalls),
    alarmWritesPerTask: round(delta('setAlarm')),
    statementsPerTask: round((after.statements - before.statements) / tasks),
  };
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
  const before = await costs(url);
  const result = await autocannon({ url, connections, duration: seconds, requests });
  const after = await costs(url);
  emit({ ...loadFigures(result, mode === 'poll' ? 2 : 1), ...perTask(before, after) });
} finally {
  // npm leads the group: the server (and workerd under it) stop with it.
  process.kill(-(child.pid as number), 'SIGTERM');
  await exited;
  rmSync(state, { recursive: true, force: true });
}
