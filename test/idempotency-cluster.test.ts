/**
 * Idempotent submission across the servers of a cluster (the contract's v3): a Node server and
 * a Bun (or Deno) server on one private Redis, each sent the same keyed request at the same
 * moment, create one task between them; the key holds whichever server is asked, and a repeat
 * of an invoke waits for the task the first created, on the other server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_FUNCTIONS } from './support/functions.ts';
import { REDIS_MISSING, type RedisServer, startRedis } from './support/redis.ts';
import { type Client, client, NODE, RUNTIMES, type Server, startServer } from './support/server.ts';

const other = RUNTIMES.find((r) => r.name !== 'node' && r.missing === undefined) ?? NODE;

describe.skipIf(REDIS_MISSING !== undefined)(
  `idempotency keys across node and ${other.name} servers on one Redis`,
  () => {
    let redis: RedisServer;
    const servers: Server[] = [];
    const apis: Client[] = [];

    beforeAll(async () => {
      redis = await startRedis();
      const env = {
        EBBFLOW_REDIS_URL: redis.url,
        EBBFLOW_FUNCTIONS: CLUSTER_FUNCTIONS,
        EBBFLOW_MIN_WORKERS: '1',
        EBBFLOW_MAX_WORKERS: '4',
      };
      for (const runtime of [NODE, other]) {
        const server = await startServer(runtime, env);
        servers.push(server);
        apis.push(client(server.url));
      }
    }, 180_000);

    afterAll(async () => {
      await Promise.all(servers.map((server) => server.stop(10_000)));
      await redis?.stop();
    }, 60_000);

    const keyed = (api: Client, path: string, body: unknown, key: string) =>
      api.request('POST', path, body, { 'Idempotency-Key': key });

    it('Should create one task when two servers get the same key at once', async () => {
      const created: string[] = [];
      for (let round = 0; round < 10; round++) {
        const key = `pay-${round}`;
        const body = { args: ['ok', round] };
        const answers = await Promise.all(
          apis.map((api) => keyed(api, '/functions/work/tasks', body, key)),
        );
        expect(answers.map((a) => a.status).sort()).toEqual([200, 202]);
        expect(answers[0]?.body.id).toBe(answers[1]?.body.id);
        created.push(answers[0]?.body.id);
        const replayed = answers.find((a) => a.status === 200);
        expect(replayed?.headers.get('Idempotent-Replayed')).toBe('true');
        // A repeat on either server names the same task; another body is refused on both.
        for (const api of apis) {
          expect((await keyed(api, '/functions/work/tasks', body, key)).body.id).toBe(
            answers[0]?.body.id,
          );
          const reused = await keyed(api, '/functions/work/tasks', { args: ['ok', -1] }, key);
          expect(reused.status).toBe(422);
          expect(reused.body.error.code).toBe('idempotency_key_reused');
        }
      }
      // Nothing else was created, on either server.
      const listed = (await (apis[0] as Client).get('/tasks?function=work&limit=1000')).body.tasks;
      expect(listed.map((t: { id: string }) => t.id).sort()).toEqual(created.sort());
    }, 120_000);

    it('Should answer a repeated invoke on another server with the task the first ran', async () => {
      const [a, b] = apis as [Client, Client];
      const first = await keyed(a, '/functions/work/invoke', { args: ['nap', 'x', 300] }, 'inv-1');
      expect(first).toMatchObject({ status: 200, body: { status: 'completed' } });
      const repeat = await keyed(b, '/functions/work/invoke', { args: ['nap', 'x', 300] }, 'inv-1');
      expect(repeat.status).toBe(200);
      expect(repeat.headers.get('Idempotent-Replayed')).toBe('true');
      expect(repeat.body).toEqual(first.body);
    }, 60_000);
  },
);
