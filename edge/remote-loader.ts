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

/**
 * A call as the wire sends it, read once: it may be sent again (to a host that restarted, or
 * after a lost connection).
 */
interface WireCall {
  url: string;
  method: string;
  /** The caller's headers, the wire's own removed. */
  headers?: Headers;
  body: ArrayBuffer | string | null;
}

/** Calls carry small bodies (a run's arguments, a handler's bounded body): read whole. */
const wireCall = async (request: Request | IsolatePost): Promise<WireCall> => {
  if (!(request instanceof Request))
    return { url: request.url, method: 'POST', body: request.body };
  const headers = new Headers(request.headers);
  for (const name of WIRE_HEADERS) headers.delete(name);
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
  const body = hasBody ? await request.arrayBuffer() : null;
  return { url: request.url, method: request.method, headers, body };
};

export const remoteLoader = (host: Fetcher, supervisor: Fetcher | undefined): IsolateLoader => {
  /** The life of the host that answered last (empty before the first answer). */
  let epoch = '';
  const send = async (
    spec: IsolateSpec,
    entrypoint: string | undefined,
    cpuMs: number | undefined,
    call: WireCall,
  ): Promise<Response> => {
    const headers = new Headers(call.headers);
    headers.set(HOST_HEADERS.id, spec.id);
    headers.set(HOST_HEADERS.url, call.url);
    headers.set(HOST_HEADERS.call, crypto.randomUUID());
    if (entrypoint !== undefined) headers.set(HOST_HEADERS.entrypoint, entrypoint);
    if (cpuMs !== undefined) headers.set(HOST_HEADERS.cpuMs, String(cpuMs));
    const sentTo = epoch;
    const init = { method: call.method, headers, body: call.body };
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
      const call = await wireCall(request);
      const first = await send(spec, entrypoint, cpuMs, call);
      if (first.headers.get(HOST_HEADERS.unknown) === null) return answer(first);
      await first.body?.cancel();
      await load(spec);
      return answer(await send(spec, entrypoint, cpuMs, call));
    },
    stalled() {
      void supervisor?.fetch('http://supervisor/stalled', { method: 'POST' }).catch(() => {});
    },
  };
};
