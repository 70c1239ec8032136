/**
 * What the Workers build adds beyond the shared HTTP contract (test/conformance.test.ts runs that
 * at the edge too), checked on the local runtime (`npm run dev:workers`: workerd, offline): tasks
 * in the Durable Objects survive a restart and finish, each function's isolate has no network
 * unless its config grants it, task logs (told live), a module that fails to load, `/stats` saying
 * where worker figures do not apply and what the shards' work cost, a retry on time while a long
 * run holds the shard's alarm, a function's lanes over the shards with client-chosen ids, deploys
 * by name with plain audit lines (`ebbflow deploy` bundles a module's relative imports).
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { RUN_TIME_BUCKETS } from '../api/metrics.ts';
import { RUN_TIME_BOUNDS } from '../edge/outcome-table.ts';
import {
  client,
  type Json,
  launch,
  ROOT,
  startServer,
  WORKERS,
  withServer,
} from './support/server.ts';
import { collectUntil, readSse } from './support/sse.ts';
import { until } from './support/wait.ts';

/** wrangler without a network: no metrics, reports or update check. */
const OFFLINE = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
};

const ENV = { EBBFLOW_FUNCTIONS: 'test/fixtures/workers', EBBFLOW_MAX_WORKERS: '1' };

it('Should count run times in the same histogram buckets as /metrics on every host', () => {
  expect(RUN_TIME_BOUNDS).toEqual(RUN_TIME_BUCKETS);
});

