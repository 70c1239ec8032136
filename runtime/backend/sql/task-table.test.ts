/**
 * What the SQL task table adds for an owner that runs its own tasks (an edge shard): a task
 * written already claimed (`submitRunning`) with its end awaited without a read (`ending`), an
 * id the server drew not looked up, and expiry that reads nothing while nothing can be due, yet
 * still drops what the cap, the time to live and the keys' time to live say, whatever came
 * between. Counted in statements over a real SQLite (libsql, in memory). The TaskBackend contract
 * over this table runs in contract.test.ts (the embedded store and a Durable Object).
 */
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../time/manual-clock.ts';
import type { TaskRecord } from '../../types.ts';
import { task } from '../contract.test-suite.ts';
import type { SqlExecutor, SqlValue } from './executor.ts';
import { SqlTaskTable } from './task-table.ts';

/** libsql in memory as the table's executor, every statement counted. */
const counted = () => {
  const db = new Database(':memory:');
  const stats = { statements: 0 };
  const sql: SqlExecutor = {
    run: (query: string, ...params: SqlValue[]) => {
      stats.statements++;
      db.prepare(query).run(params);
    },
    all: <T extends object>(query: string, ...params: SqlValue[]) => {
      stats.statements++;
      return db.prepare(query).all(params) as T[];
    },
    one: <T extends object>(query: string, ...params: SqlValue[]) => {
      stats.statements++;
      return (db.prepare(query).get(params) as T | undefined) ?? undefined;
    },
  };
  return { sql, stats, db };
};

const completed = (result: unknown, endedAt: number) => ({
  status: 'completed' as const,
  result,
  startedAt: endedAt - 1,
  endedAt,
  executionTime: 1,
  workerId: 7,
});

const open = (limits = { ttlMs: 60_000, maxResults: 100 }) => {
  const clock = new ManualClock();
  const { sql, stats, db } = counted();
  const table = new SqlTaskTable(sql, limits, { clock });
  stats.statements = 0;
  return { table, stats, clock, db };
};

describe('SqlTaskTable for an owner that runs its own tasks', () => {
  it('Should write a task already claimed in one statement, tell it queued then running, and answer its end without a read', async () => {
    const { table, stats, clock } = open();
    const seen: TaskRecord['status'][] = [];
    table.subscribe((record) => seen.push(record.status));
    let available = 0;
    table.onAvailable(() => available++);

    table.submitRunning(task(), 7); // the first also counts the function's queue, once
    seen.length = 0;
    stats.statements = 0;
    const { claimed, submitted } = table.submitRunning(
      task({ id: crypto.randomUUID(), idDrawn: true }),
      7,
    );
    expect(stats.statements).toBe(1); // the insert: a drawn id is not looked up
    expect(claimed).toMatchObject({ function: 'f', args: [1], timeoutMs: 1000, attempt: 1 });
    expect(submitted).toMatchObject({ id: claimed.id, status: 'queued', attempt: 1 });
    expect(seen).toEqual(['queued', 'running']);
    expect(available).toBe(0); // nothing for a claim to find
    expect(await table.read(claimed.id)).toMatchObject({ status: 'running', workerId: 7 });
    expect(await table.claim('f', 10, 1)).toEqual([]);

    const ending = table.ending(claimed.id);
    stats.statements = 0;
    expect(await table.finish(claimed.id, completed(2, clock.now()))).toBe(true);
    expect(stats.statements).toBe(1); // the record, written; the claim's row was kept
    expect(await ending).toMatchObject({ id: claimed.id, status: 'completed', result: 2 });
    expect(seen).toEqual(['queued', 'running', 'completed']);
  });

  it('Should refuse as a submit does: a full queue, and a chosen id already taken', async () => {
    const { table } = open();
    expect(() => table.submitRunning(task({ maxQueue: 0 }), 1)).toThrow(
      expect.objectContaining({ code: 'queue_full' }),
    );
    await table.submit(task({ id: 'mine' }));
    expect(() => table.submitRunning(task({ id: 'mine' }), 1)).toThrow(
      expect.objectContaining({ code: 'duplicate_id' }),
    );
  });

  it('Should hand a cancel of a task started so to whoever awaits its end', async () => {
    const { table } = open();
    const cancelled: string[] = [];
    table.onCancel((id) => cancelled.push(id));
    const { id } = table.submitRunning(task(), 1).claimed;
    const ending = table.ending(id);
    await table.cancel(id);
    expect(await ending).toMatchObject({ status: 'cancelled', error: 'cancelled while running' });
    expect(cancelled).toEqual([id]);
    expect(await table.finish(id, completed(2, 0))).toBe(false);
  });

  it('Should read nothing to expire while nothing can be due, and still apply the cap, the time to live and expired keys', async () => {
    const { table, stats, clock, db } = open({ ttlMs: 60_000, maxResults: 3 });
    const kept = () => (db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
    const end = async () => {
      const { id } = table.submitRunning(task(), 1).claimed;
      await table.finish(id, completed(1, clock.now()));
    };
    await end();
    await end();
    stats.statements = 0;
    await table.expire(clock.now());
    expect(stats.statements).toBe(1); // read once
    stats.statements = 0;
    await table.expire(clock.now());
    expect(stats.statements).toBe(0); // and then known
    expect(kept()).toBe(2);

    // Two more ends pass the cap of 3: the next expiry drops the oldest.
    await end();
    clock.advance(1);
    await end();
    await table.expire(clock.now());
    expect(kept()).toBe(3);

    // A key reserved after the read expires in its own time.
    const key = { key: 'k', fingerprint: 'x', ttlMs: 10_000 };
    await table.submit(task({ idempotency: key }));
    await table.expire(clock.now());
    clock.advance(10_001);
    await table.expire(clock.now());
    expect(table.reservedKey(key)).toBeUndefined();
    expect(db.prepare('SELECT count(*) AS n FROM idempotency_keys').get()).toMatchObject({ n: 0 });

    // The time to live: every ended record goes once it passes (the queued task stays).
    clock.advance(60_000);
    await table.expire(clock.now());
    expect(kept()).toBe(1);
    stats.statements = 0;
    await table.expire(clock.now());
    await table.expire(clock.now());
    expect(stats.statements).toBe(1);
  });
});
