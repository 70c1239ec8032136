/**
 * The code that runs inside every worker: loads one function module, runs its tasks with at most
 * `concurrency` at once, times them, and checks that results are JSON. It imports no pool code.
 * @module
 */
import { type Endpoint, expose } from 'comlink';
import { jsonProblem } from './json-check.ts';
import {
  type InitReply,
  type OutcomeMessage,
  type PortMessage,
  type TaskMessage,
  TIMING_CELLS,
  type WorkerApi,
  type WorkerFailure,
} from './protocol.ts';

type AnyFunction = (...args: unknown[]) => unknown;
type ModuleLoader = () => Promise<Record<string, unknown>>;

const now = (): number => performance.timeOrigin + performance.now();

/** Serve the module that `load` resolves to on `endpoint`. */
export const serveWorker = (load: ModuleLoader, endpoint: Endpoint): void => {
  let fn: AnyFunction | undefined;
  let timings: Float64Array<ArrayBufferLike> = new Float64Array(0);
  let limit = 1;
  let running = 0;
  /** Tasks received but not begun, in arrival order (a cancelled one is taken out). */
  const waiting: TaskMessage[] = [];

  let results: MessagePort | undefined;

  const post = (message: OutcomeMessage): void => {
    (results as MessagePort).postMessage(message);
  };

  // A finishing task hands its place to the next waiter in the same step, so a batch arriving
  // in between can never start one task more than `limit`.
  const finish = (slot: number, ok: boolean, payload: unknown, start: number): void => {
    let code: WorkerFailure | undefined = ok ? undefined : 'function_threw';
    if (ok && payload !== undefined) {
      try {
        const problem = jsonProblem(payload, 'the result');
        if (problem) {
          ok = false;
          code = 'result_not_serializable';
          payload = `the result could not be serialised: ${problem}`;
        }
      } catch (error) {
        // A getter on the result threw while it was checked.
        ok = false;
        code = 'result_not_serializable';
        payload = describeThrown(error);
      }
    }
    const end = now();
    const base = slot * TIMING_CELLS;
    if (base < timings.length) timings[base + 1] = end;
    post(
      code
        ? [slot, ok, payload, start, end - start, code]
        : [slot, ok, payload, start, end - start],
    );
    running--;
    const next = waiting.shift();
    if (next) begin(next);
  };

  // No async function per task: a synchronous function's whole batch runs in one go, and only a
  // returned promise waits (with the idle watchdog in worker-handle.ts, sequential p50 -3 us, bench/NOTES.md).
  const begin = ({ slot, args }: TaskMessage): void => {
    running++;
    const base = slot * TIMING_CELLS;
    const start = now();
    if (base < timings.length) timings[base] = start;
    let value: unknown;
    try {
      value = (fn as AnyFunction)(...args);
      if (isThenable(value)) {
        // Through Promise.resolve, so a thenable that calls back twice (or throws) ends once.
        Promise.resolve(value).then(
          (settled) => finish(slot, true, settled, start),
          (error: unknown) => finish(slot, false, describeThrown(error), start),
        );
        return;
      }
    } catch (error) {
      finish(slot, false, describeThrown(error), start);
      return;
    }
    finish(slot, true, value, start);
  };

  const api: WorkerApi = {
    async init(buffer, concurrency, port): Promise<InitReply> {
      let mod: Record<string, unknown>;
      try {
        mod = await load();
      } catch (error) {
        throw new Error(`the module failed to load: ${describeThrown(error)}`);
      }
      if (typeof mod.default !== 'function') {
        throw new Error('the module has no default export that is a function');
      }
      fn = mod.default as AnyFunction;
      if (buffer) timings = new Float64Array(buffer);
      limit = concurrency;
      results = port;
      // The pool sends its batches and withdrawals on the same port, in order (protocol.ts).
      port.onmessage = (event: MessageEvent<PortMessage>) => {
        const message = event.data;
        if (Array.isArray(message)) api.run(message);
        else api.skip(message.skip);
      };
      const config = mod.config;
      return { config: config === undefined ? undefined : toPlain(config) };
    },
    run(batch) {
      for (const task of batch) {
        if (running < limit && waiting.length === 0) begin(task);
        else waiting.push(task);
      }
    },
    skip(slot) {
      const at = waiting.findIndex((task) => task.slot === slot);
      if (at < 0) return;
      waiting.splice(at, 1);
      // It never runs; the outcome only frees its slot.
      post([slot, false, 'cancelled before it started', now(), 0]);
    },
  };
  expose(api, endpoint);
};

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { then?: unknown }).then === 'function';

const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** A message for anything thrown: an Error's own, or a description of a non-Error value. */
export const describeThrown = (error: unknown): string => {
  if (error instanceof Error) {
    // Deno colours the locations inside some messages (module load errors); callers get text.
    const message = error.message.replace(ANSI_COLOUR, '');
    return error.name && error.name !== 'Error' ? `${error.name}: ${message}` : message;
  }
  let shown: string;
  try {
    shown = typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    shown = String(error);
  }
  return `the function failed with a non-Error value: ${shown}`;
};

// The config crosses by structured clone; a function inside it would make init fail obscurely.
const toPlain = (value: unknown): unknown => {
  try {
    return structuredClone(value);
  } catch {
    return String(value);
  }
};
