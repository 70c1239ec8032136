/**
 * Functions in their own isolates through the Worker Loader binding: the edge's Web Worker.
 * An isolate is loaded under `<owner>/<name>@<sha256>#<generation>`, so a new version gets a
 * fresh one and a timed-out, crashed or cancelled run is "replaced" by moving to the next
 * generation (the old isolate is dropped; workerd frees it). Network is cut
 * (`globalOutbound: null`) unless `config.permissions.net` grants it, and then goes through a
 * `NetGate` that checks the hosts. The deadline of a run is the caller's: its own timer, and the
 * wall clock when the answer comes (a CPU loop holds every timer of local workerd with it).
 * @module
 */
import { messageOf } from '../runtime/errors.ts';
import type { FunctionPermissions, TaskLog } from '../runtime/types.ts';
import { cutMessage } from '../runtime/worker/bounds.ts';
import {
  type IsolateProbe,
  RUNNER_ENTRYPOINT,
  RUNNER_PATHS,
  type RunLine,
  type RunRequest,
} from './isolate/protocol.ts';
import type { IsolateLoader, IsolatePost, IsolateSpec } from './isolate-loader.ts';
import { grantedHosts } from './net-gate.ts';
import { bounded, ISOLATE_FAILURES, type RunOutcome } from './run-outcome.ts';

export type { RunOutcome };

/** One version of a function's code, compiled to a single JavaScript module. */
export interface FunctionCode {
  name: string;
  js: string;
  /** Hex SHA-256 of the code (the loader id includes it). */
  codeSha256: string;
}

/** The most CPU time a run may be given (Cloudflare's ceiling for a request: 5 minutes). */
const MAX_CPU_MS = 300_000;

/** How long past its deadline an isolate keeps a timer pending, so workerd never calls it hung. */
const KEEP_ALIVE_MARGIN_MS = 5_000;

/** What a run is told besides its arguments. */
export interface RunControl {
  /** Resolves (with why) when the run must stop: a cancel. */
  stop: Promise<string>;
  /** Each line the function prints (and the task keeps), as it is printed; none when unset. */
  onLog?: (line: TaskLog) => void;
  /** A result whose JSON is larger fails the run (`result_too_large`); none when unset. */
  maxResultBytes?: number;
}

/** The module the isolate runs first (edge/isolate/main.ts, built to JavaScript). */
export type IsolateMain = string;

export class Isolates {
  #loader: IsolateLoader;
  #main: IsolateMain;
  #owner: string;
  #generation = new Map<string, number>();
  #workerIds = new Map<string, number>();
  #nextWorkerId: number;

  /**
   * The loader caches isolates by id across the whole process, so `owner` (e.g. `shard-3`) goes
   * into every id: one owner replacing an isolate never hands another a hung one.
   * `firstWorkerId` keeps the worker ids of different owners apart.
   */
  constructor(loader: IsolateLoader, main: IsolateMain, owner: string, firstWorkerId = 1) {
    this.#loader = loader;
    this.#main = main;
    this.#owner = owner;
    this.#nextWorkerId = firstWorkerId;
  }

