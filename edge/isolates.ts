/**
 * Functions in their own isolates through the Worker Loader binding: the edge's Web Worker.
 * An isolate is loaded under `<name>@<sha256>#<generation>`, so a new version gets a fresh one
 * and a timed-out, crashed or cancelled run is "replaced" by moving to the next generation
 * (the old isolate is dropped; workerd frees it). Network is cut (`globalOutbound: null`) unless
 * `config.permissions.net` grants it, and then goes through a `NetGate` that checks the hosts.
 * @module
 */
import type { Fetcher, WorkerLoader } from '@cloudflare/workers-types/latest/index.ts';
import { messageOf } from '../runtime/errors.ts';
import type { FailureCode, FunctionPermissions, TaskLog } from '../runtime/types.ts';
import {
  ISOLATE_MAIN,
  ISOLATE_PATHS,
  type IsolateAnswer,
  type IsolateProbe,
} from './isolate-main.ts';
import { grantedHosts, type NetGateProps } from './net-gate.ts';

/** One version of a function's code, compiled to a single JavaScript module. */
export interface FunctionCode {
  name: string;
  js: string;
  /** Hex SHA-256 of the code (the loader id includes it). */
  codeSha256: string;
}

/** The date the isolates run at: the bundled workerd's, no later (runtime-facts.md). */
export const COMPATIBILITY_DATE = '2026-04-26';

/** The most CPU time a run may be given (Cloudflare's ceiling for a request: 5 minutes). */
const MAX_CPU_MS = 300_000;

/** How one run ended, as the Durable Object records it. */
export type RunOutcome =
  | { ok: true; result: unknown; executionTime: number; workerId: number; logs?: TaskLog[] }
  | {
      ok: false;
      code: FailureCode;
      error: string;
      workerId: number;
      executionTime?: number;
      logs?: TaskLog[];
    };

/** Makes the outbound of an isolate granted network (a `NetGate` with its hosts). */
export type Outbound = (gate: NetGateProps) => unknown;

export class Isolates {
  #loader: WorkerLoader;
  #outbound: Outbound;
  #owner: string;
  #generation = new Map<string, number>();
  #workerIds = new Map<string, number>();
  #nextWorkerId: number;

  /**
   * The loader caches isolates by id across the whole process, so `owner` (e.g. `shard-3`) goes
   * into every id: one owner replacing an isolate never hands another a hung one.
   * `firstWorkerId` keeps the worker ids of different owners apart.
   */
  constructor(loader: WorkerLoader, outbound: Outbound, owner: string, firstWorkerId = 1) {
    this.#loader = loader;
    this.#outbound = outbound;
    this.#owner = owner;
    this.#nextWorkerId = firstWorkerId;
  }

  /** The module's exports and `config`, or the loader's message when it does not load. */
  async probe(code: FunctionCode): Promise<IsolateProbe> {
    try {
      const res = await this.#fetch(code, undefined, ISOLATE_PATHS.config);
      return (await res.json()) as IsolateProbe;
    } catch (error) {
      this.replace(code.name);
      return { ok: false, error: `the module failed to load: ${messageOf(error)}` };
    }
  }

