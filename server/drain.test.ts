import { describe, expect, it } from 'vitest';
import { startApi, until } from '../test/fixtures/api-app.ts';
import { drainOnSignal } from './drain.ts';

/** A drain wired to the app's real runtime; the server close and the exit are recorded. */
const draining = async (runtimeOptions = {}) => {
  const api = await startApi(runtimeOptions);
  const events: string[] = [];
  let exit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    exit = resolve;
  });
  const signal = drainOnSignal({
    runtime: api.runtime,
    closeServer: async () => {
      events.push('server closed');
    },
    exit: (code) => {
      events.push(`exit ${code}`);
      exit(code);
    },
    log: (m) => api.logs.push(m),
    drainTimeoutMs: 30_000,
  });
  const request = async (path: string, init?: RequestInit) => {
    const res = await api.app.request(path, init);
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field.
    return { status: res.status, body: (await res.json()) as any };
  };
  const submit = (fn: string, args: unknown[]) =>
    request(`/functions/${fn}/tasks`, { method: 'POST', body: JSON.stringify({ args }) });
  return { ...api, events, exited, signal, request, submit };
};

describe('drain on SIGTERM', () => {
  it('Should refuse new work, keep answering results, finish every accepted task, exit 0', async () => {
    const d = await draining();
    const accepted = await Promise.all(Array.from({ length: 8 }, () => d.submit('wait', [400])));
    expect(accepted.every((a) => a.status === 202)).toBe(true);
    const ids: string[] = accepted.map((a) => a.body.id);
    const longPoll = d.request(`/tasks/${ids[0]}?wait=20000`);

    d.signal('SIGTERM');
    expect(d.runtime.draining).toBe(true);
    const health = await d.request('/health');
    expect(health).toEqual({ status: 503, body: { status: 'draining' } });
    const refused = await d.submit('wait', [1]);
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('draining');
    const invoke = await d.request('/functions/echo/invoke', { method: 'POST' });
    expect(invoke.status).toBe(503);
    expect((await d.request(`/tasks/${ids[1]}`)).status).toBe(200);
    expect((await d.request('/stats')).status).toBe(200);

    const polled = await longPoll;
    expect(polled.body.status).toBe('completed');
    expect(await d.exited).toBe(0);
    expect(d.events).toEqual(['server closed', 'exit 0']);
    for (const id of ids) {
      expect(await d.runtime.result(id)).toMatchObject({ status: 'completed', result: 400 });
    }
  });

  it('Should end the drain at once on a second signal, failing what is left', async () => {
    const d = await draining();
    const long = await d.submit('wait', [60_000]);
    await until(async () => (await d.runtime.result(long.body.id))?.status === 'running');
    d.signal('SIGTERM');
    d.signal('SIGINT');
    expect(await d.exited).toBe(0);
    const record = await d.runtime.result(long.body.id);
    expect(record?.status).toBe('failed');
    expect(record?.errorCode).toBe('shutdown');
    expect(record?.error).toContain('drain was ended early');
    expect(d.logs.some((l) => l.includes('SIGINT again'))).toBe(true);
  });

  it('Should fail what outlives the drain timeout with a clear error, then exit 0', async () => {
    const d = await draining({ drainTimeoutMs: 300 });
    const long = await d.submit('wait', [60_000]);
    const queued = await d.submit('nap', [60_000]);
    d.signal('SIGTERM');
    expect(await d.exited).toBe(0);
    for (const id of [long.body.id, queued.body.id]) {
      const record = await d.runtime.result(id);
      expect(record?.status).toBe('failed');
      expect(record?.error).toContain('drain timeout of 300 ms');
    }
  });
});