  /** The module's exports and `config`, or the loader's message when it does not load. */
  async probe(code: FunctionCode): Promise<IsolateProbe> {
    let probe: IsolateProbe;
    try {
      const res = await this.#fetch(
        code,
        undefined,
        RUNNER_ENTRYPOINT,
        undefined,
        new Request(`http://isolate${RUNNER_PATHS.probe}`),
      );
      probe = (await res.json()) as IsolateProbe;
    } catch (error) {
      this.replace(code.name);
      probe = { ok: false, error: `the module failed to load: ${loadMessage(messageOf(error))}` };
    }
    // A loader's message can be as long as what the module threw: cut as every host cuts it.
    return probe.ok ? probe : { ok: false, error: cutMessage(probe.error) };
  }

  /**
   * Run one task. Ends with a failure (and a fresh isolate for the next run) when it runs past
   * `timeoutMs`, when `control.stop` resolves (cancel), or when the isolate dies.
   */
  async run(
    code: FunctionCode,
    permissions: FunctionPermissions | undefined,
    args: unknown[],
    timeoutMs: number,
    control: RunControl,
  ): Promise<RunOutcome> {
    const workerId = this.workerId(code);
    const started = Date.now();
    const timeout = (): RunOutcome => ({
      ok: false,
      code: 'timed_out',
      error: `timed out after ${timeoutMs} ms`,
      workerId,
      executionTime: Date.now() - started,
    });
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<RunOutcome>((resolve) => {
      timer = setTimeout(() => resolve(timeout()), timeoutMs);
    });
    const stopped = control.stop.then(
      (why): RunOutcome => ({ ok: false, code: 'worker_exited', error: why, workerId }),
    );
    let settled = false;
    const ran = this.#call(code, permissions, args, timeoutMs, workerId, abort.signal, control);
    void ran.finally(() => {
      settled = true;
    });
    let outcome = await Promise.race([ran, late, stopped]);
    clearTimeout(timer);
    // The deadline is ours: an answer that came after it (a CPU loop holds our timer with it
    // on local workerd) is a timeout all the same.
    if ((outcome.ok || outcome.code !== 'timed_out') && Date.now() - started > timeoutMs) {
      outcome = timeout();
    }
    if (!outcome.ok && !ISOLATE_FAILURES.has(outcome.code)) {
      abort.abort(); // stop reading it: its request ends, and its isolate is not used again
      this.replace(code.name);
      // Still running past its deadline: it may hold where isolates run (a CPU loop).
      if (outcome.code === 'timed_out' && !settled) this.#loader.stalled();
    }
    return bounded(outcome, control.maxResultBytes);
  }

  /** Send the function's HTTP handler a request (its `fetch` export), with a CPU limit. */
  handle(
    code: FunctionCode,
    permissions: FunctionPermissions | undefined,
    request: Request,
    timeoutMs: number,
  ): Promise<Response> {
    return this.#fetch(code, permissions, undefined, Math.min(timeoutMs, MAX_CPU_MS), request);
  }

  /** A call went past its deadline without an answer: where isolates run may be stuck in it. */
  stalled(): void {
    this.#loader.stalled();
  }

  /** Drop the function's current isolate: the next run loads a fresh one. */
  replace(name: string): void {
    this.#generation.set(name, (this.#generation.get(name) ?? 0) + 1);
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

  async #call(
    code: FunctionCode,
    permissions: FunctionPermissions | undefined,
    args: unknown[],
    timeoutMs: number,
    workerId: number,
    signal: AbortSignal,
    control: RunControl,
  ): Promise<RunOutcome> {
    const live = control.onLog !== undefined;
    const body: RunRequest = {
      args,
      keepAliveMs: timeoutMs + KEEP_ALIVE_MARGIN_MS,
      live,
      ...(control.maxResultBytes === undefined ? {} : { maxResultBytes: control.maxResultBytes }),
    };
    let end: Extract<RunLine, { type: 'end' }> | undefined;
    try {
      // On Cloudflare the CPU limit ends a run that computes past its timeout; local workerd
      // does not enforce it (docs/workers.md).
      const res = await this.#fetch(
        code,
        permissions,
        RUNNER_ENTRYPOINT,
        Math.min(timeoutMs, MAX_CPU_MS),
        { url: `http://isolate${RUNNER_PATHS.run}`, body: JSON.stringify(body) },
      );
      end = live
        ? await readLines(res.body as ReadableStream<Uint8Array> | null, signal, (line) => {
            control.onLog?.({ at: line.at, level: line.level, message: line.message });
          })
        : (JSON.parse(await res.text()) as Extract<RunLine, { type: 'end' }> | undefined);
    } catch (error) {
      if (signal.aborted) return crashed(workerId, 'stopped');
      const message = messageOf(error);
      const exit = /process\.exit\((-?\d+)\)/.exec(message) ?? /exit code (-?\d+)/.exec(message);
      return exit
        ? {
            ok: false,
            code: 'worker_exited',
            error: `the worker exited with code ${exit[1]}`,
            workerId,
          }
        : crashed(workerId, message);
    }
    if (!end) return crashed(workerId, 'its isolate ended the run without an answer');
    const logs = end.logs && end.logs.length > 0 ? { logs: end.logs } : {};
    if (end.ok) {
      return {
        ok: true,
        result: end.result,
        executionTime: end.executionTime,
        workerId,
        ...logs,
      };
    }
    return {
      ok: false,
      code: end.code,
      error: end.error,
      workerId,
      executionTime: end.executionTime,
      ...logs,
    };
  }

  #fetch(
    code: FunctionCode,
    permissions: FunctionPermissions | undefined,
    entrypoint: string | undefined,
    cpuMs: number | undefined,
    request: Request | IsolatePost,
  ): Promise<Response> {
    const gate = grantedHosts(permissions?.net);
    // The id names everything the code gets, the network grant included.
    const net = gate ? `+net=${gate.hosts?.join(',') ?? '*'}` : '';
    const spec: IsolateSpec = {
      id: `${this.#key(code)}${net}`,
      mainModule: 'ebbflow-main.js',
      modules: { 'ebbflow-main.js': this.#main, 'function.js': code.js },
      ...(gate ? { gate } : {}),
    };
    return this.#loader.fetch(spec, entrypoint, cpuMs, request);
  }

  #key(code: FunctionCode): string {
    return `${this.#owner}/${code.name}@${code.codeSha256}#${this.#generation.get(code.name) ?? 0}`;
  }
}

const crashed = (workerId: number, message: string): RunOutcome => ({
  ok: false,
  code: 'worker_exited',
  error: `the worker crashed: ${message}`,
  workerId,
});

/** Read a run's NDJSON answer: each `log` line told, the `end` line returned. */
const readLines = async (
  body: ReadableStream<Uint8Array> | null,
  signal: AbortSignal,
  onLog: (line: Extract<RunLine, { type: 'log' }>) => void,
): Promise<Extract<RunLine, { type: 'end' }> | undefined> => {
  if (!body) return undefined;
  const reader = body
    .pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>)
    .getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  signal.addEventListener('abort', cancel);
  try {
    let buffered = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      buffered += chunk.value;
      let at = buffered.indexOf('\n');
      while (at >= 0) {
        const line = JSON.parse(buffered.slice(0, at)) as RunLine;
        buffered = buffered.slice(at + 1);
        if (line.type === 'end') return line;
        onLog(line);
        at = buffered.indexOf('\n');
      }
    }
    return undefined;
  } finally {
    signal.removeEventListener('abort', cancel);
  }
};

/**
 * The loader's message for a module that failed to start, as the other hosts word it:
 * workerd's "Failed to start Worker: Uncaught Error: thrown at load at function.js:2:7" reads
 * "thrown at load".
 */
export const loadMessage = (message: string): string => {
  const uncaught = /Uncaught (\w*Error): ([^\n]*)/.exec(message);
  if (!uncaught) return message;
  const [, name, text] = uncaught as unknown as [string, string, string];
  return name === 'Error' ? text : `${name}: ${text}`;
};
