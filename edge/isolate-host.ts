/**
 * The isolate host of `npm run dev:workers`: a second workerd whose only job is to load the
 * functions' isolates (Worker Loader) and pass calls to them (`isolate-host-wire.ts`). Local
 * workerd enforces no CPU limit and runs a process's Workers on one thread, so a function that
 * computes without pause holds this process only; the Worker and its Durable Objects keep
 * answering, and the dev runner restarts this one (edge/dev.ts). Not deployed: on Cloudflare the
 * Worker loads isolates itself, under the platform's CPU limits.
 * @module
 */
import type { WorkerLoader } from '@cloudflare/workers-types/latest/index.ts';
import { messageOf } from '../runtime/errors.ts';
import { gateOf } from './gate.ts';
import { HOST_HEADERS, HOST_PATHS, WIRE_HEADERS } from './isolate-host-wire.ts';
import { type IsolateSpec, localLoader } from './isolate-loader.ts';

export { NetGate } from './net-gate.ts';

interface HostEnv {
  LOADER: WorkerLoader;
}

/** The isolates handed over in this life of the host, by id. */
const specs = new Map<string, IsolateSpec>();

/**
 * This life of the host: a call sent again names the life it was first sent to. Drawn on the
 * first request (workerd allows no random values at load).
 */
let epoch: string | undefined;
const epochOf = (): string => {
  epoch ??= crypto.randomUUID();
  return epoch;
};

/** Ids of the calls begun in this life (the newest `KEPT_CALLS`): none is run twice. */
const begun = new Set<string>();
const KEPT_CALLS = 10_000;

const lost = () =>
  new Response(null, {
    status: 409,
    headers: { [HOST_HEADERS.lost]: '1', [HOST_HEADERS.epoch]: epochOf() },
  });

export default {
  async fetch(request: Request, env: HostEnv, ctx: { exports?: unknown }): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === HOST_PATHS.health) return new Response('ok');
    if (pathname === HOST_PATHS.load && request.method === 'POST') {
      const spec = (await request.json()) as IsolateSpec;
      specs.set(spec.id, spec);
      return new Response(null, { status: 204 });
    }
    if (pathname !== HOST_PATHS.call) return new Response('not found', { status: 404 });
    // Read whole first: workerd closes a connection whose request body was left unread, and the
    // caller's next call on it is lost (edge/drain.ts). Calls carry small bodies (a run's
    // arguments, a handler's body within EBBFLOW_MAX_BODY_BYTES).
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    const body = hasBody ? await request.arrayBuffer() : null;
    const id = request.headers.get(HOST_HEADERS.id) ?? '';
    const spec = specs.get(id);
    if (!spec) {
      return new Response(null, {
        status: 404,
        headers: { [HOST_HEADERS.unknown]: id, [HOST_HEADERS.epoch]: epochOf() },
      });
    }
    // Sent again after its connection was lost: run only if it surely never began.
    const call = request.headers.get(HOST_HEADERS.call) ?? crypto.randomUUID();
    const firstSentTo = request.headers.get(HOST_HEADERS.epoch);
    if (firstSentTo !== null && (firstSentTo !== epochOf() || begun.has(call))) return lost();
    begun.add(call);
    if (begun.size > KEPT_CALLS) begun.delete(begun.values().next().value as string);
    const entrypoint = request.headers.get(HOST_HEADERS.entrypoint) ?? undefined;
    const cpu = request.headers.get(HOST_HEADERS.cpuMs);
    const url = request.headers.get(HOST_HEADERS.url) ?? 'http://isolate/';
    const headers = new Headers(request.headers);
    for (const name of WIRE_HEADERS) headers.delete(name);
    const inner = new Request(url, { method: request.method, headers, body });
    try {
      const answer = await localLoader(env.LOADER, gateOf(ctx)).fetch(
        spec,
        entrypoint,
        cpu === null ? undefined : Number(cpu),
        inner,
      );
      const marked = new Response(answer.body, answer);
      marked.headers.set(HOST_HEADERS.epoch, epochOf());
      return marked;
    } catch (error) {
      // The caller reads it as the loader's own exception (a module that fails to start, an
      // exit): the same words as in one workerd.
      return new Response(messageOf(error), {
        status: 502,
        headers: { [HOST_HEADERS.error]: '1', [HOST_HEADERS.epoch]: epochOf() },
      });
    }
  },
};
