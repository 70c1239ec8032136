/**
 * Where functions' isolates are loaded and called: the Worker Loader of this workerd (on
 * Cloudflare, and under `wrangler dev`), or, under `npm run dev:workers`, the isolate host: a
 * second workerd the dev runner starts and restarts (`isolate-host.ts`, `remote-loader.ts`), so a
 * function that computes without pause holds only that one, never the API and the task shards.
 * @module
 */
import type { Fetcher, WorkerLoader } from '@cloudflare/workers-types/latest/index.ts';
import type { NetGateProps } from './net-gate.ts';

/** The date the isolates run at: the bundled workerd's, no later (runtime-facts.md). */
export const COMPATIBILITY_DATE = '2026-04-26';

/** What an isolate is loaded from. A new `id` gets a fresh isolate. */
export interface IsolateSpec {
  id: string;
  mainModule: string;
  modules: Record<string, string>;
  /** The hosts its fetches may reach, through a `NetGate`; unset: no network at all. */
  gate?: NetGateProps;
}

/**
 * A POST of a text body, as a run sends it: a `Request` is built only where one is needed (the
 * isolate host's wire takes the text as it is).
 */
export interface IsolatePost {
  url: string;
  body: string;
}

export interface IsolateLoader {
  /** `request` to the isolate's `entrypoint` (its default one when unset), under a CPU limit. */
  fetch(
    spec: IsolateSpec,
    entrypoint: string | undefined,
    cpuMs: number | undefined,
    request: Request | IsolatePost,
  ): Promise<Response>;
  /**
   * A run went past its deadline without an answer: where isolates run may be stuck in it (local
   * workerd enforces no CPU limit). Nothing to do where the platform ends such an isolate.
   */
  stalled(): void;
}

/** Makes the outbound of an isolate granted network (a `NetGate` with its hosts). */
export type Outbound = (gate: NetGateProps) => unknown;

/** Isolates of this workerd's Worker Loader. */
export const localLoader = (loader: WorkerLoader, outbound: Outbound): IsolateLoader => ({
  fetch: (spec, entrypoint, cpuMs, request) =>
    loader
      .get(spec.id, () => ({
        compatibilityDate: COMPATIBILITY_DATE,
        // `process.exit` then ends the isolate the way it ends a worker elsewhere, and the main
        // module keeps each run's log in its own async context.
        compatibilityFlags: ['nodejs_compat'],
        mainModule: spec.mainModule,
        modules: spec.modules,
        env: {},
        // `null` cuts the isolate off the network; a grant routes its fetches through the gate.
        globalOutbound: spec.gate ? (outbound(spec.gate) as Fetcher) : null,
      }))
      .getEntrypoint(entrypoint, cpuMs === undefined ? undefined : { limits: { cpuMs } })
      .fetch(asRequest(request) as never) as unknown as Promise<Response>,
  stalled: () => {},
});

/** The request itself, or a POST's as a `Request`. */
const asRequest = (request: Request | IsolatePost): Request =>
  request instanceof Request
    ? request
    : new Request(request.url, { method: 'POST', body: request.body });
