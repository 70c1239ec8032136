/**
 * The crash test of the embedded store (the contract's v3 "never lost, never reported twice"),
 * on Node, Deno and Bun: a burst of 5,000 submissions with faults (tasks that throw and are
 * retried, tasks that take their worker down), `kill -9` of the server once 3,000 of them have
 * been accepted while the rest are on their way and the first are running, then a restart on the
 * same file. Every id the client got a 202 for must be found and end in exactly one terminal
 * state: one that fits its fault, within its attempts, and, for every task seen ended before the
 * kill, the very record seen then (a task re-run after it was reported would show a new one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { STORAGE_FUNCTIONS } from './support/functions.ts';
import {
  type Client,
  client,
  describeEachRuntime,
  type Json,
  type Server,
  startServer,
  TERMINAL,
} from './support/server.ts';
import { until } from './support/wait.ts';

const BURST = 5_000;
const KILL_AT = 3_000;
const LANES = 32;

type Kind = 'ok' | 'throw' | 'exit';
/** One in ten throws (retried once), one in 500 takes its worker down (retried twice). */
const kindOf = (i: number): Kind => (i % 500 === 7 ? 'exit' : i % 10 === 3 ? 'throw' : 'ok');
const ATTEMPTS: Record<Kind, number> = { ok: 2, throw: 2, exit: 3 };

const folders: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop(5_000)));
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** Runs `work(i)` for i in [0, count), `width` at a time, until `stop()` says so. */
const lanes = async (
  count: number,
  width: number,
  stop: () => boolean,
  work: (i: number) => Promise<void>,
) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count && !stop()) await work(next++);
    }),
  );
};

/** Terminal records the listing shows now, by id. */
const endedNow = async (api: Client): Promise<Json[]> => {
  const out: Json[] = [];
  for (const status of ['completed', 'failed']) {
    const page = await api.get(`/tasks?function=burst&status=${status}&limit=1000`);
    if (page.status === 200) out.push(...page.body.tasks);
  }
  return out;
};

describeEachRuntime('a burst with faults, killed and restarted', (runtime) => {
  it('Should end every accepted task exactly once after kill -9 and a restart on the same file', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'ebbflow-crash-'));
    folders.push(folder);
    const env = {
      EBBFLOW_FUNCTIONS: STORAGE_FUNCTIONS,
      EBBFLOW_DATA: join(folder, 'tasks.db'),
      EBBFLOW_MIN_WORKERS: '1',
      EBBFLOW_MAX_WORKERS: '4',
    };
    const first = await startServer(runtime, env);
    servers.push(first);
    const api = client(first.url);
    const accepted = new Map<string, Kind>();
    /** What the client was told had ended, before the kill. */
    const seen = new Map<string, Json>();
    let killed = false;
    const kill = () => {
      if (killed) return;
      killed = true;
      first.kill();
    };
    const observer = (async () => {
      while (!killed) {
        try {
          for (const record of await endedNow(api)) seen.set(record.id, record);
        } catch {
          // The server is going down.
        }
      }
    })();
    await lanes(
      BURST,
      LANES,
      () => killed,
      async (i) => {
        const kind = kindOf(i);
        const id = `burst-${i}`;
        try {
          const res = await api.post('/functions/burst/tasks', {
            id,
            args: [i, kind],
            retry: { attempts: ATTEMPTS[kind], backoffMs: 5 },
          });
          if (res.status === 202) accepted.set(id, kind);
          else if (!killed)
            throw new Error(`submit ${id}: ${res.status} ${JSON.stringify(res.body)}`);
        } catch (error) {
          // A request in flight at the kill gets no answer: not accepted, nothing promised.
          if (!killed) throw error;
        }
        if (accepted.size >= KILL_AT) kill();
      },
    );
    await observer;
    await first.exited;
    expect(accepted.size).toBeGreaterThanOrEqual(KILL_AT);
    expect(seen.size).toBeGreaterThan(0);

    const second = await startServer(runtime, env);
    servers.push(second);
    const again = client(second.url);
    const ids = [...accepted.keys()];
    const after = new Map<string, Json>();
    await lanes(
      ids.length,
      LANES,
      () => false,
      async (i) => {
        const id = ids[i] as string;
        const res = await again.get(`/tasks/${id}`);
        expect(res.status, `${id} was accepted and must not be lost`).toBe(200);
        after.set(id, await again.settle(id));
      },
    );
    for (const [id, kind] of accepted) {
      const record = after.get(id);
      expect(TERMINAL.has(record.status), id).toBe(true);
      expect(record.attempt).toBeLessThanOrEqual(ATTEMPTS[kind]);
      if (record.status === 'completed') {
        expect(kind, id).not.toBe('throw');
        expect(record.result).toEqual({ n: Number(id.slice('burst-'.length)) });
      } else {
        expect(record.status, id).toBe('failed');
        const causes =
          kind === 'throw'
            ? ['function_threw', 'worker_exited', 'server_lost']
            : ['worker_exited', 'server_lost'];
        expect(causes, `${id}: ${record.errorCode} ${record.error}`).toContain(record.errorCode);
      }
    }
    // Reported once: what was seen ended before the kill is the same record now.
    for (const [id, before] of seen) {
      if (accepted.has(id)) expect(after.get(id), id).toEqual(before);
    }
    // And it stays so.
    await until(async () => (await again.get('/functions/burst')).body.queueSize === 0);
    for (const record of await endedNow(again)) {
      const known = after.get(record.id);
      if (known) expect(record).toEqual(known);
    }
    expect(second.output()).toMatch(/tasks are kept in .*; found \d+ queued/);
  }, 600_000);
});
