/**
 * Races over HTTP from concurrent clients against a real server: the same id submitted at once
 * (exactly one 202, the rest 409), cancel racing completion and a second cancel, with a
 * long-poll on each task. Every task ends in one state that every answer agrees with.
 */
import { expect, it } from 'vitest';
import { reliabilityEnv } from './support/functions.ts';
import { describeEachRuntime, type Json, serverForSuite } from './support/server.ts';
import { sleep } from './support/wait.ts';

describeEachRuntime('races over HTTP', (runtime) => {
  const suite = serverForSuite(runtime, reliabilityEnv(8), { stopMs: 30_000, exitCode: 0 });

  it('Should accept an id raced by 16 clients exactly once and refuse the rest with 409', async () => {
    for (let round = 0; round < 25; round++) {
      const id = `race-${round}`;
      const answers = await Promise.all(
        Array.from({ length: 16 }, (_, client) =>
          suite.api.post(`/functions/echo/${client % 4 === 3 ? 'invoke' : 'tasks'}`, {
            id,
            args: [client],
          }),
        ),
      );
      const winners = answers.filter((a) => a.status === 202 || a.status === 200);
      const losers = answers.filter((a) => a.status === 409);
      expect(winners.length, JSON.stringify(answers.map((a) => a.status))).toBe(1);
      expect(losers.length).toBe(15);
      for (const l of losers) expect(l.body.error.code).toBe('duplicate_id');
      const final: Json = await suite.api.settle(id);
      // The task is the winner's: its arguments, run once.
      expect(final).toMatchObject({ id, status: 'completed' });
      expect(final.result).toEqual([answers.indexOf(winners[0] as (typeof answers)[number])]);
    }
    const echo = (await suite.api.get('/stats')).body.functions.echo;
    expect(echo.tasksCompleted).toBe(25);
  }, 60_000);

  it('Should never run more tasks at once on a worker than its concurrency, with batches arriving while tasks end', async () => {
    const accepted = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        suite.api.post('/functions/gate/tasks', { args: [i % 3 === 0 ? 1 : 0] }),
      ),
    );
    expect(accepted.map((a) => a.status)).toEqual(accepted.map(() => 202));
    const records = await Promise.all(accepted.map((a) => suite.api.settle(a.body.id)));
    expect(records.map((r) => r.status)).toEqual(records.map(() => 'completed'));
    expect(Math.max(...records.map((r) => r.result.most))).toBe(1);
  }, 60_000);

  it("Should cancel a task waiting in a worker's batch without cutting off the task running there", async () => {
    // Short tasks first, so the pool sends work in batches (a task can wait inside a worker).
    await Promise.all(
      Array.from({ length: 100 }, () => suite.api.post('/functions/gate/invoke', { args: [0] })),
    );
    const running = suite.api.post('/functions/gate/invoke', { args: [1_500] });
    const waiting = Array.from({ length: 5 }, (_, i) =>
      suite.api.post('/functions/gate/tasks', { id: `behind-${i}`, args: [0] }),
    );
    await Promise.all(waiting);
    for (let i = 0; i < 5; i += 2) {
      const cancel = await suite.api.del(`/tasks/behind-${i}`);
      expect(cancel.status).toBe(200);
      expect(cancel.body.status).toBe('cancelled');
    }
    const first = await running;
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.result.ms).toBe(1_500);
    for (let i = 0; i < 5; i++) {
      const record = await suite.api.settle(`behind-${i}`);
      expect(record.status).toBe(i % 2 === 0 ? 'cancelled' : 'completed');
    }
  }, 60_000);

  it('Should end each task once when a cancel races its completion (and a second cancel)', async () => {
    const before = (await suite.api.get('/stats')).body.functions.pause;
    const results = await Promise.all(
      Array.from({ length: 120 }, async (_, i) => {
        const ms = i % 30;
        const submitted = await suite.api.post('/functions/pause/tasks', { args: [ms] });
        expect(submitted.status).toBe(202);
        const id: string = submitted.body.id;
        const poll = suite.api.get(`/tasks/${id}?wait=30000`);
        await sleep((i * 7) % 30);
        const [a, b] = await Promise.all([
          suite.api.del(`/tasks/${id}`),
          suite.api.del(`/tasks/${id}`),
        ]);
        const final = await suite.api.settle(id);
        return { id, a, b, poll: (await poll).body, final };
      }),
    );
    let cancelled = 0;
    let completed = 0;
    for (const { id, a, b, poll, final } of results) {
      const statuses = [a.status, b.status].sort();
      if (final.status === 'cancelled') {
        cancelled++;
        // One cancel won, the other found it terminal.
        expect(statuses, id).toEqual([200, 409]);
        const won = a.status === 200 ? a : b;
        expect(won.body.status).toBe('cancelled');
        expect(final.result).toBeUndefined();
      } else {
        completed++;
        expect(final.status, id).toBe('completed');
        expect(statuses, id).toEqual([409, 409]);
      }
      for (const r of [a, b]) {
        if (r.status === 409) expect(r.body.error.code).toBe('already_terminal');
      }
      // The long-poll saw the same ending, or (if it answered first) a task still going.
      if (['completed', 'failed', 'cancelled'].includes(poll.status)) {
        expect(poll.status, id).toBe(final.status);
      }
    }
    expect(cancelled + completed).toBe(120);
    const after = (await suite.api.get('/stats')).body.functions.pause;
    expect(after.tasksCompleted - before.tasksCompleted).toBe(completed);
    expect(after.tasksCancelled - before.tasksCancelled).toBe(cancelled);
    expect(after.tasksFailed - before.tasksFailed).toBe(0);
    const good = await suite.api.post('/functions/pause/invoke', { args: [1] });
    expect(good).toMatchObject({ status: 200, body: { status: 'completed', result: 1 } });
    console.info(
      `${runtime.name}: cancel raced completion 120 times: ${cancelled} cancelled, ${completed} completed`,
    );
  }, 90_000);
});
