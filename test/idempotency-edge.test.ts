/**
 * Idempotent submission at the edge (`npm run dev:workers`, offline): the key lives in the shard
 * its hash picks. A new task is created in that shard; a chosen id whose shard is another takes
 * the key there first, and gives it back when its own shard refuses the task; a new task of a
 * function whose lanes that shard does not hold gets an id in a shard that does, so its run is
 * not lent. Eight id and key pairs over four shards: the chance that none crosses shards is
 * (1/4)^8.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, client, type Server, startServer, WORKERS } from './support/server.ts';

describe.skipIf(WORKERS.missing !== undefined)('idempotency keys at the edge', () => {
  let server: Server;
  let api: Client;
  beforeAll(async () => {
    server = await startServer(WORKERS, {
      EBBFLOW_FUNCTIONS: 'test/fixtures/workers',
      EBBFLOW_SHARDS: '4',
      // `slow`: concurrency 2 × maxWorkers 1 = 2 lanes, held by 2 of the 4 shards.
      EBBFLOW_MAX_WORKERS: '1',
    });
    api = client(server.url);
  }, 180_000);
  afterAll(() => server?.stop(10_000), 60_000);

  const keyed = (path: string, body: unknown, key: string) =>
    api.request('POST', path, body, { 'Idempotency-Key': key });

  it('Should create a new keyed task in a shard holding lanes of its function: its run is not lent', async () => {
    // `slow` has 2 lanes over the 4 shards: half the keys' shards hold none. First in the file,
    // so no earlier task is lent meanwhile.
    const lent = async (): Promise<number> => (await api.get('/stats')).body.costs.calls.lend ?? 0;
    const before = await lent();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const { status, body } = await keyed('/functions/slow/tasks', { args: [1] }, `lanes-${i}`);
      expect(status).toBe(202);
      ids.push(body.id);
    }
    for (const id of ids) expect(await api.settle(id)).toMatchObject({ status: 'completed' });
    expect(await lent()).toBe(before);
  }, 120_000);

  it('Should create one task per key, with or without a chosen id, and answer repeats with it', async () => {
    const first = await keyed('/functions/slow/tasks', { args: [1] }, 'edge-new');
    expect(first.status).toBe(202);
    const again = await keyed('/functions/slow/tasks', { args: [1] }, 'edge-new');
    expect(again.status).toBe(200);
    expect(again.headers.get('Idempotent-Replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    for (let i = 0; i < 8; i++) {
      const body = { args: [1], id: `edge-chosen-${i}` };
      const created = await keyed('/functions/slow/tasks', body, `edge-key-${i}`);
      expect(created.status).toBe(202);
      expect(created.body.id).toBe(body.id);
      const repeat = await keyed('/functions/slow/tasks', body, `edge-key-${i}`);
      expect(repeat.status).toBe(200);
      expect(repeat.body.id).toBe(body.id);
      const reused = await keyed(
        '/functions/slow/tasks',
        { ...body, id: `x-${i}` },
        `edge-key-${i}`,
      );
      expect(reused.status).toBe(422);
      expect(reused.body.error.code).toBe('idempotency_key_reused');
    }
  }, 120_000);

  it('Should give the key back when the task is refused', async () => {
    for (let i = 0; i < 8; i++) {
      const taken = `edge-taken-${i}`;
      expect((await api.post('/functions/slow/tasks', { args: [1], id: taken })).status).toBe(202);
      const refused = await keyed('/functions/slow/tasks', { args: [1], id: taken }, `give-${i}`);
      expect(refused.status).toBe(409);
      // Had the key stayed with the refused request, another body would be refused for it (422).
      const fresh = { args: [1], id: `edge-fresh-${i}` };
      const created = await keyed('/functions/slow/tasks', fresh, `give-${i}`);
      expect(created.status).toBe(202);
      expect(created.body.id).toBe(fresh.id);
    }
  }, 120_000);

  it('Should answer a repeated invoke with the task the first ran', async () => {
    const first = await keyed('/functions/chatty/invoke', { args: ['a'] }, 'edge-invoke');
    expect(first).toMatchObject({ status: 200, body: { status: 'completed', result: 'hi a' } });
    const repeat = await keyed('/functions/chatty/invoke', { args: ['a'] }, 'edge-invoke');
    expect(repeat.status).toBe(200);
    expect(repeat.headers.get('Idempotent-Replayed')).toBe('true');
    expect(repeat.body).toEqual(first.body);
  }, 60_000);
});
