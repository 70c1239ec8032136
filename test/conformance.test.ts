/**
 * One HTTP contract, four hosts: a real server started by each user-facing command (`npm start`,
 * `deno task start`, `bun run start`, `npm run dev:workers`) with PORT=0 and a copy of the
 * functions in fixtures/conformance, driven over HTTP through the same checks (timeouts of hung
 * and computing functions, results JSON cannot carry, a function's concurrency bound, deploys of
 * TypeScript and deletes, retries, listing, live events, pages, bodies near the limit, modules
 * that fail to load, the handler's paths, error and cancel texts), ending with a SIGTERM drain
 * that must exit 0. The only checks skipped on a host are what it cannot do, each with its reason
 * (test/support/server.ts, docs/workers.md).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import {
  checkOn,
  describeEachTarget,
  type Json,
  readJson as json,
  type ServerRuntime,
  serverForSuite,
  TERMINAL,
} from './support/server.ts';
import { collectUntil, readSse } from './support/sse.ts';
import { until } from './support/wait.ts';

const ADMIN = 'conformance-admin';
/** The body limit: a submission of 60 KB fits under it, one of 70 KB does not. */
const MAX_BODY = 65_536;

/** The functions of fixtures/conformance, as /stats lists them. */
const FUNCTIONS = [
  'big',
  'boom',
  'broken',
  'echo',
  'flaky',
  'hang',
  'mirror',
  'nap',
  'quits',
  'range',
  'single',
  'spin',
  'talk',
  'unsendable',
  'web',
];

const title = (runtime: ServerRuntime) => `the HTTP contract through ${runtime.readme}`;

/** Small bounds, so the checks of the limits stay quick. */
const MAX_STREAMS = 4;
const MAX_RESULT = 1_048_576;
const SSE = { Accept: 'text/event-stream' };

