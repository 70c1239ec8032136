/**
 * The tasks: submitting one (`/tasks`, 202) or running one and waiting for it (`/invoke`),
 * reading a record (with a long-poll `wait`, or as an event stream), cancelling, the listing
 * (newest first, filtered and paged) and replay of a failed or cancelled task as a new one.
 * @module
 */
import type { Context } from 'hono';
import type { StatusCode } from 'hono/utils/http-status';
import * as v from 'valibot';
import { isEbbflowError, isReplay, type Runtime, type TaskRecord } from '../../runtime/index.ts';
import { ApiError } from '../errors.ts';
import {
  CANCELLED_TASK,
  COMPLETED_TASK,
  FAILED_TASK,
  QUEUED_TASK,
  RETRIED_TASK,
  TIMED_OUT_TASK,
} from '../examples.ts';
import { probedLongPoll } from '../probed-poll.ts';
import { E400, E404, E503_STREAMS, err, json, TaskRecordSchema } from '../responses.ts';
import { type HeaderParam, type Route, route } from '../route.ts';
import { FunctionNameParam, ListQuery, ResultQuery, TaskBody, TaskIdParam } from '../schemas.ts';
import type { StreamSlots } from '../stream-slots.ts';
import { taskStream, wantsStream } from './events.ts';

const taskBody = (what: string, example: Record<string, unknown>) => ({
  schema: TaskBody,
  media: 'application/json',
  description: `${what} An empty body means \`{}\`.`,
  example,
});

/** The contract's v3 idempotent submission: a key that makes a repeat create nothing. */
const IDEMPOTENCY: Record<string, HeaderParam> = {
  'Idempotency-Key': {
    pattern: /^[\x20-\x7e]{1,255}$/,
    rule: 'must be 1 to 255 printable ASCII characters',
    description:
      "A repeat with the same key, function and body within EBBFLOW_IDEMPOTENCY_TTL_MS (a day by default) creates nothing: it answers the first request's task, with `Idempotent-Replayed: true`.",
  },
};
const REPLAYED = { 'Idempotent-Replayed': 'true' };

