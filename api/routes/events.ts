/**
 * Live events over Server-Sent Events: `GET /events` (task, scale, stats and log events, with
 * `?function=` and `?types=` filters) and `GET /tasks/:id` with `Accept: text/event-stream` (the
 * task's record now and at each change, ending after the terminal one).
 * @module
 */
import type { Context, Hono } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import * as v from 'valibot';
import { FUNCTION_NAME, type Runtime, type TaskRecord } from '../../runtime/index.ts';
import { ApiError } from '../errors.ts';
import {
  EVENT_TYPES,
  EventFanout,
  type EventType,
  frame,
  Reader,
  withoutResult,
} from '../event-stream.ts';
import { parse, taskId } from '../schemas.ts';

/** A comment this often keeps proxies and idle timeouts from closing a quiet stream. */
export const KEEP_ALIVE_MS = 15_000;

const TYPES_LIST = new RegExp(`^(${EVENT_TYPES.join('|')})(,(${EVENT_TYPES.join('|')}))*$`);

/** The query of `GET /events`. */
export const EventsQuery = v.object({
  function: v.optional(
    v.pipe(v.string(), v.regex(FUNCTION_NAME, 'function must be a function name')),
  ),
  types: v.optional(
    v.pipe(
      v.string(),
      v.regex(TYPES_LIST, `types must be a comma-separated list of ${EVENT_TYPES.join(', ')}`),
    ),
  ),
});

export const registerEventRoutes = (app: Hono, runtime: Runtime): EventFanout => {
  const fanout = new EventFanout(runtime);

  app.get('/events', (c) => {
    const query = parse(EventsQuery, c.req.query(), 'invalid_query', 'query');
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
  });

  // Before the JSON route of the same path: only a request asking for a stream stops here.
  app.get('/tasks/:id', async (c, next) => {
    if (!wantsStream(c)) return next();
    const id = taskId(c.req.param('id'));
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
  });

  return fanout;
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

const wantsStream = (c: Context): boolean =>
  (c.req.header('Accept') ?? '').includes('text/event-stream');

const isTerminal = (record: TaskRecord): boolean =>
  record.status !== 'queued' && record.status !== 'running';