describeEachTarget(title, (runtime) => {
  // Skips, with the reason, what the runtime cannot hold (the Workers list, docs/runtimes.md).
  const it = checkOn(runtime);
  // Deploys write into the functions folder on a server's host: each run has its own copy.
  const functions = mkdtempSync(join(tmpdir(), `ebbflow-conformance-${runtime.name}-`));
  cpSync(new URL('./fixtures/conformance/', import.meta.url), functions, { recursive: true });
  afterAll(() => rmSync(functions, { recursive: true, force: true }));
  const suite = serverForSuite(
    runtime,
    {
      EBBFLOW_FUNCTIONS: functions,
      EBBFLOW_MIN_WORKERS: '1',
      EBBFLOW_MAX_WORKERS: '4',
      EBBFLOW_ADMIN_TOKEN: ADMIN,
      EBBFLOW_MAX_BODY_BYTES: String(MAX_BODY),
      EBBFLOW_MAX_STREAMS: String(MAX_STREAMS),
      EBBFLOW_MAX_RESULT_BYTES: String(MAX_RESULT),
    },
    // The last test drains the server; after a failure, whatever is left is killed.
    { stopMs: 0 },
  );
  const post = (path: string, body: unknown) =>
    fetch(`${suite.server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const get = (path: string) => fetch(`${suite.server.url}${path}`);
  const put = (name: string, source: string, type: string) =>
    fetch(`${suite.server.url}/functions/${name}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': type },
      body: source,
    });
  const settle = async (id: string) => {
    for (;;) {
      const record = await json(await get(`/tasks/${id}?wait=20000`));
      if (TERMINAL.has(record.status)) return record;
    }
  };
  /** The event streams and long-polls the server holds now (`/metrics`). */
  const openStreams = async () =>
    Number(/^ebbflow_open_streams (\d+)$/m.exec(await (await get('/metrics')).text())?.[1]);
  /** A task of `nap` that runs until the test cancels it. */
  const napping = async () => {
    const { id } = await json(await post('/functions/nap/tasks', { args: [60_000] }));
    await until(async () => (await json(await get(`/tasks/${id}`))).status === 'running');
    return {
      id,
      cancel: () => fetch(`${suite.server.url}/tasks/${id}`, { method: 'DELETE' }),
    };
  };

  it('Should accept a task and answer a long-poll with its result', async () => {
    const res = await post('/functions/echo/tasks', { args: ['over', 'http'] });
    expect(res.status).toBe(202);
    const record = await json(res);
    expect(record).toMatchObject({ function: 'echo', status: 'queued' });
    expect(res.headers.get('Location')).toBe(`/tasks/${record.id}`);
    const done = await get(`/tasks/${record.id}?wait=20000`);
    expect(done.status).toBe(200);
    expect(await json(done)).toMatchObject({ status: 'completed', result: ['over', 'http'] });
  });

  it('Should invoke and answer with the completed record', async () => {
    const res = await post('/functions/echo/invoke', { args: [42, { a: 'b' }] });
    expect(res.status).toBe(200);
    const record = await json(res);
    expect(record).toMatchObject({ status: 'completed', result: [42, { a: 'b' }] });
    expect(record.workerId).toEqual(expect.any(Number));
    expect(record.executionTime).toEqual(expect.any(Number));
  });

  it('Should answer stats with totals and each function', async () => {
    const res = await get('/stats');
    expect(res.status).toBe(200);
    const stats = await json(res);
    expect(stats).toMatchObject({ minWorkers: 1, maxWorkers: 4 });
    expect(stats.activeWorkers).toBeLessThanOrEqual(4);
    expect(Object.keys(stats.functions).sort()).toEqual(FUNCTIONS);
    expect(stats.functions.echo.tasksCompleted).toBeGreaterThanOrEqual(2);
    expect(stats.performanceMetrics).toMatchObject({
      tasksCompleted: expect.any(Number),
      cpuUsage: expect.any(Number),
      memoryUsage: expect.any(Number),
      eventLoopLagMs: expect.any(Number),
    });
  });

  it('Should fail a task whose function throws, with its message', async () => {
    const res = await post('/functions/boom/invoke', {});
    expect(res.status).toBe(500);
    expect(await json(res)).toMatchObject({ status: 'failed', error: 'boom' });
  });

  it('Should time a task out and keep serving', async () => {
    const res = await post('/functions/nap/invoke', { args: [20_000], timeoutMs: 300 });
    expect(res.status).toBe(504);
    expect(await json(res)).toMatchObject({ status: 'failed', error: 'timed out after 300 ms' });
    const next = await post('/functions/nap/invoke', { args: [1] });
    expect(await json(next)).toMatchObject({ status: 'completed', result: 1 });
  });

  it('Should fail a task whose worker exits, naming the code, and replace the worker', async () => {
    const res = await post('/functions/quits/invoke', { args: [3] });
    expect(res.status).toBe(500);
    expect((await json(res)).error).toMatch(/exited with code 3/);
    const again = await post('/functions/quits/invoke', { args: [4] });
    expect((await json(again)).error).toMatch(/exited with code 4/);
  });

  it('Should cancel a running task, then refuse to cancel it again', async () => {
    const { id } = await json(await post('/functions/nap/tasks', { args: [20_000] }));
    await until(async () => (await json(await get(`/tasks/${id}`))).status === 'running');
    const res = await fetch(`${suite.server.url}/tasks/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ id, status: 'cancelled' });
    const again = await fetch(`${suite.server.url}/tasks/${id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
  });

  it('Should refuse bad input with the error shape and stay up', async () => {
    const notJson = await post('/functions/echo/tasks', '{"args": [1,');
    expect(notJson.status).toBe(400);
    expect((await json(notJson)).error.code).toEqual(expect.any(String));
    const badArgs = await post('/functions/echo/tasks', { args: 'not a list' });
    expect(badArgs.status).toBe(400);
    const badWait = await get('/tasks/whatever?wait=soon');
    expect(badWait.status).toBe(400);
    const unknown = await post('/functions/nobody/tasks', {});
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error.code).toBe('unknown_function');
    expect((await get('/health')).status).toBe(200);
  });

  it('Should time out a function that never settles, and one that computes past its timeout, and keep serving', async () => {
    const hung = await post('/functions/hang/invoke', { timeoutMs: 500 });
    expect(hung.status).toBe(504);
    expect(await json(hung)).toMatchObject({
      status: 'failed',
      errorCode: 'timed_out',
      error: 'timed out after 500 ms',
    });
    const spun = await post('/functions/spin/invoke', { args: [1_500], timeoutMs: 300 });
    expect(spun.status).toBe(504);
    expect(await json(spun)).toMatchObject({
      errorCode: 'timed_out',
      error: 'timed out after 300 ms',
    });
    const next = await post('/functions/echo/invoke', { args: ['after'] });
    expect(await json(next)).toMatchObject({ status: 'completed', result: ['after'] });
  });

  it('Should fail a result that JSON cannot carry, and say what it was', async () => {
    for (const [kind, what] of [
      ['symbol', 'a symbol'],
      ['function', 'a function'],
    ]) {
      const res = await post('/functions/unsendable/invoke', { args: [kind] });
      expect(res.status).toBe(500);
      const record = await json(res);
      expect(record).toMatchObject({ status: 'failed', errorCode: 'result_not_serializable' });
      expect(record.error).toContain(what);
    }
  });

  it('Should run no more of a function at once than maxWorkers × concurrency', async () => {
    // config { maxWorkers: 1, concurrency: 1 }: four tasks run one after another.
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push((await json(await post('/functions/single/tasks', { args: [300] }))).id);
    }
    let most = 0;
    let ended: Json[] = [];
    await until(async () => {
      const page = await json(await get('/tasks?function=single&limit=10'));
      ended = page.tasks.filter((t: Json) => ids.includes(t.id));
      most = Math.max(most, ended.filter((t) => t.status === 'running').length);
      return ended.length === ids.length && ended.every((t) => t.status === 'completed');
    }, 60_000);
    expect(most).toBeLessThanOrEqual(1);
    // Each began after the one before it had ended.
    const byStart = [...ended].sort((a, b) => a.startedAt - b.startedAt);
    for (let i = 1; i < byStart.length; i++) {
      expect(byStart[i].startedAt).toBeGreaterThanOrEqual(byStart[i - 1].completedAt);
    }
  });

  it('Should deploy TypeScript by name, number versions on, and report the deleted version', async () => {
    const first = await put(
      'typed',
      'export default (n: number): number => n + 1;\n',
      'application/typescript',
    );
    expect(first.status).toBe(201);
    expect(await json(first)).toMatchObject({ name: 'typed', version: 1, status: 'ready' });
    expect(await json(await post('/functions/typed/invoke', { args: [1] }))).toMatchObject({
      status: 'completed',
      result: 2,
    });
    const second = await put(
      'typed',
      'export default (n: number): number => n * 10;\n',
      'text/typescript',
    );
    expect(second.status).toBe(200);
    expect(await json(second)).toMatchObject({ version: 2 });
    const removed = await fetch(`${suite.server.url}/functions/typed`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${ADMIN}` },
    });
    expect(removed.status).toBe(200);
    expect(await json(removed)).toMatchObject({ name: 'typed', status: 'deleted', version: 2 });
    expect((await post('/functions/typed/invoke', { args: [1] })).status).toBe(404);
    const again = await put(
      'typed',
      'export default (n: number): number => n - 1;\n',
      'application/typescript',
    );
    expect(again.status).toBe(201);
    expect(await json(again)).toMatchObject({ version: 3 });
    expect(await json(await post('/functions/typed/invoke', { args: [1] }))).toMatchObject({
      result: 0,
      version: 3,
    });
  });

  it('Should retry after the backoff, not much later', async () => {
    // config.retry: 3 attempts, 50 ms backoff: two failures, then a success.
    const res = await post('/functions/flaky/invoke', {});
    expect(res.status).toBe(200);
    const record = await json(res);
    expect(record).toMatchObject({ status: 'completed', attempt: 3, attempts: 3 });
    // 50 + 100 ms of backoff (plus jitter); a retry left to a late wake-up takes seconds.
    expect(record.completedAt - record.submittedAt).toBeLessThan(5_000);
  });

  it("Should list a function's tasks page by page, only its own, ending with the last page", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push(
        (await json(await post('/functions/echo/tasks', { args: [i], id: `page-${i}` }))).id,
      );
      await post('/functions/boom/tasks', {}); // another function's tasks in between
    }
    await Promise.all(ids.map(settle));
    const seen: string[] = [];
    let query = '/tasks?function=echo&limit=3';
    for (let pages = 1; ; pages++) {
      const page = await json(await get(query));
      expect(page.tasks.length).toBeGreaterThan(0);
      expect(page.tasks.every((t: { function: string }) => t.function === 'echo')).toBe(true);
      seen.push(...page.tasks.map((t: { id: string }) => t.id));
      if (!page.next) break;
      expect(pages).toBeLessThan(20);
      query = `/tasks?function=echo&limit=3&before=${page.next}`;
    }
    expect(seen.filter((id) => id.startsWith('page-'))).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("Should send stats once a second and a task's printed lines as log events", async () => {
    const res = await fetch(`${suite.server.url}/events?types=stats,log`);
    expect(res.status).toBe(200);
    const events = readSse(res);
    const { id } = await json(await post('/functions/talk/tasks', { args: [500] }));
    const seen = await collectUntil(
      events,
      (_, all) =>
        all.filter((e) => e.event === 'stats').length >= 2 &&
        all.some((e) => e.event === 'log' && (e.data as { taskId: string }).taskId === id),
    );
    expect(seen.find((e) => e.event === 'log')?.data).toMatchObject({
      taskId: id,
      function: 'talk',
      level: 'log',
      message: 'started',
    });
    expect(seen.find((e) => e.event === 'stats')?.data).toMatchObject({
      functions: { talk: expect.any(Object) },
    });
    await events.return(undefined);
    expect(await settle(id)).toMatchObject({ status: 'completed', result: 'done' });
  });

  it('Should keep telling one event stream after another one closes', async () => {
    const first = readSse(await fetch(`${suite.server.url}/events?types=task,stats`));
    const second = readSse(await fetch(`${suite.server.url}/events?types=task,stats`));
    await collectUntil(first, (e) => e.event === 'stats');
    await first.return(undefined);
    const { id } = await json(await post('/functions/echo/tasks', { args: ['still'] }));
    const seen = await collectUntil(
      second,
      (_, all) =>
        all.some(
          (e) =>
            e.event === 'task' &&
            (e.data as { id: string; status: string }).id === id &&
            (e.data as { status: string }).status === 'completed',
        ) && all.filter((e) => e.event === 'stats').length >= 2,
    );
    expect(seen.some((e) => e.event === 'stats')).toBe(true);
    await second.return(undefined);
  });

  it("Should stream one task's changes and end with the completed record", async () => {
    const { id } = await json(await post('/functions/nap/tasks', { args: [500] }));
    const res = await fetch(`${suite.server.url}/tasks/${id}`, {
      headers: { Accept: 'text/event-stream' },
    });
    expect(res.status).toBe(200);
    const seen = await collectUntil(readSse(res), (e) =>
      TERMINAL.has((e.data as { status: string }).status),
    );
    expect(seen.at(-1)?.data).toMatchObject({ id, status: 'completed', result: 500 });
  });

  it('Should serve the dashboard and the API reference', async () => {
    for (const path of ['/', '/docs']) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(await res.text()).toContain('<html');
    }
  });

  it('Should take a body just under the limit and refuse one over it', async () => {
    const fits = JSON.stringify({ args: ['x'.repeat(60_000)] });
    const accepted = await post('/functions/echo/tasks', fits);
    expect(accepted.status).toBe(202);
    expect((await settle((await json(accepted)).id)).result).toEqual(['x'.repeat(60_000)]);
    const over = await post(
      '/functions/echo/tasks',
      JSON.stringify({ args: ['x'.repeat(70_000)] }),
    );
    expect(over.status).toBe(413);
  });

  it('Should fail the tasks of a module that throws at load, at once, naming why', async () => {
    const info = await json(await get('/functions/broken'));
    expect(info.status).toBe('unavailable');
    const res = await post('/functions/broken/tasks', {});
    expect(res.status).toBe(202);
    const record = await settle((await json(res)).id);
    expect(record).toMatchObject({ status: 'failed', errorCode: 'load_failed' });
    expect(record.error).toContain('broken at load');
  });

  it("Should hand every /fn/ path to the function's own handler, internal-looking ones included", async () => {
    for (const path of ['/__ebbflow/run', '/__ebbflow/config', '/__ebbflow/probe', '/run']) {
      const res = await post(`/fn/web${path}`, { args: [1] });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(`POST ${path}`);
    }
    // A function with no fetch export has nothing there, internal paths included.
    const none = await post('/fn/echo/__ebbflow/run', { args: [1] });
    expect(none.status).toBe(404);
    expect((await json(none)).error.code).toBe('no_fetch_handler');
  });

  it('Should word errors and cancels as every host does', async () => {
    const thrown = await json(await post('/functions/range/invoke', { args: [-1] }));
    expect(thrown).toMatchObject({
      errorCode: 'function_threw',
      error: 'RangeError: n must be >= 0',
    });
    const running = await json(await post('/functions/nap/tasks', { args: [20_000] }));
    await until(async () => (await json(await get(`/tasks/${running.id}`))).status === 'running');
    const cancelled = await fetch(`${suite.server.url}/tasks/${running.id}`, { method: 'DELETE' });
    expect(await json(cancelled)).toMatchObject({
      status: 'cancelled',
      error: 'cancelled while running',
    });
    // A queued one: single runs one at a time, so the second waits.
    await post('/functions/single/tasks', { args: [2_000] });
    const queued = await json(await post('/functions/single/tasks', { args: [1] }));
    const early = await fetch(`${suite.server.url}/tasks/${queued.id}`, { method: 'DELETE' });
    expect(await json(early)).toMatchObject({
      status: 'cancelled',
      error: 'cancelled before it started',
    });
  });

  it('Should answer HEAD on the stream routes with their headers at once, holding nothing open', async () => {
    // Streams that earlier checks' clients dropped: a host may learn of it only at its next
    // write (the edge's probe, docs/workers.md), so they are given back first.
    await until(async () => (await openStreams()) === 0);
    const task = await napping();
    for (let i = 0; i < 2 * MAX_STREAMS; i++) {
      const events = await fetch(`${suite.server.url}/events`, { method: 'HEAD' });
      expect(events.status).toBe(200);
      expect(events.headers.get('content-type')).toContain('text/event-stream');
      expect(await events.text()).toBe('');
      const stream = await fetch(`${suite.server.url}/tasks/${task.id}`, {
        method: 'HEAD',
        headers: SSE,
      });
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toContain('text/event-stream');
      // A HEAD that waited would answer only when the task ends, after the test's time.
      const poll = await fetch(`${suite.server.url}/tasks/${task.id}?wait=30000`, {
        method: 'HEAD',
      });
      expect(poll.status).toBe(200);
    }
    expect(await openStreams()).toBe(0);
    await task.cancel();
  });

  it('Should hold at most EBBFLOW_MAX_STREAMS streams and long-polls, each given back when its client goes', async () => {
    const task = await napping();
    for (let round = 0; round < 3; round++) {
      const clients = Array.from({ length: MAX_STREAMS }, () => new AbortController());
      const [a, b, c, d] = clients.map((client) => client.signal) as AbortSignal[];
      const opened = await Promise.all([
        fetch(`${suite.server.url}/events`, { signal: a }),
        fetch(`${suite.server.url}/events?types=task`, { signal: b }),
        fetch(`${suite.server.url}/tasks/${task.id}`, { headers: SSE, signal: c }),
      ]);
      expect(opened.map((res) => res.status)).toEqual([200, 200, 200]);
      // A long-poll answers only when the task ends, or when its client goes.
      const poll = fetch(`${suite.server.url}/tasks/${task.id}?wait=30000`, { signal: d }).catch(
        () => undefined,
      );
      await until(async () => (await openStreams()) === MAX_STREAMS);
      const refused = await get('/events');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect((await json(refused)).error.code).toBe('too_many_streams');
      for (const client of clients) client.abort();
      await poll;
      // Dropped mid-stream and mid-wait: every slot comes back.
      await until(async () => (await openStreams()) === 0);
    }
    await task.cancel();
  });

  it('Should fail a result larger than EBBFLOW_MAX_RESULT_BYTES with result_too_large', async () => {
    // A string's JSON is its characters and two quotes: this one is exactly the limit.
    const fits = await post('/functions/big/invoke', { args: [MAX_RESULT - 2] });
    expect(fits.status).toBe(200);
    expect((await json(fits)).result).toHaveLength(MAX_RESULT - 2);
    const over = await post('/functions/big/invoke', { args: [MAX_RESULT - 1] });
    expect(over.status).toBe(500);
    const record = await json(over);
    expect(record).toMatchObject({ status: 'failed', errorCode: 'result_too_large' });
    expect(record.error).toContain(`larger than ${MAX_RESULT} bytes`);
    expect(record).not.toHaveProperty('result');
    expect(await json(await post('/functions/big/invoke', { args: [2] }))).toMatchObject({
      result: 'xx',
    });
  });

  it('Should cut an error message longer than 65536 characters, saying so', async () => {
    const record = await json(await post('/functions/boom/invoke', { args: [200_000] }));
    expect(record).toMatchObject({ status: 'failed', errorCode: 'function_threw' });
    expect(record.error).toHaveLength(65_536);
    expect(record.error).toMatch(
      /^E+ \[cut: the message had 200000 characters; the first \d+ are kept\]$/,
    );
  });

  it('Should cut a page of GET /tasks short of about 16 MiB, with next, however large its records', async () => {
    // 17 results of 1 MiB: more than one page may hold.
    const ids: string[] = [];
    for (let i = 0; i < 17; i++) {
      const res = await post('/functions/big/invoke', { args: [MAX_RESULT - 2] });
      expect(res.status).toBe(200);
      ids.push((await json(res)).id);
    }
    const seen: string[] = [];
    let before: string | undefined;
    let pages = 0;
    do {
      const res = await get(`/tasks?function=big&limit=100${before ? `&before=${before}` : ''}`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text.length).toBeLessThanOrEqual(16 * 1024 * 1024 + 4096);
      const page = JSON.parse(text);
      seen.push(...page.tasks.map((t: { id: string }) => t.id));
      before = page.next;
      pages++;
    } while (before !== undefined && pages < 10);
    expect(pages).toBeGreaterThan(1);
    expect(seen.slice(0, ids.length)).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("Should give a handler the server's origin whatever the path, and never the runtime's own routes", async () => {
    const host = new URL(suite.server.url).host;
    const ask = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${suite.server.url}${path}`, init);
      expect(res.status).toBe(200);
      const seen = await json(res);
      expect(new URL(seen.url).host).toBe(host);
      return { ...seen, path: seen.url.slice(seen.url.indexOf(host) + host.length) };
    };
    expect((await ask('/fn/mirror//evil.example/x?y=1')).path).toBe('//evil.example/x?y=1');
    expect((await ask('/fn/mirror///evil.example')).path).toBe('///evil.example');
    // `%6D` is `m`: the path starts after the name however it was written.
    expect((await ask('/fn/%6Dirror/a/b?q=1')).path).toBe('/a/b?q=1');
    for (const inner of ['/__ebbflow/run', '/__ebbflow/config']) {
      for (const method of ['GET', 'POST']) {
        const body = method === 'POST' ? '{"args":[]}' : undefined;
        expect(await ask(`/fn/mirror${inner}`, { method, body })).toMatchObject({
          method,
          path: inner,
        });
      }
    }
    // This server has an admin token: no Authorization reaches a handler, whatever it carries
    // (with no server token at all it would pass through: api/routes/handlers.test.ts).
    const auth = await ask('/fn/mirror', { headers: { Authorization: `Bearer ${ADMIN}` } });
    expect(auth.authorization).toBeNull();
    const theirs = await ask('/fn/mirror', { headers: { Authorization: 'Bearer theirs' } });
    expect(theirs.authorization).toBeNull();
  });

  it('Should drain on SIGTERM: finish running work, answer 503 for new work, exit 0', async () => {
    const { id } = await json(await post('/functions/nap/tasks', { args: [1_500] }));
    await until(async () => (await json(await get(`/tasks/${id}`))).status === 'running');
    suite.server.child.kill('SIGTERM');
    await until(async () => (await get('/health')).status === 503);
    expect((await post('/functions/echo/tasks', {})).status).toBe(503);
    // Results and long-polls keep answering while the drain lasts.
    const done = await get(`/tasks/${id}?wait=20000`);
    expect(await json(done)).toMatchObject({ status: 'completed', result: 1_500 });
    expect(await suite.server.exited).toBe(0);
  });
});