export const taskRoutes: readonly Route[] = [
  route({
    method: 'post',
    path: '/functions/:name/tasks',
    summary: 'Submit a task',
    tag: 'tasks',
    params: { name: FunctionNameParam },
    headers: IDEMPOTENCY,
    body: taskBody('The arguments, an optional id, timeout and retry policy.', {
      args: [25],
      retry: { attempts: 3, backoffMs: 500 },
    }),
    responses: {
      '200': json(
        "A repeat of an `Idempotency-Key`: the first request's task, nothing created (`Idempotent-Replayed: true`).",
        TaskRecordSchema,
        QUEUED_TASK,
      ),
      '202': json('Queued; `Location: /tasks/<id>`.', TaskRecordSchema, QUEUED_TASK),
      '400': E400,
      '404': E404,
      '409': err('The id is already used.', 'duplicate_id'),
      '410': err(
        'The `Idempotency-Key` names a task whose record expired (`idempotency_task_expired`).',
        'idempotency_task_expired',
      ),
      '413': err('The body is too large.', 'payload_too_large'),
      '422': err(
        'The `Idempotency-Key` was used with another function or body (`idempotency_key_reused`).',
        'idempotency_key_reused',
      ),
      '429': err('The queue is full (see Retry-After).', 'queue_full'),
      '503': err('The server is draining, or the shared task store is unavailable.', 'draining'),
    },
    handle: async (c, { runtime }, input) => {
      const name = knownFunction(runtime, input.param(c, 'name'));
      const idempotencyKey = input.header(c, 'Idempotency-Key');
      const { args, id, timeoutMs, retry } = await input.body(c);
      const record = await submit(runtime, name, () =>
        runtime.submit(name, args, { id, timeoutMs, retry, idempotencyKey }),
      );
      // Ids are made of URL-safe characters only (the id rule), so they go in as they are.
      const location = { Location: `/tasks/${record.id}` };
      if (isReplay(record)) return c.json(record, 200, { ...location, ...REPLAYED });
      return c.json(record, 202, location);
    },
  }),
  route({
    method: 'post',
    path: '/functions/:name/invoke',
    summary: 'Run a task and wait for it',
    tag: 'tasks',
    params: { name: FunctionNameParam },
    headers: IDEMPOTENCY,
    body: taskBody('The arguments, an optional timeout and retry policy.', { args: [20] }),
    responses: {
      '200': json(
        'Completed (a repeat of an `Idempotency-Key` answers as the first request did, with `Idempotent-Replayed: true`).',
        TaskRecordSchema,
        COMPLETED_TASK,
      ),
      '400': E400,
      '404': E404,
      '410': err(
        'The `Idempotency-Key` names a task whose record expired.',
        'idempotency_task_expired',
      ),
      '422': err(
        'The `Idempotency-Key` was used with another function or body.',
        'idempotency_key_reused',
      ),
      '429': err('The queue is full.', 'queue_full'),
      '500': json('Failed.', TaskRecordSchema, FAILED_TASK),
      '503': err(
        'The server is draining, or the shared task store is unavailable or lost the task.',
        'draining',
      ),
      '504': json('Timed out.', TaskRecordSchema, TIMED_OUT_TASK),
    },
    handle: async (c, { runtime }, input) => {
      const name = knownFunction(runtime, input.param(c, 'name'));
      const idempotencyKey = input.header(c, 'Idempotency-Key');
      const { args, id, timeoutMs, retry } = await input.body(c);
      const record = await submit(runtime, name, () =>
        runtime.call(name, args, { id, timeoutMs, retry, idempotencyKey }),
      );
      return c.json(record, invokeStatus(record), isReplay(record) ? REPLAYED : {});
    },
  }),
  route({
    method: 'get',
    path: '/tasks/:id',
    summary: 'A task',
    description:
      'With `wait`, answers as soon as the task is terminal or the wait ends. With `Accept: text/event-stream`, streams `task` events: the record now and at each change, ending after the terminal one (whole record). Both hold one of the EBBFLOW_MAX_STREAMS slots while open. HEAD answers at once, without waiting or streaming.',
    tag: 'tasks',
    params: { id: TaskIdParam },
    query: ResultQuery,
    queryExample: { wait: '5000' },
    responses: {
      '200': {
        ...json('The record (or an event stream).', TaskRecordSchema, COMPLETED_TASK),
        media: 'text/event-stream',
      },
      '400': E400,
      '404': E404,
      '503': E503_STREAMS,
    },
    handle: async (c, { runtime, streams }, input) => {
      const id = input.param(c, 'id');
      if (wantsStream(c)) return taskStream(c, runtime, streams, id);
      // Most reads carry no query: the schema runs only when there is a wait to read.
      const wait = c.req.query('wait') === undefined ? undefined : input.query(c).wait;
      // HEAD never waits: it answers the headers of the record as it is now.
      const polls = wait !== undefined && wait > 0 && c.req.method !== 'HEAD';
      const record = !polls
        ? await runtime.result(id)
        : streams.probeMs === undefined
          ? await longPoll(c, runtime, streams, id, wait)
          : await probedLongPoll(c, runtime, streams, id, wait, streams.probeMs);
      if (record instanceof Response) return record;
      if (record === GONE) return c.body(null, CLIENT_GONE);
      if (!record) throw unknownTask(id);
      return c.json(record);
    },
  }),
  route({
    method: 'delete',
    path: '/tasks/:id',
    summary: 'Cancel a task',
    tag: 'tasks',
    params: { id: TaskIdParam },
    responses: {
      '200': json('Cancelled.', TaskRecordSchema, CANCELLED_TASK),
      '404': E404,
      '409': err('Already ended.', 'already_terminal'),
    },
    handle: async (c, { runtime }, input) => c.json(await runtime.cancel(input.param(c, 'id'))),
  }),
  route({
    method: 'get',
    path: '/tasks',
    summary: 'List tasks, newest first',
    description:
      'Failed tasks whose attempts are spent are the dead letters: `?status=failed`. Pass `next` as `before` for the next page.',
    tag: 'tasks',
    query: ListQuery,
    queryExample: { function: 'fib', status: 'failed', limit: '20' },
    responses: {
      '200': json(
        'A page of records.',
        v.object({ tasks: v.array(TaskRecordSchema), next: v.optional(v.string()) }),
        { tasks: [FAILED_TASK], next: FAILED_TASK.id },
      ),
      '400': E400,
    },
    handle: async (c, { runtime }, input) => c.json(await runtime.list(input.query(c))),
  }),
  route({
    method: 'post',
    path: '/tasks/:id/retry',
    summary: 'Run a failed or cancelled task again',
    description: 'A new task with the same function and args; its `retryOf` names the old one.',
    tag: 'tasks',
    params: { id: TaskIdParam },
    responses: {
      '202': json('The new task, queued.', TaskRecordSchema, RETRIED_TASK),
      '404': E404,
      '409': err('The task is not failed or cancelled (`not_retryable`).', 'not_retryable'),
      '429': err('The queue is full.', 'queue_full'),
      '503': err('The server is draining.', 'draining'),
    },
    handle: async (c, { runtime }, input) => {
      const record = await runtime.retry(input.param(c, 'id'));
      return c.json(record, 202, { Location: `/tasks/${record.id}` });
    },
  }),
];

