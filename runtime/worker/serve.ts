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
  type TaskMessage,
  TIMING_CELLS,
  type WorkerApi,
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
  const waiting: Array<() => void> = [];
  /** Slots of tasks received but not begun, and those of them the pool cancelled. */
  const pending = new Set<number>();
  const skipped = new Set<number>();

  let results: MessagePort | undefined;

  const runOne = async ({ slot, args }: TaskMessage): Promise<void> => {
    const base = slot * TIMING_CELLS;
    const start = now();
    if (base < timings.length) timings[base] = start;
    let ok = true;
    let payload: unknown;
    try {
      payload = (fn as AnyFunction)(...args);
      if (isThenable(payload)) payload = await payload;
      const problem = payload === undefined ? undefined : jsonProblem(payload, 'the result');
      if (problem) {
        ok = false;
        payload = `the result could not be serialised: ${problem}`;
      }
    } catch (error) {
      ok = false;
      payload = describeThrown(error);
    }
    const end = now();
    if (base < timings.length) timings[base + 1] = end;
    const message: OutcomeMessage = [slot, ok, payload, start, end - start];
    (results as MessagePort).postMessage(message);
  };

  // Admits at most `limit` tasks at once; the rest wait in arrival order. A finishing task
  // hands its place to the next waiter directly: were it given back first, a batch arriving
  // before the waiter resumed could take it too, and one more task than `limit` would run.
  const admit = async (task: TaskMessage): Promise<void> => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      pending.delete(task.slot);
      if (skipped.delete(task.slot)) {
        // Cancelled while it waited here: it never runs; the outcome only frees its slot.
        const message: OutcomeMessage = [task.slot, false, 'cancelled before it started', now(), 0];
        (results as MessagePort).postMessage(message);
        return;
      }
      await runOne(task);
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
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
      const config = mod.config;
      return { config: config === undefined ? undefined : toPlain(config) };
    },
    run(batch) {
      for (const task of batch) {
        pending.add(task.slot);
        void admit(task);
      }
    },
    skip(slot) {
      if (pending.has(slot)) skipped.add(slot);
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