  /**
   * Run one task. Ends with a failure (and a fresh isolate for the next run) when it runs past
   * `timeoutMs`, when `stop` resolves (cancel), or when the isolate dies (`process.exit`, a crash).
   */
  async run(
    code: FunctionCode,
    permissions: FunctionPermissions | undefined,
    args: unknown[],
    timeoutMs: number,
    stop: Promise<string>,
  ): Promise<RunOutcome> {
    const workerId = this.workerId(code);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<RunOutcome>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            ok: false,
            code: 'timed_out',
            error: `timed out after ${timeoutMs} ms`,
            workerId,
          }),
        timeoutMs,
      );
    });
    const stopped = stop.then(
      (why): RunOutcome => ({ ok: false, code: 'worker_exited', error: why, workerId }),
    );
    const ran = this.#call(code, permissions, args, timeoutMs, workerId);
    const outcome = await Promise.race([ran, timedOut, stopped]);
    clearTimeout(timer);
    if (
      !outcome.ok &&
      outcome.code !== 'function_threw' &&
      outcome.code !== 'result_not_serializable'
    ) {
      this.replace(code.name);
    }
    return outcome;
  }

  /** Send the function's HTTP handler a request (its `fetch` export), with a CPU limit. */
  handle(
    code: FunctionCode,
    permissions: FunctionPermissions | undefined,
    request: Request,
    timeoutMs: number,
  ): Promise<Response> {
    const limits = { cpuMs: Math.min(timeoutMs, MAX_CPU_MS) };
    return this.#stub(code, permissions)
      .getEntrypoint(undefined, { limits })
      .fetch(request as never) as unknown as Promise<Response>;
  }

  /** Drop the function's current isolate: the next run loads a fresh one. */
  replace(name: string): void {
    this.#generation.set(name, (this.#generation.get(name) ?? 0) + 1);
  }

  async #call(
    code: FunctionCode,
    permissions: FunctionPermissions | undefined,
    args: unknown[],
    timeoutMs: number,
    workerId: number,
  ): Promise<RunOutcome> {
    let answer: IsolateAnswer;
    try {
      // On Cloudflare the CPU limit ends a run that computes past its timeout; local workerd
      // does not enforce it (docs/workers.md), and there such a run blocks the whole runtime.
      const limits = { cpuMs: Math.min(timeoutMs, MAX_CPU_MS) };
      const res = await this.#fetch(
        code,
        permissions,
        ISOLATE_PATHS.run,
        JSON.stringify({ args }),
        limits,
      );
      answer = (await res.json()) as IsolateAnswer;
    } catch (error) {
      const message = messageOf(error);
      const exit = /process\.exit\((-?\d+)\)/.exec(message);
      return exit
        ? {
            ok: false,
            code: 'worker_exited',
            error: `the worker exited with code ${exit[1]}`,
            workerId,
          }
        : { ok: false, code: 'worker_exited', error: `the worker crashed: ${message}`, workerId };
    }
    const logs = answer.logs && answer.logs.length > 0 ? { logs: answer.logs } : {};
    if (answer.ok) {
      return {
        ok: true,
        result: answer.result,
        executionTime: answer.executionTime,
        workerId,
        ...logs,
      };
    }
    const ran = answer.executionTime === undefined ? {} : { executionTime: answer.executionTime };
    return { ok: false, code: answer.code, error: answer.error, workerId, ...ran, ...logs };
  }

  #fetch(
    code: FunctionCode,
    permissions: FunctionPermissions | undefined,
    path: string,
    body?: string,
    limits?: { cpuMs: number },
  ): Promise<{ json(): Promise<unknown> }> {
    const init = body === undefined ? {} : { method: 'POST', body };
    return this.#stub(code, permissions)
      .getEntrypoint(undefined, limits ? { limits } : undefined)
      .fetch(`http://isolate${path}`, init);
  }

  #stub(code: FunctionCode, permissions: FunctionPermissions | undefined) {
    const gate = grantedHosts(permissions?.net);
    // The id names everything the code gets, the network grant included.
    const net = gate ? `+net=${gate.hosts?.join(',') ?? '*'}` : '';
    return this.#loader.get(`${this.#key(code)}${net}`, () => ({
      compatibilityDate: COMPATIBILITY_DATE,
      // `process.exit` then ends the isolate the way it ends a worker elsewhere.
      compatibilityFlags: ['nodejs_compat'],
      mainModule: 'ebbflow-main.js',
      modules: { 'ebbflow-main.js': ISOLATE_MAIN, 'function.js': code.js },
      env: {},
      // `null` cuts the isolate off the network; a grant routes its fetches through the gate.
      globalOutbound: gate ? (this.#outbound(gate) as Fetcher) : null,
    }));
  }

  #key(code: FunctionCode): string {
    return `${this.#owner}/${code.name}@${code.codeSha256}#${this.#generation.get(code.name) ?? 0}`;
  }

  /** The worker id of the function's current isolate. */
  workerId(code: FunctionCode): number {
    const key = this.#key(code);
    let id = this.#workerIds.get(key);
    if (id === undefined) {
      id = this.#nextWorkerId++;
      this.#workerIds.set(key, id);
    }
    return id;
  }
}
