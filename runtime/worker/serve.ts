/**
 * The code that runs inside every worker: loads one function module, runs its tasks with at most
 * `concurrency` at once, times them, checks that results are JSON, keeps what each task prints,
 * and answers HTTP calls with the module's `fetch` export. It imports no pool code.
 * @module
 */
import { type Endpoint, expose } from 'comlink';
import { fromWireRequest, toWireResponse } from './http.ts';
import { jsonProblem } from './json-check.ts';
import { captureConsole, TaskLog, taskFinder } from './logs.ts';
import {
  type InitReply,
  type OutcomeMessage,
  type PortMessage,
  type TaskContext,
  type TaskMessage,
  TIMING_CELLS,
  type WireResponse,
  type WorkerApi,
  type WorkerFailure,
} from './protocol.ts';

type AnyFunction = (...args: unknown[]) => unknown;
type ModuleLoader = () => Promise<Record<string, unknown>>;

const now = (): number => performance.timeOrigin + performance.now();

/** What a host's worker entry may add (see `TaskContext`). */
export interface WorkerCapabilities {
  context?: TaskContext;
}

/** Serve the module that `load` resolves to on `endpoint`. */
export const serveWorker = (
  load: ModuleLoader,
  endpoint: Endpoint,
  { context }: WorkerCapabilities = {},
): void => {
  let fn: AnyFunction | undefined;
  let handler: AnyFunction | undefined;
  let timings: Float64Array<ArrayBufferLike> = new Float64Array(0);
  let limit = 1;
  let runningCount = 0;
  /** Tasks received but not begun, in arrival order (a cancelled one is taken out). */
  const waiting: TaskMessage[] = [];

  let results: MessagePort | undefined;
  /** The log of each task running, by slot. */
  const logs = new Map<number, TaskLog>();
  const running = new Set<TaskLog>();
  // With one task at a time the running one is the one that printed; the async context (which
  // costs on every await) is only needed when tasks overlap.
  let tracked: TaskContext | undefined;
  captureConsole(
    taskFinder(context, () => running),
    now,
  );

  const post = (message: OutcomeMessage, transfer?: Transferable[]): void => {
    (results as MessagePort).postMessage(message, transfer ?? []);
  };

  // A finishing task hands its place to the next waiter in the same step, so a batch arriving
  // in between can never start one task more than `limit`.
  const finish = (
    slot: number,
    ok: boolean,
    payload: unknown,
    start: number,
    response?: boolean,
  ): void => {
    let code: WorkerFailure | undefined = ok ? undefined : 'function_threw';
    if (ok && payload !== undefined && !response) {
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
    const log = logs.get(slot);
    let printed: OutcomeMessage[6];
    if (log) {
      logs.delete(slot);
      running.delete(log);
      printed = log.close(end);
    }
    const message: OutcomeMessage = printed
      ? [slot, ok, payload, start, end - start, code, printed]
      : code
        ? [slot, ok, payload, start, end - start, code]
        : [slot, ok, payload, start, end - start];
    const body = response && ok ? (payload as WireResponse).body : null;
    post(message, body ? [body] : undefined);
    runningCount--;
    const next = waiting.shift();
    if (next) begin(next);
  };

  // No async function per task: a synchronous function's whole batch runs in one go, and only a
  // returned promise waits (with the idle watchdog in worker-handle.ts, sequential p50 -3 us, bench/NOTES.md).
  const begin = (task: TaskMessage): void => {
    const { slot } = task;
    runningCount++;
    const base = slot * TIMING_CELLS;
    const start = now();
    if (base < timings.length) timings[base] = start;
    const log = new TaskLog();
    logs.set(slot, log);
    running.add(log);
    if (task.request) {
      serveRequest(task, start);
      return;
    }
    let value: unknown;
    try {
      const call = fn;
      if (!call) throw new Error('the module has no default export that is a function');
      value = tracked ? tracked.run(log, () => call(...task.args)) : call(...task.args);
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

  // An HTTP call: the module's `fetch` gets a Request, its Response goes back as bytes.
  const serveRequest = (task: TaskMessage, start: number): void => {
    const { slot } = task;
    const log = logs.get(slot) as TaskLog;
    const respond = async (): Promise<WireResponse> => {
      if (!handler) throw new Error('the module has no fetch export');
      const call = handler;
      const request = fromWireRequest(task.request as NonNullable<TaskMessage['request']>);
      const response = await (tracked ? tracked.run(log, () => call(request)) : call(request));
      if (!(response instanceof Response)) {
        throw new Error(`fetch returned ${describeKind(response)}, not a Response`);
      }
      return toWireResponse(response);
    };
    respond().then(
      (wire) => finish(slot, true, wire, start, true),
      (error: unknown) => finish(slot, false, describeThrown(error), start, true),
    );
  };

  const api: WorkerApi = {
    async init(buffer, concurrency, port): Promise<InitReply> {
      let mod: Record<string, unknown>;
      try {
        mod = await load();
      } catch (error) {
        throw new Error(`the module failed to load: ${describeThrown(error)}`);
      }
      const exports = {
        default: typeof mod.default === 'function',
        fetch: typeof mod.fetch === 'function',
      };
      if (!exports.default && !exports.fetch) {
        throw new Error('the module has no default export that is a function (nor a fetch export)');
      }
      if (exports.default) fn = mod.default as AnyFunction;
      if (exports.fetch) handler = mod.fetch as AnyFunction;
      if (buffer) timings = new Float64Array(buffer);
      limit = concurrency;
      if (limit > 1) tracked = context;
      results = port;
      // The pool sends its batches and withdrawals on the same port, in order (protocol.ts).
      port.onmessage = (event: MessageEvent<PortMessage>) => {
        const message = event.data;
        if (Array.isArray(message)) api.run(message);
        else api.skip(message.skip);
      };
      const config = mod.config;
      return { config: config === undefined ? undefined : toPlain(config), exports };
    },
    run(batch) {
      for (const task of batch) {
        if (runningCount < limit && waiting.length === 0) begin(task);
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

/** Bun's syntax errors keep the place apart (`position`); the message alone has no line. */
const where = (error: Error): string => {
  const line = (error as { position?: { line?: unknown } }).position?.line;
  return typeof line === 'number' && !error.message.includes(`line ${line}`)
    ? ` (line ${line})`
    : '';
};
const describeKind = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;

const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/**
 * Deno's sandbox refusal tells to run the process again with a flag; a function gets the grant
 * from its own `config.permissions` instead (the server needs to hold it too: a worker asking
 * for more is refused at start, with the command that grants it).
 */
const DENO_FLAG_HINT = /^(Requires (\w+) access to (.*?)), run again with the --allow-\w+ flag$/;

const sandboxHint = (message: string): string => {
  const found = DENO_FLAG_HINT.exec(message);
  if (!found) return message;
  const [, refused, kind, what] = found;
  const example = what ? `[${what.startsWith('"') ? what : JSON.stringify(what)}]` : 'true';
  return `${refused}: a function is granted it by its config, e.g. export const config = { permissions: { ${kind}: ${example} } } (config.permissions.${kind}, docs/runtimes.md)`;
};

/** A message for anything thrown: an Error's own, or a description of a non-Error value. */
export const describeThrown = (error: unknown): string => {
  if (error instanceof Error) {
    // Deno colours the locations inside some messages (module load errors); callers get text.
    let message = error.message.replace(ANSI_COLOUR, '') + where(error);
    if (error.name === 'NotCapable') message = sandboxHint(message);
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
