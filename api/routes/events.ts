/**
 * Live events over Server-Sent Events: `GET /events` (task, scale, stats and log events, with
 * `?function=` and `?types=` filters), and one task's stream for `GET /tasks/:id` with
 * `Accept: text/event-stream` (the task's record now and at each change, ending after the
 * terminal one). Each open stream holds one of the server's stream slots until it ends or its
 * client goes; `HEAD` answers the headers only and holds nothing.
 * @module
 */
import type { Context } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import type { Runtime, TaskRecord } from '../../runtime/index.ts';
import { ApiError } from '../errors.ts';
import { EVENT_TYPES, type EventType, frame, Reader, withoutResult } from '../event-stream.ts';
import { TASK_EVENT } from '../examples.ts';
import { E400, E503_STREAMS } from '../responses.ts';
import { type Route, route } from '../route.ts';
import { EventsQuery } from '../schemas.ts';
import type { StreamSlots } from '../stream-slots.ts';

/** A comment this often keeps proxies and idle timeouts from closing a quiet stream. */
export const KEEP_ALIVE_MS = 15_000;

export const eventRoutes: readonly Route[] = [
  route({
    method: 'get',
    path: '/events',
    summary: 'Live events (Server-Sent Events)',
    description:
      '`task` (a record without result and logs, at every change), `scale` (a scaling decision), `stats` (PoolStats, once a second), `log` (`{taskId, function, at, level, message}`). A comment every 15 s. A slow reader loses its oldest events.',
    tag: 'events',
    query: EventsQuery,
    queryExample: { function: 'fib', types: 'task,scale' },
    responses: {
      '200': {
        description: 'An event stream (HEAD: its headers only).',
        media: 'text/event-stream',
        example: TASK_EVENT,
      },
      '400': E400,
      '503': E503_STREAMS,
    },
    handle: (c, { events: fanout, streams }, input) => {
      const query = input.query(c);
      if (c.req.method === 'HEAD') return streamHeaders(c);
      const types = new Set((query.types?.split(',') ?? EVENT_TYPES) as EventType[]);
      const release = streams.take();
      const reader = new Reader(types, query.function);
      return streamSSE(c, async (stream) => {
        fanout.add(reader);
        const keepAlive = setInterval(
          () => reader.push(': keep-alive\n\n'),
          streams.probeMs ?? KEEP_ALIVE_MS,
        );
        stream.onAbort(() => fanout.remove(reader));
        abortWhenGone(c, stream);
        try {
          await stream.write(': connected\n\n');
          await pump(stream, reader);
        } finally {
          clearInterval(keepAlive);
          fanout.remove(reader);
          release();
        }
      });
    },
  }),
];

/** One task's record now and at each change, as `task` events; 404 when there is no such task. */
export const taskStream = async (
  c: Context,
  runtime: Runtime,
  streams: StreamSlots,
  id: string,
): Promise<Response> => {
  if (c.req.method === 'HEAD') {
    if (!(await runtime.result(id))) throw unknownTask(id);
    return streamHeaders(c);
  }
  const release = streams.take();
  try {
    return await openTaskStream(c, runtime, id, release, streams.probeMs ?? KEEP_ALIVE_MS);
  } catch (error) {
    release();
    throw error;
  }
};

const openTaskStream = async (
  c: Context,
  runtime: Runtime,
  id: string,
  release: () => void,
  keepAliveMs: number,
): Promise<Response> => {
  const reader = new Reader(new Set(['task']), undefined);
  let terminal = false;
  const send = (record: TaskRecord) => {
    if (terminal) return;
    terminal = isTerminal(record);
    reader.push(frame('task', terminal ? record : withoutResult(record)));
    if (terminal) reader.end();
  };
  // Subscribed before the first read, so no change can fall between the two.
  const unsubscribe = runtime.subscribe(
    (event) => {
      if (event.type === 'task' && event.data.id === id) send(event.data);
    },
    () => reader.end(),
  );
  let now: TaskRecord | undefined;
  try {
    now = await runtime.result(id);
  } finally {
    if (!now) unsubscribe();
  }
  if (!now) throw unknownTask(id);
  send(now);
  return streamSSE(c, async (stream) => {
    const keepAlive = setInterval(() => reader.push(': keep-alive\n\n'), keepAliveMs);
    stream.onAbort(() => reader.close());
    abortWhenGone(c, stream);
    try {
      await pump(stream, reader);
    } finally {
      clearInterval(keepAlive);
      unsubscribe();
      release();
    }
  });
};

/** A stream route's answer to HEAD: the headers a GET would have, no body, nothing held open. */
const streamHeaders = (c: Context): Response =>
  c.body(null, 200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });

/**
 * End the stream when its client goes, as told by the request's signal too: a body cancel
 * alone may come only at the next write, up to a keep-alive later.
 */
const abortWhenGone = (c: Context, stream: SSEStreamingApi): void => {
  const signal = c.req.raw.signal;
  const abort = () => {
    if (!stream.closed) stream.abort();
  };
  if (signal.aborted) abort();
  else signal.addEventListener('abort', abort, { once: true });
};

const unknownTask = (id: string) =>
  new ApiError(404, 'unknown_task', `no task with id "${id}" (unknown or expired)`);

/** Write the reader's frames as the client takes them; say so when some were dropped. */
const pump = async (stream: SSEStreamingApi, reader: Reader): Promise<void> => {
  let told = 0;
  for (let text = await reader.next(); text !== undefined; text = await reader.next()) {
    if (stream.aborted) return;
    if (reader.dropped > told) {
      await stream.write(`: dropped ${reader.dropped - told} events (reader too slow)\n\n`);
      told = reader.dropped;
    }
    await stream.write(text);
  }
};

/** Whether the client asked for an event stream. */
export const wantsStream = (c: Context): boolean =>
  (c.req.header('Accept') ?? '').includes('text/event-stream');

const isTerminal = (record: TaskRecord): boolean =>
  record.status !== 'queued' && record.status !== 'running';
