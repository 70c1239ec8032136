/**
 * `ebbflow/client`: a typed client of the ebbflow HTTP API that needs nothing but `fetch`, so it
 * runs unchanged in browsers, Deno, Bun, Node and Workers. Every call takes an `AbortSignal`;
 * every failure is an `EbbflowClientError` with the HTTP `status` and the server's `code`.
 *
 * Hono's typed client (`hono/client`) was weighed: it infers from an app type built by chaining
 * routes, while ebbflow's app is assembled by feature and its bodies depend on the functions
 * deployed, so the typing that matters here (function name → arguments → result) comes from
 * `ebbflow types` instead, and the plumbing is this small file.
 *
 * @example
 * import { createClient } from 'ebbflow/client';
 * import type { Functions } from './ebbflow-functions.js'; // written by `ebbflow types`
 * const client = createClient<Functions>({ baseUrl: 'http://127.0.0.1:8787', token });
 * const n = await client.invoke('fib', [25]); // number; client.invoke('fib', ['x']) does not compile
 * for await (const event of client.events({ types: ['task'] })) console.log(event.data.status);
 * @module
 */
import { EbbflowClientError, errorFrom } from './errors.ts';
import { sseMessages } from './sse.ts';
import type {
  AnyFunctions,
  FunctionInfo,
  FunctionMap,
  PoolStats,
  ServerEvent,
  TaskPage,
  TaskRecord,
  TaskStatus,
} from './types.ts';

export { EbbflowClientError } from './errors.ts';
export type * from './types.ts';

export interface ClientOptions {
  /** The server, e.g. `http://127.0.0.1:8787`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` (never in a URL). */
  token?: string;
  /**
   * How requests go out: the global `fetch` by default. Anything of its shape works, e.g. a
   * Workers service binding (`env.EBBFLOW.fetch`) or an app in the same process (`app.request`).
   */
  fetch?: (input: string, init: RequestInit) => Response | Promise<Response>;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface SubmitOptions extends CallOptions {
  /** Your own task id (1-128 of A-Z a-z 0-9 . _ : -). */
  id?: string;
  timeoutMs?: number;
  retry?: { attempts: number; backoffMs: number };
  /**
   * Sent as the `Idempotency-Key` header (1-255 printable ASCII): a repeat of the same call with
   * the same key within a day (the server's `EBBFLOW_IDEMPOTENCY_TTL_MS`) creates nothing and
   * answers the first call's task, so a call can be sent again safely after a network failure.
   * The same key with another function or arguments fails with `idempotency_key_reused` (422).
   */
  idempotencyKey?: string;
}

export interface ListQuery extends CallOptions {
  function?: string;
  status?: TaskStatus;
  limit?: number;
  before?: string;
}

export interface EventsOptions extends CallOptions {
  function?: string;
  types?: ServerEvent['type'][];
}

type Name<F> = keyof F & string;
type Args<F extends FunctionMap, N extends keyof F> = F[N]['args'];
type Result<F extends FunctionMap, N extends keyof F> = F[N]['result'];

export interface EbbflowClient<F extends FunctionMap = AnyFunctions> {
  /** Run a function and resolve with its result; a failed or timed-out task throws (with `task`). */
  invoke<N extends Name<F>>(
    name: N,
    args: Args<F, N>,
    options?: Omit<SubmitOptions, 'id'>,
  ): Promise<Result<F, N>>;
  /** Queue a task (202); read it with `result`. */
  submit<N extends Name<F>>(
    name: N,
    args: Args<F, N>,
    options?: SubmitOptions,
  ): Promise<TaskRecord<Result<F, N>>>;
  /** A task's record; with `wait` (ms, at most 30000) answers once it ends or the wait is over. */
  result<R = unknown>(
    id: string,
    options?: CallOptions & { wait?: number },
  ): Promise<TaskRecord<R>>;
  cancel(id: string, options?: CallOptions): Promise<TaskRecord>;
  /** The newest tasks first, filtered. */
  list(query?: ListQuery): Promise<TaskPage>;
  /** Run a failed or cancelled task again as a new task. */
  retry(id: string, options?: CallOptions): Promise<TaskRecord>;
  functions(options?: CallOptions): Promise<FunctionInfo[]>;
  stats(options?: CallOptions): Promise<PoolStats>;
  /** Live events until the signal aborts or the loop stops. */
  events(options?: EventsOptions): AsyncGenerator<ServerEvent>;
  /** One task's record now and at each change, ending with the terminal record (result included). */
  watch<R = unknown>(id: string, options?: CallOptions): AsyncGenerator<TaskRecord<R>>;
  /** Deploy (or replace) a function from its source; needs the admin token. */
  deploy(
    name: string,
    source: string,
    options?: CallOptions & { language?: 'ts' | 'js' },
  ): Promise<FunctionInfo>;
  /** Delete a deployed function; needs the admin token. */
  remove(name: string, options?: CallOptions): Promise<FunctionInfo>;
  /** Call a function's `fetch` export at `path` (e.g. `/notes?x=1`); the Response as it is. */
  fetch(name: string, path?: string, init?: RequestInit): Promise<Response>;
}

/** A client for one server. */
export const createClient = <F extends FunctionMap = AnyFunctions>(
  options: ClientOptions,
): EbbflowClient<F> => {
  const base = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const enc = encodeURIComponent;

  const send = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (options.token !== undefined) headers.set('Authorization', `Bearer ${options.token}`);
    try {
      return await doFetch(`${base}${path}`, { ...init, headers });
    } catch (error) {
      const aborted = init.signal?.aborted === true;
      throw new EbbflowClientError(
        0,
        aborted ? 'aborted' : 'network_error',
        aborted ? 'the call was aborted' : `no answer from ${base}: ${String(error)}`,
        { cause: error },
      );
    }
  };

