/**
 * The embedded store's own promises on Node (libsql, a real file): group commit (one commit per
 * turn, nothing answered or told before it), a failed batch rolled back whole, one opener per
 * file, runs lost with a process retried or failed `server_lost` at the next open, and records
 * past their time to live or the cap deleted with the file kept bounded. The TaskBackend
 * contract itself runs over this store in contract.test.ts (and on Deno and Bun in
 * test/host-store.test.ts).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { libsqlDriver } from '../../host/sqlite-libsql.ts';
import { ManualClock } from '../../time/manual-clock.ts';
import type { NewTask } from '../../types.ts';
import { openSqliteStore, type SqliteStoreOptions, type SqliteTaskBackend } from './store.ts';

const folders: string[] = [];
const stores: SqliteTaskBackend[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

const fileIn = () => {
  const folder = mkdtempSync(join(tmpdir(), 'ebbflow-store-'));
  folders.push(folder);
  return join(folder, 'tasks.db');
};

const open = (options: Partial<SqliteStoreOptions> & { path: string }) => {
  const store = openSqliteStore({
    driver: libsqlDriver,
    ttlMs: 3_600_000,
    maxResults: 100_000,
    ...options,
  });
  stores.push(store);
  return store;
};

const task = (id: string, extra: Partial<NewTask> = {}): NewTask => ({
  id,
  function: 'f',
  args: [id],
  timeoutMs: 1000,
  retry: { attempts: 1, backoffMs: 0 },
  maxQueue: 1_000_000,
  ...extra,
});

const done = (result: unknown) => ({
  status: 'completed' as const,
  result,
  startedAt: 1,
  endedAt: 2,
  executionTime: 1,
  workerId: 1,
});

describe('the embedded SQLite store', () => {
  it('Should share one commit among the submissions of a turn, answering none before it', async () => {
    const store = open({ path: fileIn() });
    const before = { ...store.commits };
    const told: string[] = [];
    store.subscribe((record) => told.push(record.id));
    let answered = 0;
    const pending = Array.from({ length: 200 }, (_, i) =>
      store.submit(task(`t${i}`)).then((record) => {
        answered++;
        return record;
      }),
    );
    // Every insert is written in this turn; none is committed, answered or told yet.
    expect(store.queued('f')).toBe(200);
    await Promise.resolve();
    expect([answered, told.length, store.commits.commits]).toEqual([0, 0, before.commits]);
    await Promise.all(pending);
    expect(store.commits.commits - before.commits).toBe(1);
    expect(store.commits.tasks - before.tasks).toBe(200);
    expect(told).toHaveLength(200);
  });

  it('Should stop a cancelled run only once the cancel is committed', async () => {
    const store = open({ path: fileIn() });
    const stopped: string[] = [];
    store.onCancel((id) => stopped.push(id));
    await store.submit(task('a'));
    await store.claim('f', 1, 1);
    const cancelled = store.cancel('a');
    await Promise.resolve();
    expect(stopped).toEqual([]);
    expect(await cancelled).toMatchObject({ status: 'cancelled' });
    expect(stopped).toEqual(['a']);
  });

  it('Should roll back a batch whose write fails, refusing all of it and keeping what was committed', async () => {
    const path = fileIn();
    const logged: string[] = [];
    const store = open({ path, maxBytes: 256 * 1024, log: (m) => logged.push(m) });
    await store.submit(task('kept'));
    const big = 'x'.repeat(64 * 1024);
    // Both in one batch: the second does not fit, and takes the first down with it.
    const small = store.submit(task('small'));
    const large = store.submit(task('large', { args: [big, big, big, big, big] }));
    await expect(large).rejects.toMatchObject({
      code: 'store_unavailable',
      message: expect.stringContaining(path),
    });
    await expect(small).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(await store.read('small')).toBeUndefined();
    expect(await store.read('kept')).toMatchObject({ status: 'queued' });
    // The counts in memory follow the file, and the next batch commits.
    expect(store.queued('f')).toBe(1);
    expect(await store.submit(task('after'))).toMatchObject({ status: 'queued' });
    expect(store.queued('f')).toBe(2);
    expect(logged.join('\n')).toContain('could not commit');
  });

  it('Should not answer a long-poll with an ending whose batch was rolled back', async () => {
    const store = open({ path: fileIn(), maxBytes: 256 * 1024 });
    await store.submit(task('a'));
    await store.claim('f', 1, 1);
    const waiting = store.wait('a', 60_000);
    // In one turn: the ending is written, then a write that does not fit fails the batch.
    const finishing = store.finish('a', done('lost with the batch'));
    const large = store.submit(task('large', { args: ['x'.repeat(300 * 1024)] }));
    await expect(waiting).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(Promise.all([finishing, large])).rejects.toMatchObject({
      code: 'store_unavailable',
    });
    expect(await store.read('a')).toMatchObject({ status: 'running' });
  });

  it('Should hand out a task inserted in the open batch at once, and any other only once its claim is committed', async () => {
    const store = open({ path: fileIn() });
    await store.submit(task('committed'));
    let handed = false;
    const claimed = store.claim('f', 1, 1).then((tasks) => {
      handed = true;
      return tasks;
    });
    await Promise.resolve();
    await Promise.resolve();
    expect(handed).toBe(false);
    expect((await claimed).map((t) => t.id)).toEqual(['committed']);
    // Inserted and claimed in one turn: if the batch were lost, the task would be too.
    const before = store.commits.commits;
    const submitted = store.submit(task('fresh'));
    const fresh = await store.claim('f', 1, 1);
    expect(fresh.map((t) => t.id)).toEqual(['fresh']);
    expect(store.commits.commits).toBe(before);
    await submitted;
    expect(store.commits.commits).toBe(before + 1);
  });

  it('Should answer an invoke with the terminal record once it is committed, and refuse it if the submit is rolled back', async () => {
    const store = open({ path: fileIn(), maxBytes: 256 * 1024 });
    const invoked = store.invoke(task('a'));
    const [claimed] = await store.claim('f', 1, 1);
    expect(claimed?.id).toBe('a');
    await store.finish('a', done('answer'));
    expect(await invoked).toMatchObject({ id: 'a', status: 'completed', result: 'answer' });
    const lost = store.invoke(task('b'));
    await expect(
      store.submit(task('too big', { args: ['x'.repeat(300 * 1024)] })),
    ).rejects.toMatchObject({ code: 'store_unavailable' });
    await expect(lost).rejects.toMatchObject({ code: 'store_unavailable' });
    expect(await store.read('b')).toBeUndefined();
  });

  it("Should create the file's folder for its owner alone", () => {
    const path = join(fileIn(), '..', 'state', 'tasks.db');
    open({ path });
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700);
  });

  it('Should refuse a second opener of the file, naming it, until the first closes', async () => {
    const path = fileIn();
    const first = open({ path });
    expect(() => open({ path })).toThrow(
      expect.objectContaining({ code: 'store_locked', message: expect.stringContaining(path) }),
    );
    await first.submit(task('a'));
    await first.close();
    const second = open({ path });
    expect(await second.read('a')).toMatchObject({ status: 'queued' });
  });

  it('Should run again what a closed store left running, and fail it server_lost once attempts are spent', async () => {
    const path = fileIn();
    const first = open({ path });
    await first.submit(task('again', { retry: { attempts: 2, backoffMs: 0 } }));
    await first.submit(task('lost'));
    await first.submit(task('finished'));
    await first.claim('f', 3, 1);
    await first.finish('finished', done('kept'));
    await first.submit(task('waiting'));
    await first.close();
    const second = open({ path });
    expect(second.recovered).toEqual({ queued: 1, lost: 2 });
    expect(await second.read('finished')).toMatchObject({ status: 'completed', result: 'kept' });
    expect(await second.read('lost')).toMatchObject({
      status: 'failed',
      errorCode: 'server_lost',
      error: expect.stringContaining('lost'),
    });
    const claimed = await second.claim('f', 5, 2);
    expect(claimed.map((t) => `${t.id}:${t.attempt}`).sort()).toEqual(['again:2', 'waiting:1']);
  });

  it('Should delete records past their time to live and the cap, and give the pages back', async () => {
    const clock = new ManualClock();
    const path = fileIn();
    const store = open({ path, clock, ttlMs: 60_000, maxResults: 500 });
    const payload = 'p'.repeat(2_000);
    const round = async (from: number, n: number) => {
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          store.submit(task(`t${from + i}`, { args: [payload] })),
        ),
      );
      const claimed = await store.claim('f', n, 1);
      await Promise.all(claimed.map((t) => store.finish(t.id, done(payload))));
      clock.advance(1_000); // the sweep runs each second
      await store.expire(clock.now());
    };
    const used = () => {
      const { pages, freePages } = store.space();
      return pages - freePages;
    };
    await round(0, 1_000);
    const listed = async () => (await store.list({ limit: 1000 })).tasks.length;
    expect(await listed()).toBe(500);
    const steady = used();
    for (let r = 1; r < 6; r++) await round(r * 1_000, 1_000);
    expect(await listed()).toBe(500);
    // Freed pages are reused: the cap holds the file where one round left it.
    expect(used()).toBeLessThan(steady * 1.25);
    const full = store.space().pages;
    // Past the time to live every record goes, and the sweep hands the free pages back.
    clock.advance(61_000);
    await store.expire(clock.now());
    expect(await listed()).toBe(0);
    for (let i = 0; i < 5; i++) clock.advance(1_000);
    await store.read('x'); // lets the sweep's commit land
    expect(store.space().pages).toBeLessThan(full / 2);
    await store.close();
    expect(statSync(path).size).toBeLessThan(full * 4096);
  });
});
