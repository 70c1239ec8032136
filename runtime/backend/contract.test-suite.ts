/**
 * The behaviour every `TaskBackend` shares, as one vitest suite run over each store
 * (`contract.test.ts`): submit and read, claim order, endings, retries, cancels, waits, listing,
 * replay, expiry, queued counts and listeners. A store that differs on purpose says so in its
 * `ContractCapabilities`, with the reason beside it; nothing is skipped silently.
 *
 * Time: a subject with `advance` runs on a manual clock (and draws retry jitter from
 * `HALF_JITTER`, so a retry waits exactly `backoffMs × 2^(n-1) × 1.1`); one without it runs on
 * real time, and the suite waits for what real time brings.
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FailureCode, NewTask, TaskEnding, TaskRecord } from '../types.ts';
import type { TaskBackend } from './contract.ts';
import { isReplay } from './idempotency.ts';
import { MAX_PAGE_BYTES } from './page-size.ts';

/** The jitter source a manual-clock subject must use: a retry waits its base + 10 %. */
export const HALF_JITTER = (): number => 0.5;

/** Where a store differs from the others on purpose. */
export interface ContractCapabilities {
  /** How tasks submitted in the same millisecond are listed: by submission, or by id. */
  sameInstantOrder: 'submission' | 'id';
  /**
   * When `onAvailable` is told. `exact`: whenever tasks became claimable (a submit, a run that
   * never began, a backoff over), and only then. `reminders`: also again while tasks wait or back
   * off (a claim that finds nothing is harmless). `no-timers`: at a submit and a run that never
   * began only; a backoff's end is left to the store's owner (it asks what is due).
   */
  availability: 'exact' | 'reminders' | 'no-timers';
  /** Over which records `maxFinished` counts: all of them, or each function's per outcome. */
  cap: 'global' | 'per-function-and-outcome';
  /** Whether the id of an expired record can be used again. */
  reusesExpiredIds: boolean;
}

/** One backend, fresh and empty, for one test. */
export interface ContractSubject {
  backend: TaskBackend;
  /** The backend's clock. */
  now(): number;
  /** A manual clock: move it on by `ms`, firing its timers. Absent: the backend runs on real time. */
  advance?(ms: number): Promise<void>;
  /** Bring what refreshes by itself up to date (a cluster's queued counts); else nothing. */
  sync(): Promise<void>;
  /** Add, where the backend calls its listeners, a subscriber that throws `listener bug`. */
  throwingListener(): Promise<void>;
  /** What the backend logged (a throwing listener). */
  logged: string[];
  close(): Promise<void>;
}

export interface ContractTarget {
  name: string;
  /** `manual`: its subjects have `advance`. `real`: they run on real time. */
  clock: 'manual' | 'real';
  capabilities: ContractCapabilities;
  open(limits: { ttlMs: number; maxFinished: number }): Promise<ContractSubject>;
}

const DAY = 86_400_000;

type Completed = Extract<TaskEnding, { status: 'completed' }>;
type Failed = Extract<TaskEnding, { status: 'failed' }>;

/** A task of `f` with the rest at small defaults (every store's tests submit these). */
export const task = (overrides: Partial<NewTask> = {}): NewTask => ({
  function: 'f',
  args: [1],
  timeoutMs: 1000,
  retry: { attempts: 1, backoffMs: 0 },
  maxQueue: 100,
  ...overrides,
});

