/**
 * Isolates in the isolate host of `npm run dev:workers` (a second workerd, `isolate-host.ts`),
 * reached through the `ISOLATE_HOST` service binding. Each isolate is handed over once per life
 * of the host: a call the host does not know (it was restarted) loads it and is sent again.
 * A run past its deadline tells `ISOLATE_SUPERVISOR` (the dev runner), which restarts the host
 * when it no longer answers.
 * @module
 */
import type { Fetcher } from '@cloudflare/workers-types/latest/index.ts';
import { HOST_HEADERS, HOST_PATHS, WIRE_HEADERS } from './isolate-host-wire.ts';
import type { IsolateLoader, IsolatePost, IsolateSpec } from './isolate-loader.ts';

const HOST = 'http://isolate-host';

export const remoteLoader = (host: Fetcher, supervisor: Fetcher | undefined): IsolateLoader => {
  /** The life of the host that answered last (empty before the first answer). */
  let epoch = '';
  const send = async (
    spec: IsolateSpec,
    entrypoint: string | undefined,
    cpuMs: number | undefined,
    request: Request | IsolatePost,
    body: ArrayBuffer | string | null,
  ): Promise<Response> => {
    const headers = new Headers(request instanceof Request ? request.headers : undefined);
    if (request instanceof Request) for (const name of WIRE_HEADERS) headers.delete(name);
    headers.set(HOST_HEADERS.id, spec.id);
    headers.set(HOST_HEADERS.url, request.url);
    headers.set(HOST_HEADERS.call, crypto.randomUUID());
    if (entrypoint !== undefined) headers.set(HOST_HEADERS.entrypoint, entrypoint);
    if (cpuMs !== undefined) headers.set(HOST_HEADERS.cpuMs, String(cpuMs));
    const sentTo = epoch;
    const init = { method: request instanceof Request ? request.method : 'POST', headers, body };
    let res: Response;
    try {
      res = await fetchHost(`${HOST}${HOST_PATHS.call}`, init);
    } catch {
      // Its connection was lost, maybe before the call reached the host: once more, under the
      // same id, which the host runs only if it never began it.
      headers.set(HOST_HEADERS.epoch, sentTo);
      res = await fetchHost(`${HOST}${HOST_PATHS.call}`, init);
    }
    epoch = res.headers.get(HOST_HEADERS.epoch) ?? epoch;
    if (res.headers.get(HOST_HEADERS.lost) !== null) {
      await res.body?.cancel();
      throw new Error('Network connection lost.');
    }
    return res;
  };
  const fetchHost = (url: string, init: RequestInit): Promise<Response> =>
    host.fetch(url, init as never) as unknown as Promise<Response>;
  const answer = async (res: Response): Promise<Response> => {
    if (res.headers.get(HOST_HEADERS.error) !== null) throw new Error(await res.text());
    return res;
  };
  const load = async (spec: IsolateSpec): Promise<void> => {
    const init = { method: 'POST', body: JSON.stringify(spec) };
    // Loading twice does no harm: a lost connection is tried once more.
    const loaded = await fetchHost(`${HOST}${HOST_PATHS.load}`, init).catch(() =>
      fetchHost(`${HOST}${HOST_PATHS.load}`, init),
    );
    if (!loaded.ok) throw new Error(`the isolate host did not load it: ${await loaded.text()}`);
  };
  return {
    async fetch(spec, entrypoint, cpuMs, request) {
      // Read once: a call may be sent again (the host did not hold the isolate, or the
      // connection was lost). Calls carry small bodies (arguments, a handler's bounded body).
      const body = !(request instanceof Request)
        ? request.body
        : request.method !== 'GET' && request.method !== 'HEAD'
          ? await request.arrayBuffer()
          : null;
      const first = await send(spec, entrypoint, cpuMs, request, body);
      if (first.headers.get(HOST_HEADERS.unknown) === null) return answer(first);
      await first.body?.cancel();
      await load(spec);
      return answer(await send(spec, entrypoint, cpuMs, request, body));
    },
    stalled() {
      void supervisor?.fetch('http://supervisor/stalled', { method: 'POST' }).catch(() => {});
    },
  };
};