describe.skipIf(WORKERS.missing !== undefined)('the Workers build (npm run dev:workers)', () => {
  it('Should keep accepted tasks across a restart and finish them, running ones again', async () => {
    // One shard, two lanes for `slow` (concurrency 2 × maxWorkers 1): two run, four wait.
    const state = mkdtempSync(join(tmpdir(), 'ebbflow-restart-'));
    onTestFinished(() => rmSync(state, { recursive: true, force: true }));
    const env = { ...ENV, EBBFLOW_SHARDS: '1', EBBFLOW_WORKERS_STATE: state };
    const first = await startServer(WORKERS, env);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        const res = await fetch(`${first.url}/functions/slow/tasks`, {
          method: 'POST',
          body: JSON.stringify({ args: [1_500] }),
        });
        expect(res.status).toBe(202);
        ids.push(((await res.json()) as Json).id);
      }
      await until(async () => {
        const records = await Promise.all(
          ids.map(async (id) => (await (await fetch(`${first.url}/tasks/${id}`)).json()) as Json),
        );
        return records.filter((r) => r.status === 'running').length === 2;
      });
    } finally {
      // A crash: workerd goes without a word, its alarms with it (workers-sdk#4372).
      first.kill();
      await first.exited;
    }
    await withServer(WORKERS, env, async (_server, api) => {
      const ended = await Promise.all(ids.map((id) => api.settle(id)));
      for (const record of ended)
        expect(record).toMatchObject({ status: 'completed', result: 1_500 });
      // The two runs lost with the first server ran again (config.retry allows 3 attempts).
      expect(ended.filter((r) => r.attempt === 2).map((r) => r.id)).toHaveLength(2);
    });
  }, 180_000);

  it('Should cut a function off the network unless its config grants the host', async () => {
    await withServer(WORKERS, ENV, async (server, api) => {
      const target = `${server.url}/health`;
      const denied = await api.post('/functions/reach/invoke', { args: [target] });
      expect(denied.status).toBe(500);
      expect(denied.body).toMatchObject({ status: 'failed', errorCode: 'function_threw' });
      expect(denied.body.error).toMatch(/not permitted to access the internet/);
      const listed = await api.post('/functions/reach-listed/invoke', { args: [target] });
      expect(listed.body.error).toMatch(/network access to 127\.0\.0\.1:\d+ is not granted/);
      const granted = await api.post('/functions/reach-granted/invoke', { args: [target] });
      expect(granted.body).toMatchObject({ status: 'completed', result: 200 });
    });
  }, 120_000);

  it('Should keep what a function prints on its task, name the source hash, list a module that fails to load, and fail a record too large to store', async () => {
    // A result bound above what one SQLite value of a shard holds (about 2 MB).
    const env = { ...ENV, EBBFLOW_MAX_RESULT_BYTES: '4194304' };
    await withServer(WORKERS, env, async (server, api) => {
      const res = await api.post('/functions/chatty/invoke', { args: ['edge'] });
      expect(res.body).toMatchObject({ status: 'completed', result: 'hi edge' });
      expect(res.body.logs).toEqual([
        { at: expect.any(Number), level: 'log', message: 'hello edge' },
        { at: expect.any(Number), level: 'warn', message: 'careful' },
      ]);
      // FunctionInfo names the source's SHA-256, as on every host.
      const source = readFileSync(join(ROOT, 'test/fixtures/workers/chatty.ts'));
      expect((await api.get('/functions/chatty')).body).toMatchObject({
        version: 1,
        sha256: createHash('sha256').update(source).digest('hex'),
      });
      const broken = await api.get('/functions/broken');
      expect(broken.body).toMatchObject({ status: 'unavailable' });
      expect(broken.body.error).toMatch(/broken at load/);
      const failed = await api.post('/functions/broken/invoke', {});
      expect(failed.body).toMatchObject({ status: 'failed', errorCode: 'load_failed' });
      // Without EBBFLOW_ADMIN_TOKEN, deploying is off.
      const off = await fetch(`${server.url}/functions/late`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/javascript' },
        body: 'export default () => 1;',
      });
      expect(off.status).toBe(403);
      expect(((await off.json()) as Json).error.code).toBe('deploy_disabled');
      // Within the bound, but its record does not fit the shard's store: it fails, saying so,
      // rather than staying `running` for good; the next one is stored.
      const large = await api.post('/functions/big/invoke', { args: [2_500_000] });
      expect(large.status).toBe(500);
      expect(large.body).toMatchObject({ status: 'failed', errorCode: 'result_too_large' });
      expect(large.body.error).toContain("larger than a Durable Object's SQLite value holds");
      expect(large.body).not.toHaveProperty('result');
      expect((await api.post('/functions/big/invoke', { args: [3] })).body).toMatchObject({
        status: 'completed',
        result: 'xxx',
      });
    });
  }, 120_000);

  it('Should end 60 tasks over the shards once each, and count them in /stats and /metrics', async () => {
    await withServer(WORKERS, ENV, async (server, api) => {
      // 60 at once over the 8 shards: each ends once, and the shards' counts add up.
      const accepted = await Promise.all(
        Array.from({ length: 60 }, (_, i) => api.post('/functions/slow/tasks', { args: [i % 5] })),
      );
      expect(accepted.map((res) => res.status)).toEqual(accepted.map(() => 202));
      const ended = await Promise.all(accepted.map((res) => api.settle(res.body.id)));
      expect(ended.map((r) => r.result)).toEqual(accepted.map((_, i) => i % 5));
      const stats = (await api.get('/stats')).body;
      expect(stats).toMatchObject({ platform: 'workers', activeWorkers: 0, maxWorkers: 1 });
      expect(stats.workers).toMatch(/platform/);
      expect(stats.functions.slow).toMatchObject({
        tasksCompleted: 60,
        tasksFailed: 0,
        queueSize: 0,
        activeTasks: 0,
        activeWorkers: 0,
      });
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toContain('ebbflow_tasks_total{function="slow",outcome="completed"} 60');
      expect(metrics).toContain('ebbflow_task_run_seconds_count{function="slow"} 60');
    });
  }, 120_000);

  it('Should retry with backoff, expire records after their TTL and keep at most the cap', async () => {
    const env = {
      ...ENV,
      EBBFLOW_SHARDS: '1',
      EBBFLOW_MAX_RESULTS: '2',
      // Long enough that the cap, not the time to live, removes the first records on a loaded
      // machine (the cap is applied when a shard's burst ends).
      EBBFLOW_RESULT_TTL_MS: '25000',
    };
    await withServer(WORKERS, env, async (_server, api) => {
      const flaky = await api.post('/functions/flaky/invoke', {});
      expect(flaky.body).toMatchObject({ status: 'completed', attempt: 2, attempts: 2 });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push((await api.post('/functions/slow/invoke', { args: [i] })).body.id);
      }
      // Three finished records past a cap of two (the flaky one included): the oldest go.
      await until(async () => (await api.get(`/tasks/${flaky.body.id}`)).status === 404, 20_000);
      await until(async () => (await api.get(`/tasks/${ids[0]}`)).status === 404, 20_000);
      expect((await api.get(`/tasks/${ids[2]}`)).status).toBe(200);
      // And the rest once their time to live has passed.
      await until(async () => (await api.get(`/tasks/${ids[2]}`)).status === 404, 60_000);
    });
  }, 120_000);

  it('Should refuse a bad setting before starting, naming it, with exit code 2', async () => {
    const started = launch(WORKERS, { ...ENV, EBBFLOW_SHARDS: 'many' });
    try {
      expect(await started.exited).toBe(2);
      expect(started.stderr()).toContain('EBBFLOW_SHARDS must be an integer >= 1, got "many"');
    } finally {
      started.kill(); // if it started after all
    }
  }, 30_000);

  it('Should build for deploy offline (wrangler deploy --dry-run) with its bindings', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'ebbflow-dry-run-'));
    onTestFinished(() => rmSync(outdir, { recursive: true, force: true }));
    const run = spawnSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outdir], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ...OFFLINE, EBBFLOW_FUNCTIONS: 'test/fixtures/workers' },
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/env\.TASKS \(TaskShard\)\s+Durable Object/);
    expect(run.stdout).toMatch(/env\.LOADER\s+Worker Loader/);
    const bundle = readFileSync(join(outdir, 'worker.js'), 'utf8');
    expect(bundle).toMatch(/export\s*\{[^}]*\bFunctionRegistry\b/);
    expect(bundle).toMatch(/"name":\s*"flaky"/);
  }, 120_000);

  it('Should list tasks of every shard newest first, replay a failed one, serve a handler and stream events', async () => {
    await withServer(WORKERS, ENV, async (server, api) => {
      const events = await fetch(`${server.url}/events?types=task,log`);
      expect(events.status).toBe(200);
      const stream = readSse(events);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await api.post('/functions/chatty/invoke', {
          args: [`n${i}`],
          id: `list-${i}`,
        });
        ids.push(res.body.id);
      }
      // Tasks live in different shards (by id hash); the listing merges them, page by page.
      const first = await api.get('/tasks?function=chatty&limit=3');
      expect(first.body.tasks.map((t: Json) => t.id)).toEqual(['list-4', 'list-3', 'list-2']);
      const second = await api.get(`/tasks?function=chatty&limit=3&before=${first.body.next}`);
      expect(second.body.tasks.map((t: Json) => t.id)).toEqual(['list-1', 'list-0']);
      expect(second.body.next).toBeUndefined();
      // Live events came from the shards: each task's states and its printed lines.
      const seen = await collectUntil(
        stream,
        (_, all) => all.filter((e) => e.event === 'log').length >= 10,
      );
      const states = seen
        .filter((e) => e.event === 'task' && (e.data as Json).id === 'list-0')
        .map((e) => (e.data as Json).status);
      expect(states).toEqual(['queued', 'running', 'completed']);
      expect(seen.find((e) => e.event === 'log')?.data).toMatchObject({
        taskId: 'list-0',
        function: 'chatty',
        level: 'log',
        message: 'hello n0',
      });
      // A failed task runs again as a new task (in whichever shard its new id lands).
      const failed = await api.post('/functions/broken/invoke', {});
      const replay = await api.post(`/tasks/${failed.body.id}/retry`);
      expect(replay.status).toBe(202);
      expect(replay.body).toMatchObject({ retryOf: failed.body.id, status: 'queued' });
      expect(await api.settle(replay.body.id)).toMatchObject({ status: 'failed' });
      const done = await api.post(`/tasks/${ids[0]}/retry`);
      expect(done.status).toBe(409);
      // An HTTP handler in its own isolate: status, headers and body as it made them.
      const handled = await fetch(`${server.url}/fn/web/a/b?c=1`, { method: 'POST', body: 'hi' });
      expect(handled.status).toBe(201);
      expect(handled.headers.get('x-handled-by')).toBe('web');
      expect(await handled.text()).toBe('POST /a/b?c=1 hi');
      const none = await api.get('/fn/chatty/');
      expect(none.status).toBe(404);
      expect(none.body.error.code).toBe('no_fetch_handler');
    });
  }, 120_000);

  it('Should deploy by name, swap versions, keep the old on a broken one, bundle imports from the CLI, log plainly, and delete', async () => {
    const env = {
      ...ENV,
      EBBFLOW_TOKEN: 'edge-invoke',
      EBBFLOW_ADMIN_TOKEN: 'edge-admin',
      EBBFLOW_MAX_FUNCTION_BYTES: '4096',
    };
    await withServer(WORKERS, env, async (server) => {
      const api = client(server.url, { Authorization: 'Bearer edge-invoke' });
      const put = async (source: string, type = 'application/javascript', token = 'edge-admin') => {
        const res = await fetch(`${server.url}/functions/edged`, {
          method: 'PUT',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': type },
          body: source,
        });
        return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
      };
      const admin = client(server.url, { Authorization: 'Bearer edge-admin' });
      const first = await put('export default (n) => n + 1;');
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ name: 'edged', version: 1, status: 'ready' });
      expect((await api.post('/functions/edged/invoke', { args: [1] })).body).toMatchObject({
        status: 'completed',
        result: 2,
        version: 1,
      });
      const second = await put('export default (n) => n * 10;');
      expect(second.status).toBe(200);
      expect(second.body).toMatchObject({ version: 2 });
      expect((await api.post('/functions/edged/invoke', { args: [3] })).body).toMatchObject({
        status: 'completed',
        result: 30,
        version: 2,
      });
      // A module that does not load: 422 with the loader's message; version 2 keeps serving.
      const broken = await put('export default () => {\n  return (;\n};\n');
      expect(broken.status).toBe(422);
      expect(broken.body.error.code).toBe('invalid_function');
      expect(broken.body.error.message).toMatch(/\S/);
      expect((await api.post('/functions/edged/invoke', { args: [4] })).body).toMatchObject({
        result: 40,
        version: 2,
      });
      // The code that serves, again: no new version.
      const same = await put('export default (n) => n * 10;');
      expect(same).toMatchObject({ status: 200, body: { version: 2 } });
      expect(same.headers.get('ebbflow-unchanged')).toBe('true');
      // Both versions are kept; a rollback serves version 1 again, in the task shards too.
      const kept = (await api.get('/functions/edged/versions')).body;
      expect(kept.versions.map((v: Json) => [v.version, v.serving])).toEqual([
        [2, true],
        [1, false],
      ]);
      expect((await api.post('/functions/edged/rollback')).status).toBe(403);
      expect((await admin.post('/functions/edged/rollback')).body).toMatchObject({
        name: 'edged',
        version: 1,
        status: 'ready',
      });
      const queued = (await api.post('/functions/edged/tasks', { args: [5] })).body;
      expect(await api.settle(queued.id)).toMatchObject({ result: 6, version: 1 });
      expect((await admin.post('/functions/edged/rollback')).body.error.code).toBe(
        'no_previous_version',
      );
      expect((await admin.post('/functions/edged/rollback', { version: 2 })).body.version).toBe(2);
      expect((await api.post('/functions/edged/invoke', { args: [4] })).body).toMatchObject({
        result: 40,
        version: 2,
      });
      // TypeScript has its types stripped at the edge; the invoke token does not deploy; the size
      // is capped.
      const typescript = await put(
        'export const config = { timeoutMs: 5_000 } satisfies object;\nexport default (n: number): number => n * 100;',
        'application/typescript',
      );
      expect(typescript.status).toBe(200);
      expect(typescript.body).toMatchObject({ version: 3, timeoutMs: 5_000 });
      expect((await api.post('/functions/edged/invoke', { args: [2] })).body).toMatchObject({
        result: 200,
        version: 3,
      });
      // The same TypeScript again changes nothing; its version is listed as the source it was.
      const sameTs = await put(
        'export const config = { timeoutMs: 5_000 } satisfies object;\nexport default (n: number): number => n * 100;',
        'application/typescript',
      );
      expect(sameTs).toMatchObject({ status: 200, body: { version: 3 } });
      expect(sameTs.headers.get('ebbflow-unchanged')).toBe('true');
      const listed = (await api.get('/functions/edged/versions')).body;
      expect(listed.versions.map((v: Json) => [v.version, v.language, v.serving])).toEqual([
        [3, 'ts', true],
        [2, 'js', false],
        [1, 'js', false],
      ]);
      expect(listed.versions[0].sha256).toBe(typescript.body.sha256);
      const invoker = await put('export default () => 0;', 'application/javascript', 'edge-invoke');
      expect(invoker.status).toBe(403);
      expect(invoker.body.error.code).toBe('forbidden');
      const large = await put(`export default () => '${'x'.repeat(5_000)}';`);
      expect(large.status).toBe(413);
      // A deployed module is one file at the edge: `ebbflow deploy` bundles a relative import in.
      const dir = mkdtempSync(join(tmpdir(), 'ebbflow-edge-cli-'));
      onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(
        join(dir, 'double.ts'),
        'import { twice } from "./twice.ts";\nexport default (n: number): number => twice(n);\n',
      );
      writeFileSync(join(dir, 'twice.ts'), 'export const twice = (n: number): number => n * 2;\n');
      const ran = await runCli(['deploy', join(dir, 'double.ts')], {
        EBBFLOW_URL: server.url,
        EBBFLOW_ADMIN_TOKEN: 'edge-admin',
      });
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stdout).toMatch(/^deployed double version 1 .*compiled to JavaScript\)/);
      expect((await api.post('/functions/double/invoke', { args: [21] })).body).toMatchObject({
        status: 'completed',
        result: 42,
      });
      // Deleted: the answer names the last version, then the function is gone.
      const removed = await fetch(`${server.url}/functions/edged`, {
        method: 'DELETE',
        headers: { Authorization: 'Bearer edge-admin' },
      });
      expect(removed.status).toBe(200);
      expect(await removed.json()).toMatchObject({ name: 'edged', status: 'deleted', version: 3 });
      // Deploys and deletes are routine lines, not errors.
      await until(() => server.output().includes('ebbflow: delete edged version=3'));
      expect(server.output()).toContain('ebbflow: deploy edged version=1');
      expect(server.output()).not.toMatch(/\[ERROR\]|✘/);
      expect((await api.post('/functions/edged/invoke', { args: [1] })).status).toBe(404);
      expect((await api.get('/functions/edged')).status).toBe(404);
      // A 404 decided before the body is read keeps its connection for the client's next
      // request: workerd closed it, and a client that sent on it got ECONNRESET.
      const statuses = await oneConnection(server.url, [
        'POST /functions/edged/invoke HTTP/1.1\r\nAuthorization: Bearer edge-invoke\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"args":[1]}',
        'GET /health HTTP/1.1\r\n\r\n',
      ]);
      expect(statuses).toEqual([404, 200]);
    });
  }, 180_000);
});

