/**
 * Functions in Web Workers (`new Worker(url, { type: 'module' })`), for Deno and Bun: both load
 * TypeScript natively, so nothing is bundled. A host adapter (deno.ts, bun.ts) adds its own
 * worker options; this file finds dead workers however the host reports them (Bun: `close`;
 * Deno: nothing, so the worker announces its exits and idle workers are pinged).
 * @module
 */
import { unrefTimer } from '../time/timers.ts';
import type {
  HostSample,
  PreparedFunction,
  SpawnedWorker,
  SpawnOptions,
  WorkerHost,
} from '../worker-host.ts';
import { type ControlMessage, comlinkEndpoint, isControl } from './web-control.ts';

export interface WebHostOptions {
  name: 'deno' | 'bun';
  /** Extra `Worker` options for one worker (Deno's sandbox, Bun's environment). */
  workerOptions(prepared: PreparedFunction, options: SpawnOptions): Record<string, unknown>;
  /** Ping idle workers this often and retire one silent for three pings; 0 turns it off. */
  heartbeatMs: number;
  /** Whether the host fires `close` when a worker ends (Bun does, Deno does not). */
  closeEvents: boolean;
  /** The process's CPU and memory, for the scaler. */
  sample(): HostSample;
  /** Rewrites the error of a worker the host refused to start (Deno: more permissions than the server holds). */
  refused?(error: Error, options: SpawnOptions): Error;
  /** Why a function can never have these grants (`WorkerHost.refuses`). */
  refuses?: WorkerHost['refuses'];
}

const workerEntry = new URL('./web-worker-entry.ts', import.meta.url);

export const webHost = (options: WebHostOptions): WorkerHost => ({
  name: options.name,
  hardwareConcurrency: () => navigator.hardwareConcurrency || 1,
  sample: options.sample,
  importsAtSpawn: true,
  refuses: options.refuses,
  // Deno and Bun import TypeScript as it is; the probe worker reports any load error.
  prepare: async (entry) => ({ entry }),
  spawn(prepared, spawnOptions) {
    let worker: Worker;
    try {
      worker = new Worker(workerEntry, {
        type: 'module',
        name: `ebbflow:${prepared.entry.name}#${spawnOptions.workerId}`,
        ...options.workerOptions(prepared, spawnOptions),
      } as WorkerOptions);
    } catch (error) {
      throw options.refused && error instanceof Error
        ? options.refused(error, spawnOptions)
        : error;
    }
    const label = `function ${prepared.entry.name}#${spawnOptions.workerId}`;
    worker.postMessage({
      ebbflow: 'load',
      url: prepared.entry.url,
      label,
    } satisfies ControlMessage);
    return watch(worker, options);
  },
});

/** Heartbeat ticks without an answer, while idle, before a worker counts as gone. */
const MISSED_PINGS = 3;

const watch = (worker: Worker, { heartbeatMs, closeEvents }: WebHostOptions): SpawnedWorker => {
  let listener: ((cause: string) => void) | undefined;
  let cause: string | undefined;
  let stopping = false;
  let closed: () => void = () => {};
  const closing = new Promise<void>((resolve) => {
    closed = resolve;
  });
  // Only an idle worker must answer a ping (the pool says which are; loading counts as busy).
  let idle = false;
  let unanswered = 0;

  const gone = (why: string) => {
    if (cause !== undefined) return;
    cause = stopping ? 'the worker was stopped' : why;
    clearInterval(heartbeat);
    closed();
    if (!stopping) worker.terminate();
    listener?.(cause);
  };

  worker.addEventListener('message', (event: MessageEvent) => {
    unanswered = 0;
    const data = event.data as unknown;
    if (isControl(data) && data.ebbflow === 'exit') {
      const code = data.code === undefined ? '' : ` with code ${data.code}`;
      gone(`the worker exited${code} (${data.via})`);
    }
  });
  // An uncaught error ends a worker on both hosts; unless prevented, Deno ends the process too.
  worker.addEventListener('error', (event: Event) => {
    event.preventDefault();
    const message = (event as ErrorEvent).message || 'an uncaught error';
    gone(`the worker crashed: ${message}`);
  });
  // Bun only: a close event with the exit code (Deno fires none).
  worker.addEventListener('close', (event: Event) => {
    gone(`the worker exited with code ${(event as Event & { code?: number }).code ?? 'unknown'}`);
  });

  const heartbeat =
    heartbeatMs > 0
      ? setInterval(() => {
          if (!idle) {
            unanswered = 0; // busy: the pool's task deadlines cover a worker that dies now
            return;
          }
          if (++unanswered > MISSED_PINGS) {
            gone(
              `the worker stopped answering (it ended without a signal the host reports; idle for ${MISSED_PINGS} pings of ${heartbeatMs} ms)`,
            );
            return;
          }
          worker.postMessage({ ebbflow: 'ping' } satisfies ControlMessage);
        }, heartbeatMs)
      : undefined;
  if (heartbeat !== undefined) unrefTimer(heartbeat);

  return {
    endpoint: comlinkEndpoint(worker),
    setIdle(now) {
      idle = now;
      unanswered = 0;
    },
    onExit(exit) {
      listener = exit;
      if (cause !== undefined) exit(cause);
    },
    async terminate() {
      stopping = true;
      worker.terminate();
      // Bun confirms with `close`; Deno's terminate is immediate and silent.
      if (closeEvents && cause === undefined) {
        await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 1000))]);
      }
      gone('the worker was stopped');
    },
  };
};