const GONE = Symbol('the client went away');
/** What a long-poll answers a client that went away (nginx's "client closed request"). */
const CLIENT_GONE = 499 as StatusCode;

/**
 * Wait up to `ms` for the task to end, holding a stream slot; the slot comes back, and the wait
 * is left, as soon as the client goes away.
 */
const longPoll = async (
  c: Context,
  runtime: Runtime,
  streams: StreamSlots,
  id: string,
  ms: number,
): Promise<TaskRecord | undefined | typeof GONE> => {
  const release = streams.take();
  const signal = c.req.raw.signal;
  let stop: (() => void) | undefined;
  const gone = new Promise<typeof GONE>((resolve) => {
    const leave = () => resolve(GONE);
    if (signal.aborted) return leave();
    signal.addEventListener('abort', leave, { once: true });
    stop = () => signal.removeEventListener('abort', leave);
  });
  try {
    return await Promise.race([runtime.wait(id, ms), gone]);
  } finally {
    stop?.();
    release();
  }
};

/** A function that takes tasks now: 503 while draining, 404 when there is none of that name. */
const knownFunction = (runtime: Runtime, name: string): string => {
  if (runtime.draining)
    throw new ApiError(503, 'draining', 'the server is shutting down and takes no new tasks');
  if (!runtime.getFunction(name)) {
    throw new ApiError(404, 'unknown_function', `no function named "${name}"`);
  }
  return name;
};

const unknownTask = (id: string) =>
  new ApiError(404, 'unknown_task', `no task with id "${id}" (unknown or expired)`);

/** Runs a submission; a full queue becomes 429 with a Retry-After from the queue's pace. */
const submit = async <T>(runtime: Runtime, name: string, run: () => Promise<T>): Promise<T> => {
  try {
    return await run();
  } catch (error) {
    if (isEbbflowError(error) && error.code === 'queue_full') {
      throw new ApiError(429, 'queue_full', error.message, {
        headers: { 'Retry-After': String(retryAfter(runtime, name)) },
      });
    }
    throw error;
  }
};

/** Seconds until the queue has likely moved: its work spread over the workers, 1 to 60. */
const retryAfter = (runtime: Runtime, name: string): number => {
  const info = runtime.getFunction(name);
  const avg = runtime.stats().functions[name]?.avgTaskTime ?? 0;
  if (!info || avg <= 0) return 1;
  const lanes = Math.max(1, info.activeWorkers * info.concurrency);
  return Math.min(60, Math.max(1, Math.ceil((info.queueSize * avg) / lanes / 1000)));
};

const invokeStatus = (record: TaskRecord): 200 | 409 | 500 | 504 => {
  if (record.status === 'completed') return 200;
  if (record.status === 'cancelled') return 409;
  return record.errorCode === 'timed_out' ? 504 : 500;
};