/** Poll `check` until it holds; fails after `ms`. */
const until = async (check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

const idsOf = (page: { tasks: TaskRecord[] }) => page.tasks.map((r) => r.id);

export const describeTaskBackendContract = (target: ContractTarget): void => {
  const { capabilities } = target;
  const opened: ContractSubject[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  const open = async (limits: { ttlMs?: number; maxFinished?: number } = {}) => {
    const s = await target.open({
      ttlMs: limits.ttlMs ?? DAY,
      maxFinished: limits.maxFinished ?? 1000,
    });
    opened.push(s);
    const b = s.backend;
    // A run ends a little before its report lands: the record keeps the run's own times.
    const completed = (result: unknown, extra: Partial<Completed> = {}): Completed => ({
      status: 'completed',
      result,
      startedAt: s.now() - 20,
      endedAt: s.now() - 10,
      executionTime: 3,
      workerId: 7,
      ...extra,
    });
    const failed = (error = 'boom', errorCode: FailureCode = 'function_threw'): Failed => ({
      status: 'failed',
      error,
      errorCode,
      startedAt: s.now() - 20,
      endedAt: s.now() - 10,
      workerId: 7,
    });
    /** Let `ms` pass with nothing to await: only before checking that something did NOT happen. */
    const elapse = async (ms: number) => {
      if (s.advance) return s.advance(ms);
      const end = Date.now() + ms;
      await until(() => Date.now() >= end, ms + 1000);
    };
    /** Make the next event's time differ from the last one's. */
    const tick = () => elapse(2);
    /** `check` holds once `ms` more have passed: a manual clock moves on; real time is polled. */
    const holdsAfter = async (ms: number, check: () => Promise<boolean>) => {
      if (s.advance) {
        await s.advance(ms);
        expect(await check()).toBe(true);
      } else {
        await until(check, ms + 5_000);
      }
    };
    /** The next claim of `fn` that gets a task: a retry's backoff may have to pass first. */
    const claimWhenDue = async (fn: string, delayMs: number, workerId = 1) => {
      let got: Awaited<ReturnType<TaskBackend['claim']>> = [];
      await holdsAfter(delayMs, async () => {
        got = await b.claim(fn, 1, workerId);
        return got.length > 0;
      });
      return got[0] as NonNullable<(typeof got)[0]>;
    };
    const queued = async (fn: string) => {
      await s.sync();
      return b.queued(fn);
    };
    /** Subscribe and record `id:status:attempt` of every change. */
    const changes = () => {
      const seen: string[] = [];
      const stop = b.subscribe((r) => seen.push(`${r.id}:${r.status}:${r.attempt}`));
      return { seen, stop };
    };
    /**
     * Once this resolves, every change made before it was told to `seen` (a marker task's own
     * change comes after them, on every store); the marker's line is removed again.
     */
    const told = async (seen: string[]) => {
      const marker = await b.submit(task({ function: 'marker' }));
      const line = `${marker.id}:queued:1`;
      await until(() => seen.includes(line));
      seen.splice(seen.indexOf(line), 1);
    };
    return {
      s,
      b,
      completed,
      failed,
      elapse,
      tick,
      holdsAfter,
      claimWhenDue,
      queued,
      changes,
      told,
    };
  };

  /** A retry's first wait: long enough on real time that a claim right after cannot race it. */
  const BACKOFF_MS = target.clock === 'manual' ? 100 : 300;

  describe('submit and read', () => {
    it('Should accept a task as queued on attempt 1, and read it back as answered', async () => {
      const { s, b } = await open();
      const before = s.now();
      const record = await b.submit(task({ id: 'a', retry: { attempts: 3, backoffMs: 10 } }));
      expect(record).toEqual({
        id: 'a',
        function: 'f',
        status: 'queued',
        submittedAt: expect.any(Number),
        attempt: 1,
        attempts: 3,
      });
      expect(record.submittedAt).toBeGreaterThanOrEqual(before);
      expect(record.submittedAt).toBeLessThanOrEqual(s.now());
      expect(await b.read('a')).toEqual(record);
      const versioned = await b.submit(task({ id: 'v', version: 4, retryOf: 'a' }));
      expect(versioned).toMatchObject({ version: 4, retryOf: 'a' });
      expect(await b.read('v')).toEqual(versioned);
      expect((await b.submit(task())).id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-/);
      expect(await b.read('nope')).toBeUndefined();
    });

    it('Should refuse an id in use by any function, finished or not, with duplicate_id', async () => {
      const { b, completed } = await open();
      await b.submit(task({ id: 'a' }));
      await expect(b.submit(task({ id: 'a' }))).rejects.toMatchObject({ code: 'duplicate_id' });
      await expect(b.submit(task({ id: 'a', function: 'g' }))).rejects.toMatchObject({
        code: 'duplicate_id',
      });
      await b.claim('f', 1, 1);
      await b.finish('a', completed(1));
      await expect(b.submit(task({ id: 'a' }))).rejects.toMatchObject({ code: 'duplicate_id' });
      expect(await b.read('a')).toMatchObject({ function: 'f', status: 'completed' });
    });

    it('Should refuse a submit past maxQueue with queue_full, counting each function apart', async () => {
      const { b } = await open();
      await b.submit(task({ maxQueue: 2 }));
      await b.submit(task({ maxQueue: 2 }));
      await expect(b.submit(task({ maxQueue: 2 }))).rejects.toMatchObject({ code: 'queue_full' });
      expect((await b.submit(task({ function: 'g', maxQueue: 2 }))).status).toBe('queued');
      await b.claim('f', 1, 1);
      expect((await b.submit(task({ maxQueue: 2 }))).status).toBe('queued');
    });
  });

  describe('claim', () => {
    it('Should hand out the oldest queued tasks first, at most max, as running on the worker', async () => {
      const { s, b } = await open();
      const submitted: TaskRecord[] = [];
      for (const id of ['a', 'b', 'c']) submitted.push(await b.submit(task({ id, args: [id] })));
      const before = s.now();
      const claimed = await b.claim('f', 2, 4);
      expect(claimed).toEqual(
        submitted.slice(0, 2).map((r) => ({
          id: r.id,
          function: 'f',
          args: [r.id],
          timeoutMs: 1000,
          attempt: 1,
          submittedAt: r.submittedAt,
        })),
      );
      const running = await b.read('a');
      expect(running).toMatchObject({ status: 'running', workerId: 4, attempt: 1 });
      expect(running?.startedAt).toBeGreaterThanOrEqual(before);
      expect((await b.claim('f', 5, 4)).map((t) => t.id)).toEqual(['c']);
      expect(await b.claim('f', 5, 4)).toEqual([]);
      expect(await b.claim('other', 5, 4)).toEqual([]);
    });
  });

  describe('finish', () => {
    it('Should complete a task with what its run reported, and ignore any later ending', async () => {
      const { s, b, completed, failed } = await open();
      const { submittedAt } = await b.submit(task({ id: 'a' }));
      await b.claim('f', 1, 2);
      const logs = [{ at: s.now(), level: 'log' as const, message: 'hi' }];
      const ending = completed({ ok: [1, 2] }, { version: 3, logs });
      await b.finish('a', ending);
      const expected: TaskRecord = {
        id: 'a',
        function: 'f',
        status: 'completed',
        submittedAt,
        startedAt: ending.startedAt,
        completedAt: ending.endedAt,
        result: { ok: [1, 2] },
        executionTime: 3,
        workerId: 7,
        version: 3,
        attempt: 1,
        attempts: 1,
        logs,
      };
      expect(await b.read('a')).toEqual(expected);
      await b.finish('a', failed());
      await b.finish('a', completed('again'));
      await b.finish('nobody', completed('lost'));
      expect(await b.read('a')).toEqual(expected);
    });

    it('Should ignore an ending for a task that was never claimed', async () => {
      const { b, completed } = await open();
      const record = await b.submit(task({ id: 'a' }));
      await b.finish('a', completed(1));
      expect(await b.read('a')).toEqual(record);
    });

    it('Should fail a task with its code, at once when the failure would repeat, and mark a timeout', async () => {
      const { b, failed } = await open();
      const { submittedAt } = await b.submit(
        task({ id: 'a', retry: { attempts: 3, backoffMs: 0 } }),
      );
      await b.claim('f', 1, 1);
      const ending = failed('result is not JSON at $.x', 'result_not_serializable');
      await b.finish('a', ending);
      expect(await b.read('a')).toEqual({
        id: 'a',
        function: 'f',
        status: 'failed',
        submittedAt,
        startedAt: ending.startedAt as number,
        failedAt: ending.endedAt,
        error: 'result is not JSON at $.x',
        errorCode: 'result_not_serializable',
        workerId: 7,
        attempt: 1,
        attempts: 3,
      });
      await b.submit(task({ id: 't' }));
      await b.claim('f', 1, 1);
      await b.finish('t', failed('timed out after 1000 ms', 'timed_out'));
      expect(await b.read('t')).toMatchObject({
        status: 'failed',
        errorCode: 'timed_out',
        timedOut: true,
      });
      expect(await b.claim('f', 5, 1)).toEqual([]);
    });
  });

  describe('retries', () => {
    it('Should requeue a retryable failure after its backoff, then fail it for good when attempts run out', async () => {
      const t = await open();
      const { s, b, failed } = t;
      const backoff = BACKOFF_MS;
      const { submittedAt } = await b.submit(
        task({ id: 'a', retry: { attempts: 3, backoffMs: backoff } }),
      );
      await b.claim('f', 1, 1);
      for (const attempt of [1, 2]) {
        const finishing = s.now();
        await b.finish('a', failed(`boom ${attempt}`));
        expect(await b.read('a')).toEqual({
          id: 'a',
          function: 'f',
          status: 'queued',
          submittedAt,
          attempt: attempt + 1,
          attempts: 3,
          error: `boom ${attempt}`,
          errorCode: 'function_threw',
        });
        expect(await t.queued('f')).toBe(1);
        expect(await b.claim('f', 1, 1)).toEqual([]);
        // The n-th retry waits backoffMs × 2^(n-1), plus up to 20 % jitter (10 % on a manual clock).
        const wait = backoff * 2 ** (attempt - 1);
        if (s.advance) {
          await s.advance(Math.round(wait * 1.1) - 1);
          expect(await b.claim('f', 1, 1)).toEqual([]);
        }
        const claimed = await t.claimWhenDue('f', s.advance ? 1 : wait * 1.2);
        expect(claimed).toMatchObject({ id: 'a', attempt: attempt + 1 });
        expect(s.now() - finishing).toBeGreaterThanOrEqual(wait);
      }
      await b.finish('a', failed('boom 3'));
      expect(await b.read('a')).toMatchObject({
        status: 'failed',
        attempt: 3,
        attempts: 3,
        error: 'boom 3',
        errorCode: 'function_threw',
      });
      expect((await b.list({ status: 'failed', limit: 10 })).tasks.map((r) => r.id)).toEqual(['a']);
      expect(await t.queued('f')).toBe(0);
    });

    it('Should complete a retried task without the failure of its earlier run', async () => {
      const t = await open();
      const { b, completed, failed } = t;
      await b.submit(task({ id: 'a', retry: { attempts: 2, backoffMs: 10 } }));
      await b.claim('f', 1, 1);
      await b.finish('a', failed());
      expect((await t.claimWhenDue('f', 11)).attempt).toBe(2);
      await b.finish('a', completed('second time'));
      const record = await b.read('a');
      expect(record).toMatchObject({ status: 'completed', attempt: 2, result: 'second time' });
      expect(record?.error).toBeUndefined();
      expect(record?.errorCode).toBeUndefined();
    });

    it('Should put a task that never began back at the front, without spending an attempt', async () => {
      const t = await open();
      const { b } = t;
      const submitted: TaskRecord[] = [];
      for (const id of ['a', 'b', 'c']) submitted.push(await b.submit(task({ id })));
      await b.claim('f', 2, 1);
      await t.tick();
      // Newest first, so that they keep their order at the front.
      await b.finish('b', { status: 'unstarted' });
      await b.finish('a', { status: 'unstarted' });
      expect(await b.read('a')).toEqual(submitted[0]);
      expect(await t.queued('f')).toBe(3);
      const claimed = await b.claim('f', 3, 2);
      expect(claimed.map((c) => `${c.id}:${c.attempt}`)).toEqual(['a:1', 'b:1', 'c:1']);
    });
  });

  describe('cancel', () => {
    it('Should cancel a queued task, which no claim takes and no count holds', async () => {
      const t = await open();
      const { s, b } = t;
      const { submittedAt } = await b.submit(task({ id: 'a' }));
      await b.submit(task({ id: 'b' }));
      const before = s.now();
      const cancelled = await b.cancel('a');
      expect(cancelled).toEqual({
        id: 'a',
        function: 'f',
        status: 'cancelled',
        submittedAt,
        cancelledAt: expect.any(Number),
        error: 'cancelled before it started',
        attempt: 1,
        attempts: 1,
      });
      expect(cancelled.cancelledAt).toBeGreaterThanOrEqual(before);
      expect(await b.read('a')).toEqual(cancelled);
      expect(await t.queued('f')).toBe(1);
      expect((await b.claim('f', 5, 1)).map((c) => c.id)).toEqual(['b']);
    });

    it('Should cancel a running task: its server is told once, and its late ending is dropped', async () => {
      const { b, completed } = await open();
      const stopped: string[] = [];
      b.onCancel((id) => stopped.push(id));
      for (const id of ['a', 'z', 'q']) await b.submit(task({ id }));
      await b.claim('f', 2, 3);
      const waiting = b.wait('a', DAY);
      expect(await b.cancel('q')).toMatchObject({ status: 'cancelled' });
      const cancelled = await b.cancel('a');
      expect(cancelled).toMatchObject({
        status: 'cancelled',
        error: 'cancelled while running',
        workerId: 3,
        attempt: 1,
      });
      expect(cancelled.startedAt).toBeTypeOf('number');
      expect(await waiting).toEqual(cancelled);
      await b.finish('a', completed('too late'));
      expect(await b.read('a')).toEqual(cancelled);
      // Cancels are told in order: once z's is heard, a's was, and a queued task's never is.
      await b.cancel('z');
      await until(() => stopped.includes('z'));
      expect(stopped).toEqual(['a', 'z']);
    });

    it('Should cancel a task waiting for its next attempt, which then never runs again', async () => {
      const t = await open();
      const { b, failed } = t;
      const backoff = BACKOFF_MS;
      await b.submit(task({ id: 'a', retry: { attempts: 2, backoffMs: backoff } }));
      await b.claim('f', 1, 1);
      await b.finish('a', failed());
      expect(await b.cancel('a')).toMatchObject({
        status: 'cancelled',
        error: 'cancelled while waiting for its next attempt',
      });
      expect(await t.queued('f')).toBe(0);
      await t.elapse(backoff * 2);
      expect(await b.claim('f', 1, 1)).toEqual([]);
      expect(await b.read('a')).toMatchObject({ status: 'cancelled' });
    });

    it('Should refuse to cancel an ended or unknown task', async () => {
      const { b, completed, failed } = await open();
      for (const id of ['done', 'bad', 'gone']) await b.submit(task({ id }));
      await b.claim('f', 2, 1);
      await b.finish('done', completed(1));
      await b.finish('bad', failed('no', 'load_failed'));
      await b.cancel('gone');
      for (const [id, status] of [
        ['done', 'completed'],
        ['bad', 'failed'],
        ['gone', 'cancelled'],
      ]) {
        await expect(b.cancel(id as string)).rejects.toMatchObject({
          code: 'already_terminal',
          message: expect.stringContaining(status as string),
        });
      }
      await expect(b.cancel('nope')).rejects.toMatchObject({ code: 'unknown_task' });
    });
  });

  describe('wait', () => {
    it('Should resolve every waiter as soon as the task ends', async () => {
      const { b, completed } = await open();
      await b.submit(task({ id: 'a' }));
      const forever = b.wait('a', Number.POSITIVE_INFINITY);
      const bounded = b.wait('a', DAY);
      await b.claim('f', 1, 1);
      await b.finish('a', completed('done'));
      const [first, second] = await Promise.all([forever, bounded]);
      expect(first).toMatchObject({ status: 'completed', result: 'done' });
      expect(second).toEqual(first);
    });

    it('Should resolve after its time with the record as it is then', async () => {
      const { s, b } = await open();
      const record = await b.submit(task({ id: 'a' }));
      const started = Date.now();
      let resolved: TaskRecord | undefined;
      const waiting = b.wait('a', 300).then((r) => {
        resolved = r;
        return r;
      });
      if (s.advance) {
        await s.advance(299);
        await b.read('a'); // a round trip: a wait resolved too soon would have answered by now
        expect(resolved).toBeUndefined();
        await s.advance(1);
      }
      expect(await waiting).toEqual(record);
      if (!s.advance) expect(Date.now() - started).toBeGreaterThanOrEqual(299);
    });

    it('Should answer at once for a zero wait, an unknown task and an ended one', async () => {
      const { b } = await open();
      const record = await b.submit(task({ id: 'a' }));
      expect(await b.wait('a', 0)).toEqual(record);
      expect(await b.wait('nope', DAY)).toBeUndefined();
      const cancelled = await b.cancel('a');
      expect(await b.wait('a', DAY)).toEqual(cancelled);
    });
  });

  describe('list', () => {
    /** Five tasks of f and g, one time apart, the third cancelled: their ids, oldest first. */
    const filled = async () => {
      const t = await open();
      const ids: string[] = [];
      for (const fn of ['f', 'g', 'f', 'f', 'g']) {
        ids.push((await t.b.submit(task({ function: fn }))).id);
        await t.tick();
      }
      await t.b.cancel(ids[2] as string);
      return { ...t, ids };
    };
    it('Should list the newest first, filtered by function and by status', async () => {
      const { b, ids } = await filled();
      const [t1, t2, t3, t4, t5] = ids;
      expect(idsOf(await b.list({ limit: 100 }))).toEqual([t5, t4, t3, t2, t1]);
      expect(idsOf(await b.list({ limit: 100, function: 'f' }))).toEqual([t4, t3, t1]);
      expect(idsOf(await b.list({ limit: 100, status: 'cancelled' }))).toEqual([t3]);
      expect(idsOf(await b.list({ limit: 100, status: 'queued', function: 'g' }))).toEqual([
        t5,
        t2,
      ]);
      expect(idsOf(await b.list({ limit: 100, function: 'g', status: 'cancelled' }))).toEqual([]);
      expect((await b.list({ limit: 100 })).tasks[2]).toEqual(await b.read(t3 as string));
    });

    it('Should page with next and before, with no next on the last page', async () => {
      const { b, ids } = await filled();
      const [t1, t2, t3, t4, t5] = ids;
      const first = await b.list({ limit: 2 });
      expect(first).toEqual({
        tasks: [expect.objectContaining({ id: t5 }), expect.anything()],
        next: t4,
      });
      expect(idsOf(first)).toEqual([t5, t4]);
      const second = await b.list({ limit: 2, before: first.next as string });
      expect(idsOf(second)).toEqual([t3, t2]);
      const third = await b.list({ limit: 2, before: second.next as string });
      expect(third).toEqual({ tasks: [expect.objectContaining({ id: t1 })] });
      // A last page that is exactly full has no next either.
      expect((await b.list({ limit: 3, function: 'f' })).next).toBeUndefined();
      expect(idsOf(await b.list({ limit: 1, function: 'f', before: t4 as string }))).toEqual([t3]);
      await expect(b.list({ limit: 2, before: 'nope' })).rejects.toMatchObject({
        code: 'invalid_argument',
        message: expect.stringContaining('before'),
      });
    });

    it('Should cut a page short rather than grow past about 16 MiB, and page on with next', async () => {
      const { b, completed, tick } = await open();
      // 17 results of 1 MB: 17 MB in all, past the 16 MiB a page may hold.
      const ids = Array.from({ length: 17 }, (_, i) => `big-${String(i).padStart(2, '0')}`);
      for (const id of ids) {
        await b.submit(task({ id }));
        await b.claim('f', 1, 1);
        await b.finish(id, completed('x'.repeat(1_000_000)));
        await tick();
      }
      const pages: string[][] = [];
      let before: string | undefined;
      do {
        const page = await b.list({ limit: 100, before });
        expect(JSON.stringify(page).length).toBeLessThanOrEqual(MAX_PAGE_BYTES);
        pages.push(idsOf(page));
        before = page.next;
      } while (before !== undefined && pages.length < 20);
      expect(pages.length).toBeGreaterThan(1);
      expect(pages.flat()).toEqual([...ids].reverse());
      // The limit still holds as well.
      expect((await b.list({ limit: 2 })).tasks).toHaveLength(2);
    });

    it(`Should list tasks of the same millisecond by ${capabilities.sameInstantOrder}`, async () => {
      const { s, b } = await open();
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push((await b.submit(task())).id);
      const listed = idsOf(await b.list({ limit: 10 }));
      if (capabilities.sameInstantOrder === 'submission') {
        expect(listed).toEqual([...ids].reverse());
      } else {
        // Only meaningful where time stands still between the submits.
        expect(s.advance).toBeDefined();
        expect(listed).toEqual([...ids].sort().reverse());
      }
    });
  });

  describe('replay', () => {
    it('Should run a failed or cancelled task again as a new task with its function and args', async () => {
      const { b, failed } = await open();
      await b.submit(
        task({
          id: 'a',
          args: [1, { x: 2 }],
          timeoutMs: 1234,
          retry: { attempts: 2, backoffMs: 5 },
        }),
      );
      await b.cancel('a');
      const replay = await b.replay('a', 100);
      expect(replay).toMatchObject({
        function: 'f',
        status: 'queued',
        retryOf: 'a',
        attempt: 1,
        attempts: 2,
      });
      expect(replay.id).not.toBe('a');
      expect(await b.read(replay.id)).toEqual(replay);
      const [claimed] = await b.claim('f', 1, 1);
      expect(claimed).toMatchObject({ id: replay.id, args: [1, { x: 2 }], timeoutMs: 1234 });
      await b.finish(replay.id, failed('no', 'load_failed'));
      expect(await b.read(replay.id)).toMatchObject({ status: 'failed' });
      expect((await b.replay(replay.id, 100)).retryOf).toBe(replay.id);
    });

    it('Should refuse to replay a live, completed or unknown task, and a replay past maxQueue', async () => {
      const { b, completed } = await open();
      for (const id of ['run', 'done', 'wait']) await b.submit(task({ id }));
      await b.claim('f', 2, 1);
      await b.finish('done', completed(1));
      for (const id of ['run', 'done', 'wait']) {
        await expect(b.replay(id, 100)).rejects.toMatchObject({ code: 'not_retryable' });
      }
      await expect(b.replay('nope', 100)).rejects.toMatchObject({ code: 'unknown_task' });
      await b.cancel('wait');
      await b.submit(task({ function: 'f' }));
      await expect(b.replay('wait', 1)).rejects.toMatchObject({ code: 'queue_full' });
    });
  });

  describe('records kept', () => {
    it('Should forget finished records after their time to live and keep live ones', async () => {
      const ttlMs = target.clock === 'manual' ? 1000 : 500;
      const t = await open({ ttlMs });
      const { s, b, completed } = t;
      await b.submit(task({ id: 'run' }));
      await b.claim('f', 1, 1);
      await t.tick();
      await b.submit(task({ id: 'live' }));
      for (const id of ['done', 'gone']) await b.submit(task({ id, function: 'g' }));
      await b.claim('g', 1, 1);
      await b.finish('done', completed(1));
      await b.cancel('gone');
      const kept = async () =>
        (await b.read('done')) !== undefined && (await b.read('gone')) !== undefined;
      if (s.advance) await s.advance(ttlMs - 1);
      expect(await kept()).toBe(true);
      await t.holdsAfter(s.advance ? 1 : ttlMs, async () => {
        await b.expire(s.now());
        return (await b.read('done')) === undefined && (await b.read('gone')) === undefined;
      });
      expect(idsOf(await b.list({ limit: 100 }))).toEqual(['live', 'run']);
      await expect(b.cancel('done')).rejects.toMatchObject({ code: 'unknown_task' });
      await expect(b.replay('gone', 100)).rejects.toMatchObject({ code: 'unknown_task' });
      expect(await b.read('run')).toMatchObject({ status: 'running' });
      expect(await b.read('live')).toMatchObject({ status: 'queued' });
      if (capabilities.reusesExpiredIds) {
        expect(await b.submit(task({ id: 'done' }))).toMatchObject({ status: 'queued' });
      }
    });

    it(`Should keep at most maxFinished finished records (${capabilities.cap}), the oldest finished going first`, async () => {
      const t = await open({ maxFinished: 2 });
      const { s, b, completed } = t;
      for (const id of ['run', 'a', 'b', 'c']) await b.submit(task({ id }));
      await b.claim('f', 4, 1);
      await b.submit(task({ id: 'wait' }));
      for (const id of ['b', 'a', 'c']) {
        await t.tick();
        await b.finish(id, completed(id));
      }
      await b.expire(s.now());
      const present = async () => {
        const out: string[] = [];
        for (const id of ['run', 'wait', 'a', 'b', 'c', 'x']) if (await b.read(id)) out.push(id);
        return out;
      };
      expect(await present()).toEqual(['run', 'wait', 'a', 'c']);
      // One more finished record, of another function and outcome.
      await b.submit(task({ id: 'x', function: 'g' }));
      await t.tick();
      await b.cancel('x');
      await b.expire(s.now());
      expect(await present()).toEqual(
        capabilities.cap === 'global' ? ['run', 'wait', 'c', 'x'] : ['run', 'wait', 'a', 'c', 'x'],
      );
    });
  });

  describe('queued counts', () => {
    it('Should count the queued tasks of each function, retries backing off included', async () => {
      const t = await open();
      const { b, failed } = t;
      for (const id of ['a', 'b', 'c']) {
        await b.submit(task({ id, retry: { attempts: 2, backoffMs: DAY / 2 } }));
      }
      await b.submit(task({ function: 'g' }));
      expect([await t.queued('f'), await t.queued('g'), await t.queued('none')]).toEqual([3, 1, 0]);
      await b.claim('f', 2, 1);
      expect(await t.queued('f')).toBe(1);
      await b.finish('a', failed());
      await b.finish('b', { status: 'unstarted' });
      expect(await t.queued('f')).toBe(3);
      await b.cancel('a');
      await b.cancel('c');
      expect([await t.queued('f'), await t.queued('g')]).toEqual([1, 1]);
    });
  });

  describe('idempotency keys', () => {
    /** The key `key` with fingerprint `fingerprint`, held `ttlMs`. */
    const keyed = (key: string, fingerprint: string, ttlMs = DAY) => ({
      idempotency: { key, fingerprint, ttlMs },
    });
    const KEY_TTL_MS = target.clock === 'manual' ? 1000 : 600;

    it('Should create one task for a key and answer each repeat with it, marked, until the key expires', async () => {
      const t = await open();
      const { s, b, completed } = t;
      const { seen } = t.changes();
      const first = await b.submit(task(keyed('k', 'body-1', KEY_TTL_MS)));
      expect(isReplay(first)).toBe(false);
      const again = await b.submit(task(keyed('k', 'body-1', KEY_TTL_MS)));
      expect(isReplay(again)).toBe(true);
      expect(again).toEqual(first);
      expect(await t.queued('f')).toBe(1);
      await b.claim('f', 1, 1);
      await b.finish(first.id, completed('once'));
      const later = await b.submit(task(keyed('k', 'body-1', KEY_TTL_MS)));
      expect(isReplay(later)).toBe(true);
      expect(later).toMatchObject({ id: first.id, status: 'completed', result: 'once' });
      expect(await b.claim('f', 5, 1)).toEqual([]);
      await t.told(seen);
      // The repeats changed nothing: no event of theirs.
      expect(seen.filter((line) => line.startsWith(`${first.id}:`))).toEqual([
        `${first.id}:queued:1`,
        `${first.id}:running:1`,
        `${first.id}:completed:1`,
      ]);
      // Once the key's time is over it is a new key: a new task.
      await t.holdsAfter(KEY_TTL_MS, async () => {
        const fresh = await b.submit(task(keyed('k', 'body-1', KEY_TTL_MS)));
        return fresh.id !== first.id && !isReplay(fresh);
      });
      expect(s.now()).toBeGreaterThanOrEqual(first.submittedAt + KEY_TTL_MS);
    });

    it('Should refuse a key used with another fingerprint (idempotency_key_reused), creating nothing', async () => {
      const t = await open();
      const { b } = t;
      const first = await b.submit(task(keyed('k', 'body-1')));
      for (const other of [
        task(keyed('k', 'body-2')),
        task({ function: 'g', ...keyed('k', 'g-body') }),
      ]) {
        await expect(b.submit(other)).rejects.toMatchObject({
          code: 'idempotency_key_reused',
          message: expect.stringContaining(first.id),
        });
      }
      expect([await t.queued('f'), await t.queued('g')]).toEqual([1, 0]);
      expect(idsOf(await b.list({ limit: 10 }))).toEqual([first.id]);
    });

    it('Should not take a key when its submission is refused', async () => {
      const { s, b } = await open();
      await b.submit(task({ id: 'taken', maxQueue: 2 }));
      await expect(b.submit(task({ id: 'taken', ...keyed('k1', 'x') }))).rejects.toMatchObject({
        code: 'duplicate_id',
      });
      await b.submit(task({ maxQueue: 2 }));
      await expect(b.submit(task({ maxQueue: 2, ...keyed('k2', 'y') }))).rejects.toMatchObject({
        code: 'queue_full',
      });
      await b.claim('f', 2, 1);
      await s.sync();
      for (const [key, fingerprint] of [
        ['k1', 'x'],
        ['k2', 'y'],
      ] as const) {
        const created = await b.submit(task({ maxQueue: 2, ...keyed(key, fingerprint) }));
        expect(isReplay(created)).toBe(false);
      }
    });

    it('Should create one task for concurrent submissions with the same key', async () => {
      const { b } = await open();
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => b.submit(task(keyed('same', 'body')))),
      );
      expect(new Set(answers.map((r) => r.id)).size).toBe(1);
      expect(answers.filter((r) => !isReplay(r))).toHaveLength(1);
      expect(idsOf(await b.list({ limit: 10 }))).toEqual([answers[0]?.id]);
    });

    it('Should answer idempotency_task_expired when the key outlives the record of its task', async () => {
      const ttlMs = target.clock === 'manual' ? 1000 : 500;
      const t = await open({ ttlMs });
      const { s, b, completed } = t;
      const first = await b.submit(task(keyed('k', 'body')));
      await b.claim('f', 1, 1);
      await b.finish(first.id, completed(1));
      await t.holdsAfter(s.advance ? ttlMs : ttlMs, async () => {
        await b.expire(s.now());
        return (await b.read(first.id)) === undefined;
      });
      await expect(b.submit(task(keyed('k', 'body')))).rejects.toMatchObject({
        code: 'idempotency_task_expired',
        message: expect.stringContaining(first.id),
      });
      await expect(b.submit(task(keyed('k', 'other')))).rejects.toMatchObject({
        code: 'idempotency_key_reused',
      });
    });
  });

  describe('listeners', () => {
    it('Should tell subscribers each state change once, in order, until they unsubscribe', async () => {
      const t = await open();
      const { b, completed, failed } = t;
      const { seen, stop } = t.changes();
      const { seen: other } = t.changes();
      await b.submit(task({ id: 'a', retry: { attempts: 2, backoffMs: 10 } }));
      await b.claim('f', 1, 1);
      await b.finish('a', failed());
      await t.claimWhenDue('f', 11);
      await b.finish('a', completed(1));
      await b.submit(task({ id: 'b' }));
      await b.cancel('b');
      await t.told(seen);
      expect(seen).toEqual([
        'a:queued:1',
        'a:running:1',
        'a:queued:2',
        'a:running:2',
        'a:completed:2',
        'b:queued:1',
        'b:cancelled:1',
      ]);
      stop();
      await b.submit(task({ id: 'c' }));
      await t.told(other);
      expect(other.at(-1)).toBe('c:queued:1');
      expect(seen.at(-1)).not.toContain('marker');
      expect(seen).toHaveLength(7);
    });

    it(`Should tell onAvailable when tasks become claimable (${capabilities.availability}): a submit, a run that never began, a backoff over`, async () => {
      const t = await open();
      const { s, b, failed } = t;
      const available: string[] = [];
      b.onAvailable((fn) => available.push(fn));
      const heard = async () => {
        await until(() => available.includes('f'));
        if (capabilities.availability !== 'reminders') expect(available).toEqual(['f']);
        available.length = 0;
      };
      await b.submit(task({ id: 'a', retry: { attempts: 2, backoffMs: 100 } }));
      await heard();
      await b.claim('f', 1, 1);
      await b.finish('a', { status: 'unstarted' });
      await heard();
      await b.claim('f', 1, 1);
      await b.finish('a', failed());
      if (s.advance) {
        await s.advance(109);
        if (capabilities.availability !== 'reminders') expect(available).toEqual([]);
        await s.advance(1);
      }
      if (capabilities.availability === 'no-timers') expect(available).toEqual([]);
      else await heard();
      expect((await t.claimWhenDue('f', 1)).attempt).toBe(2);
    });

    it('Should log a listener that throws and still tell the others', async () => {
      const t = await open();
      const { s, b } = t;
      await s.throwingListener();
      const { seen } = t.changes();
      const available: string[] = [];
      b.onAvailable((fn) => available.push(fn));
      expect((await b.submit(task({ id: 'a' }))).status).toBe('queued');
      await t.told(seen);
      expect(seen).toEqual(['a:queued:1']);
      await until(() => available.includes('f'));
      expect(s.logged).toContain('a task backend listener threw: listener bug');
    });
  });
};
