/**
 * Requests the contract lets wait are held on every host: a long-poll (up to 30 s), an invoke
 * (up to the task's timeout), and a long-poll opened during a drain. Each waits about 12 s, past
 * Bun.serve's default idle timeout of 10 s, which used to reset them. The three hosts run at once
 * (one concurrent test each) so the file costs one wait, not three.
 */
import { describe, expect, it } from 'vitest';
import { client, RUNTIMES, startServer } from './support/server.ts';
import { until } from './support/wait.ts';

/** Longer than Bun's default idle timeout (10 s), well inside the default task timeout (30 s). */
const NAP_MS = 12_000;

/** A request's status and JSON body, or how it failed (a reset connection), never a rejection. */
const answer = (request: Promise<Response>) =>
  request.then(
    async (res) => ({ status: res.status, body: await res.json() }),
    (error: Error) => ({ status: 0, body: { failed: `${error.message}: ${error.cause}` } }),
  );

describe.concurrent('requests that wait longer than 10 s', () => {
  for (const runtime of RUNTIMES) {
    it.skipIf(runtime.missing !== undefined)(
      `Should hold a long-poll, an invoke and a long-poll during a drain on ${runtime.name}`,
      async () => {
        const server = await startServer(runtime, {
          EBBFLOW_FUNCTIONS: 'test/fixtures/conformance',
          EBBFLOW_MIN_WORKERS: '1',
          EBBFLOW_MAX_WORKERS: '2',
        });
        try {
          const api = client(server.url);
          const polled = (await api.post('/functions/nap/tasks', { args: [NAP_MS] })).body.id;
          const drained = (await api.post('/functions/nap/tasks', { args: [NAP_MS] })).body.id;
          const longPoll = answer(fetch(`${server.url}/tasks/${polled}?wait=20000`));
          const invoke = answer(
            fetch(`${server.url}/functions/nap/invoke`, {
              method: 'POST',
              body: JSON.stringify({ args: [NAP_MS] }),
            }),
          );
          // All three naps running (nap runs 8 at once per worker) before the signal.
          await until(async () => (await api.get('/functions/nap')).body.activeTasks === 3);
          server.child.kill('SIGTERM');
          await until(() => server.output().includes('draining'));
          // Opened during the drain: it must be held until the task ends, then the server exits.
          const duringDrain = answer(fetch(`${server.url}/tasks/${drained}?wait=30000`));
          const done = { status: 200, body: { status: 'completed', result: NAP_MS } };
          expect(await duringDrain).toMatchObject(done);
          expect(await longPoll).toMatchObject(done);
          expect(await invoke).toMatchObject(done);
          expect(await server.exited).toBe(0);
        } finally {
          await server.stop(5_000);
        }
      },
      120_000,
    );
  }
});
