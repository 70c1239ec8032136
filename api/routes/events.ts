/**
 * Live events over Server-Sent Events: `GET /events` (task, scale, stats and log events, with
 * `?function=` and `?types=` filters), and one task's stream for `GET /tasks/:id` with
 * `Accept: text/event-stream` (the task's record now and at each change, ending after the
 * terminal one).
 * @module
 */
import type { Context } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import type { Runtime, TaskRecord } from '../../runtime/index.ts';
import { ApiError } from '../errors.ts';
import { EVENT_TYPES, type EventType, frame, Reader, withoutResult } from '../event-stream.ts';
import { TASK_EVENT } from '../examples.ts';
import { E400 } from '../responses.ts';
import { type Route, route } from '../route.ts';
import { EventsQuery } from '../schemas.ts';

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
      '200': { description: 'An event stream.', media: 'text/event-stream', example: TASK_EVENT },
      '400': E400,
    },
    handle: (c, { events: fanout }, input) => {
      const query = input.query(c);
      const types = new Set((query.types?.split(',') ?? EVENT_TYPES) as EventType[]);
      const reader = new Reader(types, query.function);
      return streamSSE(c, async (stream) => {
        fanout.add(reader);
        const keepAlive = setInterval(() => reader.push(': keep-alive\n\n'), KEEP_ALIVE_MS);
        stream.onAbort(() => fanout.remove(reader));
        try {
          await stream.write(': connected\n\n');
          await pump(stream, reader);
        } finally {
          clearInterval(keepAlive);
          fanout.remove(reader);
        }
      });
    },
  }),
];

/** One task's record now and at each change, as `task` events; 404 when there is no such task. */
export const taskStream = async (c: Context, runtime: Runtime, id: string): Promise<Response> => {
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
  const now = await runtime.result(id);
  if (!now) {
    unsubscribe();
    throw new ApiError(404, 'unknown_task', `no task with id "${id}" (unknown or expired)`);
  }
  send(now);
  return streamSSE(c, async (stream) => {
    const keepAlive = setInterval(() => reader.push(': keep-alive\n\n'), KEEP_ALIVE_MS);
    stream.onAbort(() => reader.close());
    try {
      await pump(stream, reader);
    } finally {
      clearInterval(keepAlive);
      unsubscribe();
    }
  });
};

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
