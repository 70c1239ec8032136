/**
 * The real Node server, started as the README says (`npm start`, settings as flags after `--` and
 * in the environment), on 127.0.0.1 with PORT=0.
 */
import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { API_FUNCTIONS } from './fixtures/api-app.ts';
import { readJson as json, launch, NODE, serverForSuite, withServer } from './support/server.ts';
import { until } from './support/wait.ts';

/** Flags, so the command line is read as well as the environment. */
const ARGS = ['--functions', API_FUNCTIONS, '--min-workers', '0', '--memory-limit-mb', '64'];
const ENV = { EBBFLOW_MAX_WORKERS: '3' };

describe('the Node server', () => {
  const suite = serverForSuite(
    NODE,
    { ...ENV, EBBFLOW_CORS_ORIGIN: 'https://app.example' },
    { args: ARGS },
  );

  const post = (path: string, body: unknown) =>
    fetch(`${suite.server.url}${path}`, { method: 'POST', body: JSON.stringify(body) });

  it('Should accept a task, then answer a long-poll with its result', async () => {
    const res = await post('/functions/echo/tasks', { args: ['over', 'http'] });
    expect(res.status).toBe(202);
    const location = res.headers.get('Location');
    const record = await json(res);
    expect(location).toBe(`/tasks/${record.id}`);
    const done = await fetch(`${suite.server.url}${location}?wait=20000`);
    expect(done.status).toBe(200);
    expect(await json(done)).toMatchObject({ status: 'completed', result: ['over', 'http'] });
  });

  it('Should hand the scaler and worker settings to the runtime', async () => {
    const info = await json(await fetch(`${suite.server.url}/functions/echo`));
    expect(info).toMatchObject({ minWorkers: 0, maxWorkers: 3, memoryLimitMb: 64 });
  });

  it('Should invoke and answer with the completed record', async () => {
    const res = await post('/functions/echo/invoke', { args: [42] });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: 'completed', result: [42] });
    const failed = await post('/functions/boom/invoke', {});
    expect(failed.status).toBe(500);
    expect((await json(failed)).error).toBe('boom');
  });

  it('Should cancel a queued task', async () => {
    const running = await json(await post('/functions/nap/tasks', { args: [60_000] }));
    await until(
      async () =>
        (await json(await fetch(`${suite.server.url}/tasks/${running.id}`))).status === 'running',
    );
    const queued = await json(await post('/functions/nap/tasks', { args: [10] }));
    expect(queued.status).toBe('queued');
    const cancel = await fetch(`${suite.server.url}/tasks/${queued.id}`, { method: 'DELETE' });
    expect(cancel.status).toBe(200);
    expect(await json(cancel)).toMatchObject({ id: queued.id, status: 'cancelled' });
    const again = await fetch(`${suite.server.url}/tasks/${queued.id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
    expect((await json(again)).error.code).toBe('already_terminal');
    await fetch(`${suite.server.url}/tasks/${running.id}`, { method: 'DELETE' });
  });

  it('Should answer a CORS preflight from an Origin', async () => {
    const res = await fetch(`${suite.server.url}/functions/echo/tasks`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('https://app.example');
    expect(res.headers.get('Access-Control-Allow-Methods')).toContain('POST');
    expect(res.headers.get('Access-Control-Allow-Headers')).toContain('Content-Type');
    const other = await fetch(`${suite.server.url}/health`, {
      headers: { Origin: 'https://other.example' },
    });
    expect(other.headers.get('Access-Control-Allow-Origin')).toBe(null);
  });

  it('Should refuse a chunked body over the limit with 413 before reading it all', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        `${suite.server.url}/functions/echo/tasks`,
        { method: 'POST', headers: { 'Transfer-Encoding': 'chunked' } },
        (res) => {
          let body = '';
          res.on('data', (chunk) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      // The server may close while the last bytes travel; only an error without an answer counts.
      req.on('error', (error) => setTimeout(() => reject(error), 2_000));
      // 1 MiB + 64 KiB in 64 KiB chunks against the 1 MiB default, without Content-Length.
      const chunk = 'x'.repeat(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 17) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      req.write('{"args":["');
      pump();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error.code).toBe('payload_too_large');
  });
});

describe('starting', () => {
  it('Should stop with exit code 2 and a clear message on a bad setting', async () => {
    const started = launch(NODE, {}, ['--max-workers', 'many']);
    expect(await started.exited).toBe(2);
    expect(started.stderr()).toContain('--max-workers must be an integer >= 1, got "many"');
  });
});

describe('SIGTERM', () => {
  it('Should finish every accepted task, answer while draining, then exit 0', async () => {
    await withServer(
      NODE,
      { ...ENV, EBBFLOW_DRAIN_TIMEOUT_MS: '30000' },
      async (server) => {
        const accepted = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            fetch(`${server.url}/functions/wait/tasks`, {
              method: 'POST',
              body: JSON.stringify({ args: [1500 + 50 * i] }),
            }).then(json),
          ),
        );
        const polls = accepted.map((task) =>
          fetch(`${server.url}/tasks/${task.id}?wait=30000`).then(json),
        );
        server.child.kill('SIGTERM');
        await until(() => server.output().includes('draining'));
        const health = await fetch(`${server.url}/health`);
        expect(health.status).toBe(503);
        expect(await json(health)).toEqual({ status: 'draining' });
        const refused = await fetch(`${server.url}/functions/wait/tasks`, { method: 'POST' });
        expect(refused.status).toBe(503);
        expect((await json(refused)).error.code).toBe('draining');
        // Results and long-polls still answer while draining.
        const last = accepted[accepted.length - 1];
        const lateWait = fetch(`${server.url}/tasks/${last.id}?wait=30000`).then(json);

        const records = await Promise.all(polls);
        expect(records.map((r) => r.status)).toEqual(accepted.map(() => 'completed'));
        expect(records.map((r) => r.result)).toEqual(accepted.map((_, i) => 1500 + 50 * i));
        expect((await lateWait).status).toBe('completed');
        expect(await server.exited).toBe(0);
      },
      { args: ARGS },
    );
  }, 60_000);
});