describe.skipIf(WORKERS.missing !== undefined)('the edge beyond the shared contract', () => {
  it("Should tell a task's printed line while it still runs, and count each shard's work in /stats", async () => {
    await withServer(WORKERS, ENV, async (server, api) => {
      const events = readSse(await fetch(`${server.url}/events?types=log`));
      // `talker` prints at once, then sleeps: its line is told while it runs.
      const { body } = await api.post('/functions/talker/tasks', { args: [3_000] });
      const seen = await collectUntil(events, (e) => e.event === 'log');
      expect((await api.get(`/tasks/${body.id}`)).body.status).toBe('running');
      expect(seen[0]?.data).toMatchObject({ taskId: body.id, level: 'log', message: 'talking' });
      await events.return(undefined);
      expect(await api.settle(body.id)).toMatchObject({ status: 'completed' });
      const { costs } = (await api.get('/stats')).body;
      expect(costs.calls.submit).toBeGreaterThanOrEqual(1);
      expect(costs.calls.isolate).toBeGreaterThanOrEqual(1);
      expect(costs.statements).toBeGreaterThan(0);
    });
  }, 120_000);

  it('Should retry after its backoff while a long run holds the shard', async () => {
    // One shard: a long run keeps its alarm handler open, which an alarm-only retry waited on.
    await withServer(WORKERS, { ...ENV, EBBFLOW_SHARDS: '1' }, async (_server, api) => {
      const long = (await api.post('/functions/slow/tasks', { args: [15_000] })).body;
      await until(async () => (await api.get(`/tasks/${long.id}`)).body.status === 'running');
      const flaky = (await api.post('/functions/flaky/invoke', {})).body;
      expect(flaky).toMatchObject({ status: 'completed', attempt: 2 });
      // Its 20 ms backoff, not the long run's 15 s.
      expect(flaky.completedAt - flaky.submittedAt).toBeLessThan(5_000);
      expect((await api.get(`/tasks/${long.id}`)).body.status).toBe('running');
    });
  }, 120_000);

  it('Should time out a function that computes forever, keep the API answering, and restart its isolates', async () => {
    await withServer(WORKERS, ENV, async (server, api) => {
      // In one workerd the loop held the whole runtime: this invoke's timer never fired.
      const spun = await api.post('/functions/forever/invoke', { timeoutMs: 1_500 });
      expect(spun.status).toBe(504);
      expect(spun.body).toMatchObject({ errorCode: 'timed_out', error: 'timed out after 1500 ms' });
      expect((await api.get('/health')).status).toBe(200);
      // The isolate host is restarted; other functions run again (a run caught in the restart
      // fails `worker_exited`).
      await until(() => server.output().includes('restarting them'));
      await until(
        async () =>
          (await api.post('/functions/chatty/invoke', { args: ['again'] })).body.status ===
          'completed',
      );
      // And the function itself can be called again, with the same end.
      const again = await api.post('/functions/forever/invoke', { timeoutMs: 1_000 });
      expect(again.body).toMatchObject({ errorCode: 'timed_out' });
      await until(
        async () =>
          (await api.post('/functions/chatty/invoke', { args: ['after'] })).body.status ===
          'completed',
      );
    });
  }, 120_000);

  it("Should hold a function's lanes over all shards, client-chosen ids included", async () => {
    // `slow`: concurrency 2 × maxWorkers 1 = 2 lanes over 8 shards; ids chosen by the client
    // land in shards that hold none, whose runs are lent to the ones that do.
    await withServer(WORKERS, ENV, async (_server, api) => {
      const ids = Array.from({ length: 8 }, (_, i) => `lane-${i}`);
      for (const id of ids) {
        expect((await api.post('/functions/slow/tasks', { id, args: [400] })).status).toBe(202);
      }
      // Reads of several shards are not one snapshot: the bound is read from the recorded times.
      await until(async () => {
        const records = await Promise.all(
          ids.map(async (id) => (await api.get(`/tasks/${id}`)).body),
        );
        return records.every((r) => r.status === 'completed');
      }, 60_000);
      const records = await Promise.all(
        ids.map(async (id) => (await api.get(`/tasks/${id}`)).body),
      );
      for (const record of records) expect(record.result).toBe(400);
      // From its start to its recorded end, no third run beside two others: a lane is given to
      // the next run only once the end of the one before is recorded.
      for (const { startedAt } of records) {
        const beside = records.filter((r) => r.startedAt <= startedAt && r.completedAt > startedAt);
        expect(beside.length).toBeLessThanOrEqual(2);
      }
    });
  }, 120_000);
});

/**
 * Send `requests` (each its request line and headers, `Host` added) one after another on one
 * keep-alive connection, each once the answer before it has come: their statuses, and `0` for
 * one the server closed the connection on.
 */
const oneConnection = async (url: string, requests: string[]): Promise<number[]> => {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  socket.on('close', () => {
    closed = true;
  });
  socket.on('error', () => {});
  const statuses: number[] = [];
  try {
    for (const request of requests) {
      received = Buffer.alloc(0);
      socket.write(request.replace('\r\n', `\r\nHost: ${hostname}\r\n`));
      let answer: number | undefined;
      await until(() => {
        const text = received.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(text)?.[1] ?? Number.NaN);
        if (end >= 0 && received.length >= end + 4 + length) {
          answer = Number(text.slice(9, 12));
          return true;
        }
        return closed;
      });
      statuses.push(answer ?? 0);
    }
  } finally {
    socket.destroy();
  }
  return statuses;
};

/** The `ebbflow` CLI from source, with its exit code and output. */
const runCli = (
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'cli/main.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', EBBFLOW_TOKEN: '', ...env } },
      (error, stdout, stderr) =>
        resolve({ code: (error as { code?: number } | null)?.code ?? 0, stdout, stderr }),
    );
  });
