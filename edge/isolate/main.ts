/**
 * The main module of a function's isolate (Worker Loader), built to JavaScript by the Workers
 * build and loaded beside the compiled function (`function.js`). Its default entrypoint is the
 * module's own `fetch` and nothing else; ebbflow's probe and runs go to `EbbflowRunner`. A run
 * keeps what the function prints on its task (the same bounds and wording as every host, told
 * line by line as it is printed), checks that the result is JSON and reports errors as every host
 * does (`RangeError: n must be ...`). It imports nothing of ebbflow's but the worker-side helpers
 * every host's worker uses.
 * @module
 */

import { WorkerEntrypoint } from 'cloudflare:workers';
import { AsyncLocalStorage } from 'node:async_hooks';
import type {
  Request as WorkerRequest,
  Response as WorkerResponse,
} from '@cloudflare/workers-types/latest/index.ts';
import { cutMessage, resultTooLarge, tooLarge } from '../../runtime/worker/bounds.ts';
import { jsonProblem } from '../../runtime/worker/json-check.ts';
import { captureConsole, TaskLog } from '../../runtime/worker/logs.ts';
import { describeThrown } from '../../runtime/worker/thrown.ts';
// The compiled function, a sibling module of the isolate (external to this build).
import * as mod from './function.js';
import {
  type IsolateFailure,
  type IsolateProbe,
  RUNNER_PATHS,
  type RunLine,
  type RunRequest,
} from './protocol.ts';

type Exports = { default?: unknown; fetch?: unknown; config?: unknown };
const exported = mod as Exports;

/** A task's log that also tells each kept line as it is printed. */
class LiveLog extends TaskLog {
  readonly #tell: (line: RunLine) => void;

  constructor(tell: (line: RunLine) => void) {
    super();
    this.#tell = tell;
  }

  override add(level: Parameters<TaskLog['add']>[0], message: string, at: number): boolean {
    const kept = super.add(level, message, at);
    if (kept) this.#tell({ type: 'log', at, level, message });
    return kept;
  }
}

// Each run's log is found through the async context, so runs in flight together never mix.
const current = new AsyncLocalStorage<LiveLog>();
captureConsole(() => current.getStore(), Date.now);

const probe = (): IsolateProbe => {
  const callable = typeof exported.default === 'function';
  const handler = typeof exported.fetch === 'function';
  if (!callable && !handler) {
    return {
      ok: false,
      error: 'the module has no default export that is a function (nor a fetch export)',
    };
  }
  try {
    const config = JSON.parse(JSON.stringify(exported.config ?? null)) as unknown;
    return { ok: true, config, callable, handler };
  } catch (error) {
    return { ok: false, error: `the module's config is not JSON: ${describeThrown(error)}` };
  }
};

const run = async (
  args: unknown[],
  maxResultBytes: number | undefined,
  tell: (line: RunLine) => void,
): Promise<void> => {
  const log = new LiveLog(tell);
  const started = performance.now();
  const end = (
    line: { ok: true; result: unknown } | { ok: false; code: IsolateFailure; error: string },
  ) => {
    const executionTime = performance.now() - started;
    const logs = log.close(Date.now());
    // Bounded as every host's worker bounds them (the caller checks again).
    const bounded = line.ok ? line : { ...line, error: cutMessage(line.error) };
    tell({ type: 'end', ...bounded, executionTime, ...(logs ? { logs } : {}) } as RunLine);
  };
  let result: unknown;
  try {
    const fn = exported.default;
    if (typeof fn !== 'function')
      throw new Error('the module has no default export that is a function');
    result = await current.run(log, () => fn(...args));
  } catch (error) {
    end({ ok: false, code: 'function_threw', error: describeThrown(error) });
    return;
  }
  let problem: string | undefined;
  let large = false;
  try {
    problem = result === undefined ? undefined : jsonProblem(result, 'the result');
    // Never sent: the shard would hold it in the record.
    large = problem === undefined && tooLarge(result, maxResultBytes);
  } catch (error) {
    problem = describeThrown(error); // a getter on the result threw while it was checked
  }
  if (problem) {
    end({
      ok: false,
      code: 'result_not_serializable',
      error: `the result could not be serialised: ${problem}`,
    });
  } else if (large) {
    end({ ok: false, code: 'result_too_large', error: resultTooLarge(maxResultBytes as number) });
  } else {
    end({ ok: true, result });
  }
};

const encoder = new TextEncoder();

export class EbbflowRunner extends WorkerEntrypoint {
  override async fetch(request: WorkerRequest): Promise<WorkerResponse> {
    return (await this.#serve(request as unknown as Request)) as unknown as WorkerResponse;
  }

  async #serve(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === RUNNER_PATHS.probe) return Response.json(probe());
    const { args, keepAliveMs, live, maxResultBytes } = (await request.json()) as RunRequest;
    const keepAlive = setTimeout(() => {}, keepAliveMs);
    if (!live) {
      let last: RunLine | undefined;
      try {
        await run(args, maxResultBytes, (line) => {
          if (line.type === 'end') last = line;
        });
      } finally {
        clearTimeout(keepAlive);
      }
      return new Response(`${JSON.stringify(last)}\n`, {
        headers: { 'content-type': 'application/x-ndjson' },
      });
    }
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const tell = (line: RunLine): void => {
      // A caller that stopped reading (a timeout, a cancel) no longer wants the lines.
      writer.write(encoder.encode(`${JSON.stringify(line)}\n`)).catch(() => {});
    };
    void run(args, maxResultBytes, tell).finally(() => {
      clearTimeout(keepAlive);
      writer.close().catch(() => {});
    });
    return new Response(readable, { headers: { 'content-type': 'application/x-ndjson' } });
  }
}

export default {
  fetch(request: Request): Response | Promise<Response> {
    if (typeof exported.fetch !== 'function') {
      return new Response('this function has no fetch export', { status: 404 });
    }
    return (exported.fetch as (request: Request) => Response | Promise<Response>)(request);
  },
};
