/**
 * The code that runs inside every worker: loads one function module, runs its tasks with at most
 * `concurrency` at once, times them, checks that results are JSON, keeps what each task prints,
 * and answers HTTP calls with the module's `fetch` export. It imports no pool code.
 * @module
 */
import { type Endpoint, expose } from 'comlink';
import { cutMessage, resultTooLarge, tooLarge } from './bounds.ts';
import { fromWireRequest, toWireResponse } from './http.ts';
import { jsonProblem } from './json-check.ts';
import { captureConsole, TaskLog, taskFinder } from './logs.ts';
import { clearTimer, dataOf, Float64, isArray, now, postOn, setTimer } from './primordials.ts';
import {
  type InitReply,
  type MemoryReport,
  type OutcomeMessage,
  type PortMessage,
  type ResultsMessage,
  type TaskContext,
  type TaskMessage,
  TIMING_CELLS,
  type WireResponse,
  type WorkerApi,
  type WorkerFailure,
  type WorkerLimits,
} from './protocol.ts';
import { describeThrown } from './thrown.ts';

type AnyFunction = (...args: unknown[]) => unknown;
type ModuleLoader = () => Promise<Record<string, unknown>>;

/** How often the worker compares its memory with its limit (where the host can measure it). */
export const MEMORY_SAMPLE_MS = 50;

/** What a host's worker entry may add. */
export interface WorkerCapabilities {
  /** An async context that follows a task through its awaits (see `TaskContext`). */
  context?: TaskContext;
  /**
   * The worker's JavaScript heap plus buffers, in bytes, and the limit they must stay under
   * (Node: V8 bounds only the heap, so the worker checks both every `MEMORY_SAMPLE_MS`).
   */
  memory?: { limitMb: number; used(): number };
  /**
   * Where the host cannot tell this worker's output apart (Deno and Bun print a worker's console
   * on the server's own stdout), the label put before each line printed outside a task: at load,
   * or after the task that started it ended. The Node host labels its workers' streams itself.
   */
  label?: () => string | undefined;
}

/** Serve the module that `load` resolves to on `endpoint`. */
export const serveWorker = (
  load: ModuleLoader,
  endpoint: Endpoint,
  { context, memory, label }: WorkerCapabilities = {},
): void => {
  let fn: AnyFunction | undefined;
  let handler: AnyFunction | undefined;
  let timings: Float64Array<ArrayBufferLike> = new Float64(0);
  let limit = 1;
  /** Unbounded until `init` says (a pool always does). */
  let maxResultBytes: number | undefined;
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
    label,
  );
  /** Slots withdrawn by their mark before the pool's `skip` for them arrived. */
  const withdrawnEarly = new Set<number>();

  const post = (message: ResultsMessage, transfer?: Transferable[]): void => {
    postOn(results as MessagePort, message, transfer);
  };

  // The pool marked the task withdrawn in its start cell: it never begins, and the pool is told.
  const withdrawn = (slot: number): boolean => {
    const base = slot * TIMING_CELLS;
    if (base >= timings.length || (timings[base] as number) >= 0) return false;
    withdrawnEarly.add(slot);
    post([slot, false, 'withdrawn', now(), 0, 'withdrawn']);
    return true;
  };

  /** Begin the next waiting task that was not withdrawn, if any. */
  const beginNext = (): void => {
    for (let next = waiting.shift(); next; next = waiting.shift()) {
      if (!withdrawn(next.slot)) {
        begin(next);
        return;
      }
    }
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
        } else if (tooLarge(payload, maxResultBytes)) {
          // Never sent: the server would hold it in the record.
          ok = false;
          code = 'result_too_large';
          payload = resultTooLarge(maxResultBytes as number);
        }
      } catch (error) {
        // A getter on the result threw while it was checked.
        ok = false;
        code = 'result_not_serializable';
        payload = describeThrown(error);
      }
    }
    if (!ok) payload = cutMessage(payload as string);
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
    try {
      post(message, body ? [body] : undefined);
    } catch (error) {
      // A value the JSON check passed that still cannot be cloned (a Proxy, a getter that throws).
      const why = `the result could not be sent: ${describeThrown(error)}`;
      post([slot, false, why, start, end - start, 'result_not_serializable', printed]);
    }
    runningCount--;
    beginNext();
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
    async init(buffer, concurrency, port, limits?: WorkerLimits): Promise<InitReply> {
      if (limits) maxResultBytes = limits.maxResultBytes;
      // Everything the worker reports with is in place before the module's code runs.
      if (buffer) timings = new Float64(buffer);
      limit = concurrency;
      if (limit > 1) tracked = context;
      results = port;
      // The pool sends its batches and withdrawals on the same port, in order (protocol.ts).
      port.onmessage = (event: MessageEvent) => {
        const message = dataOf(event) as PortMessage;
        if (isArray(message)) api.run(message);
        else api.skip(message.skip);
      };
      if (memory) watchMemory(memory, post);
      let mod: Record<string, unknown>;
      try {
        mod = await load();
      } catch (error) {
        throw new Error(cutMessage(`the module failed to load: ${describeThrown(error)}`));
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
      const config = mod.config;
      return { config: config === undefined ? undefined : toPlain(config), exports };
    },
    run(batch) {
      for (let i = 0; i < batch.length; i++) {
        const task = batch[i] as TaskMessage;
        if (runningCount < limit && waiting.length === 0) {
          if (!withdrawn(task.slot)) begin(task);
        } else waiting.push(task);
      }
    },
    skip(slot) {
      // Already answered when its mark was seen.
      if (withdrawnEarly.delete(slot)) return;
      let at = -1;
      for (let i = 0; i < waiting.length; i++)
        if ((waiting[i] as TaskMessage).slot === slot) at = i;
      if (at < 0) {
        // It began (or ended) before the word came: the pool stops this worker.
        post([slot, false, 'began', now(), 0, 'began']);
        return;
      }
      waiting.splice(at, 1);
      post([slot, false, 'withdrawn', now(), 0, 'withdrawn']);
    },
  };
  expose(api, endpoint);
};

/**
 * Compare heap plus buffers with the limit every `MEMORY_SAMPLE_MS` while the event loop turns,
 * and tell the pool once when they pass it (it stops this worker). A synchronous stretch of code
 * is measured when it yields; its timeout bounds how long that can take.
 */
const watchMemory = (
  memory: NonNullable<WorkerCapabilities['memory']>,
  post: (message: MemoryReport) => void,
): void => {
  const limitBytes = memory.limitMb * 1024 * 1024;
  const timer = setTimer(() => {
    const used = memory.used();
    if (used <= limitBytes) return;
    clearTimer(timer);
    post({ memoryBytes: used, limitMb: memory.limitMb });
  }, MEMORY_SAMPLE_MS);
  (timer as { unref?: () => void }).unref?.();
};

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { then?: unknown }).then === 'function';

const describeKind = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;

// The config crosses by structured clone; a function inside it would make init fail obscurely.
const toPlain = (value: unknown): unknown => {
  try {
    return structuredClone(value);
  } catch {
    return String(value);
  }
};