  const json = async <T>(path: string, init: RequestInit = {}, accept: number[] = []) => {
    const response = await send(path, init);
    if (!response.ok && !accept.includes(response.status)) throw await errorFrom(response);
    return (await response.json()) as T;
  };

  const post = (body: unknown, signal?: AbortSignal, idempotencyKey?: string): RequestInit => ({
    method: 'POST',
    headers:
      idempotencyKey === undefined
        ? { 'Content-Type': 'application/json' }
        : { 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey },
    body: JSON.stringify(body),
    signal,
  });

  const taskBody = (args: unknown[], o: SubmitOptions = {}) => {
    const body: Record<string, unknown> = { args };
    if (o.id !== undefined) body.id = o.id;
    if (o.timeoutMs !== undefined) body.timeoutMs = o.timeoutMs;
    if (o.retry !== undefined) body.retry = o.retry;
    return body;
  };

  const query = (params: Record<string, string | number | undefined>) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined) search.set(key, String(value));
    }
    const text = search.toString();
    return text ? `?${text}` : '';
  };

  async function* stream(path: string, signal?: AbortSignal): AsyncGenerator<ServerEvent> {
    const response = await send(path, { headers: { Accept: 'text/event-stream' }, signal });
    if (!response.ok) throw await errorFrom(response);
    if (!response.body) return;
    try {
      for await (const message of sseMessages(response.body, signal)) {
        yield { type: message.event, data: JSON.parse(message.data) } as ServerEvent;
      }
    } catch (error) {
      if (signal?.aborted) return;
      throw new EbbflowClientError(0, 'network_error', `the event stream broke: ${String(error)}`, {
        cause: error,
      });
    }
  }

  return {
    async invoke(name, args, o = {}) {
      const record = await json<TaskRecord>(
        `/functions/${enc(name)}/invoke`,
        post(taskBody(args as unknown[], o), o.signal, o.idempotencyKey),
        [500, 504],
      );
      if (record.status === 'completed') return record.result as never;
      throw new EbbflowClientError(
        record.errorCode === 'timed_out' || record.timedOut ? 504 : 500,
        record.errorCode ?? 'task_failed',
        record.error ?? `the task ended ${record.status}`,
        { task: record },
      );
    },
    submit: (name, args, o = {}) =>
      json(
        `/functions/${enc(name)}/tasks`,
        post(taskBody(args as unknown[], o), o.signal, o.idempotencyKey),
      ),
    result: (id, o = {}) =>
      json(`/tasks/${enc(id)}${query({ wait: o.wait })}`, { signal: o.signal }),
    cancel: (id, o = {}) => json(`/tasks/${enc(id)}`, { method: 'DELETE', signal: o.signal }),
    list: (q = {}) =>
      json(
        `/tasks${query({ function: q.function, status: q.status, limit: q.limit, before: q.before })}`,
        { signal: q.signal },
      ),
    retry: (id, o = {}) => json(`/tasks/${enc(id)}/retry`, { method: 'POST', signal: o.signal }),
    functions: async (o = {}) =>
      (await json<{ functions: FunctionInfo[] }>('/functions', { signal: o.signal })).functions,
    stats: (o = {}) => json('/stats', { signal: o.signal }),
    events: (o = {}) =>
      stream(`/events${query({ function: o.function, types: o.types?.join(',') })}`, o.signal),
    async *watch(id, o = {}) {
      for await (const event of stream(`/tasks/${enc(id)}`, o.signal)) {
        if (event.type === 'task') yield event.data as TaskRecord<never>;
      }
    },
    deploy: (name, source, o = {}) =>
      json(`/functions/${enc(name)}`, {
        method: 'PUT',
        headers: {
          'Content-Type': o.language === 'js' ? 'application/javascript' : 'application/typescript',
        },
        body: source,
        signal: o.signal,
      }),
    remove: (name, o = {}) =>
      json(`/functions/${enc(name)}`, { method: 'DELETE', signal: o.signal }),
    fetch: (name, path = '/', init = {}) =>
      send(`/fn/${enc(name)}${path.startsWith('/') ? path : `/${path}`}`, init),
  };
};
