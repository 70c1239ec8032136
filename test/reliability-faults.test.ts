/**
 * Function faults over HTTP on a real server, each followed by a good call on the same function:
 * the fault ends only its own task, with a message naming the cause, and the function keeps
 * serving. Runs on every runtime that has a server entry.
 */
import { expect, it } from 'vitest';
import { reliabilityEnv } from './support/functions.ts';
import { describeEachRuntime, type Json, serverForSuite } from './support/server.ts';

interface Fault {
  name: string;
  body: { args: unknown[]; timeoutMs?: number };
  status: 500 | 504;
  error: RegExp;
  /** The record's `errorCode`: what programs match on. */
  code: string;
  /** Runtimes that cannot honour this case, with the reason (shown in the test name). */
  skip?: Partial<Record<string, string>>;
}

const FAULTS: Fault[] = [
  {
    name: 'throws an Error',
    body: { args: ['throw', 'on purpose'] },
    status: 500,
    error: /^fault threw on purpose$/,
    code: 'function_threw',
  },
  {
    name: 'rejects with a non-Error',
    body: { args: ['reject-non-error'] },
    status: 500,
    error: /non-Error value: \{"not":"an Error"\}/,
    code: 'function_threw',
  },
  {
    name: 'never resolves (task timeout)',
    body: { args: ['hang'], timeoutMs: 300 },
    status: 504,
    error: /^timed out after 300 ms$/,
    code: 'timed_out',
  },
  {
    name: 'loops forever synchronously (function timeout)',
    body: { args: ['spin'] },
    status: 504,
    error: /^timed out after 1500 ms$/,
    code: 'timed_out',
  },
  {
    name: 'exits its worker',
    body: { args: ['exit'] },
    status: 500,
    error: /exited.*7/,
    code: 'worker_exited',
  },
  {
    name: 'runs out of memory',
    body: { args: ['oom'], timeoutMs: 30_000 },
    status: 500,
    error: /ran out of memory/,
    code: 'out_of_memory',
    skip: {
      bun: 'Bun ignores worker memory limits, so the worker would take the machine',
      deno: 'a Deno Web Worker out of memory aborts the whole process',
    },
  },
  {
    name: 'returns a BigInt',
    body: { args: ['bigint'] },
    status: 500,
    error: /could not be serialised.*bigint/,
    code: 'result_not_serializable',
  },
  {
    name: 'returns a function',
    body: { args: ['function'] },
    status: 500,
    error: /could not be serialised.*function/,
    code: 'result_not_serializable',
  },
  {
    name: 'returns a cycle',
    body: { args: ['cycle'] },
    status: 500,
    error: /could not be serialised/,
    code: 'result_not_serializable',
  },
];

describeEachRuntime('function faults over HTTP', (runtime) => {
  const suite = serverForSuite(runtime, reliabilityEnv(6), { stopMs: 10_000 });

  let good = 0;
  const goodCall = async () => {
    good++;
    const res = await suite.api.post('/functions/fault/invoke', { args: ['ok', good] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'completed', result: { ok: good } });
  };

  for (const fault of FAULTS) {
    const reason = fault.skip?.[runtime.name];
    it.skipIf(reason !== undefined)(
      `Should fail only the task when the function ${fault.name}, then serve a good call${reason ? ` (skipped on ${runtime.name}: ${reason})` : ''}`,
      async () => {
        const res = await suite.api.post('/functions/fault/invoke', fault.body);
        expect(res.status, JSON.stringify(res.body)).toBe(fault.status);
        const record: Json = res.body;
        expect(record.status).toBe('failed');
        expect(record.errorCode).toBe(fault.code);
        expect(record.error).toMatch(fault.error);
        expect(record.failedAt).toBeGreaterThanOrEqual(record.submittedAt);
        expect(await suite.api.get(`/tasks/${record.id}`)).toMatchObject({
          status: 200,
          body: { status: 'failed', error: record.error },
        });
        await goodCall();
      },
      60_000,
    );
  }

  it('Should keep serving a function after a burst of mixed faults at once', async () => {
    const burst = await Promise.all([
      suite.api.post('/functions/fault/invoke', { args: ['throw'] }),
      suite.api.post('/functions/fault/invoke', { args: ['exit'] }),
      suite.api.post('/functions/fault/invoke', { args: ['hang'], timeoutMs: 200 }),
      suite.api.post('/functions/fault/invoke', { args: ['ok', 'beside'] }),
      suite.api.post('/functions/fault/invoke', { args: ['bigint'] }),
    ]);
    expect(burst.map((r) => r.status)).toEqual([500, 500, 504, 200, 500]);
    await goodCall();
    const info = (await suite.api.get('/functions/fault')).body;
    expect(info.status).toBe('ready');
    expect(info.activeWorkers).toBeGreaterThanOrEqual(1);
    expect(info.activeWorkers).toBeLessThanOrEqual(info.maxWorkers);
  }, 60_000);

  for (const [fn, cause] of [
    ['syntax-error', /the module failed to load/],
    ['throws-at-load', /the module failed to load.*throws-at-load refuses to load/],
  ] as const) {
    it(`Should report ${fn} unavailable, fail its calls with the loader's message each time, and serve others`, async () => {
      const info = await suite.api.get(`/functions/${fn}`);
      expect(info.status).toBe(200);
      expect(info.body.status).toBe('unavailable');
      expect(info.body.error).toMatch(cause);
      for (let i = 0; i < 2; i++) {
        const res = await suite.api.post(`/functions/${fn}/invoke`, { args: [i] });
        expect(res.status).toBe(500);
        expect(res.body).toMatchObject({ status: 'failed' });
        expect(res.body.error).toMatch(cause);
      }
      const queued = await suite.api.post(`/functions/${fn}/tasks`, {});
      expect(queued.status).toBe(202);
      expect((await suite.api.settle(queued.body.id)).error).toMatch(cause);
      const echo = await suite.api.post('/functions/echo/invoke', { args: [fn] });
      expect(echo).toMatchObject({ status: 200, body: { result: [fn] } });
    });
  }

  it('Should serve a module that leaks timers and keeps its worker alive, and still exit 0', async () => {
    for (let i = 1; i <= 3; i++) {
      const res = await suite.api.post('/functions/leaks-timers/invoke', { args: [i] });
      expect(res.status).toBe(200);
      expect(res.body.result.value).toBe(i);
    }
    expect((await suite.api.get('/health')).body).toEqual({ status: 'ok' });
    // The leaked intervals would keep a worker (and so the process) alive forever.
    expect(await suite.server.stop(30_000)).toBe(0);
  }, 60_000);
});
