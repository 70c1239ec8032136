/**
 * A long-poll for a host that learns a client has gone only when a write to it fails (local
 * workerd: a request's signal never fires before its response has begun). The wait starts as
 * everywhere; a task that ends within one probe period answers as usual (404 included). Past it,
 * the answer begins: 200 with a JSON body that is a space every probe period (JSON allows
 * leading whitespace) and then the record. A write that fails, or a client that cancels the
 * body, gives the stream slot back at once.
 * @module
 */
import type { Context } from 'hono';
import type { Runtime, TaskRecord } from '../runtime/index.ts';
import type { StreamSlots } from './stream-slots.ts';

const SPACE = new Uint8Array([0x20]);

/**
 * Wait up to `ms` for task `id` to end, holding a stream slot: its record (or undefined: no such
 * task) when the wait ended within `probeMs`, else the answer already begun as a stream.
 */
export const probedLongPoll = async (
  c: Context,
  runtime: Runtime,
  streams: StreamSlots,
  id: string,
  ms: number,
  probeMs: number,
): Promise<TaskRecord | undefined | Response> => {
  const release = streams.take();
  const waited = runtime.wait(id, ms);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const probe = new Promise<'probe'>((resolve) => {
    timer = setTimeout(() => resolve('probe'), probeMs);
  });
  let first: TaskRecord | undefined | 'probe';
  try {
    first = await Promise.race([waited, probe]);
  } catch (error) {
    release();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  if (first !== 'probe') {
    release();
    return first;
  }
  let done = false;
  let ticker: ReturnType<typeof setInterval> | undefined;
  const finish = () => {
    if (done) return;
    done = true;
    clearInterval(ticker);
    release();
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      ticker = setInterval(() => {
        try {
          controller.enqueue(SPACE);
        } catch {
          finish();
        }
      }, probeMs);
      waited.then(
        (record) => {
          if (done) return;
          // Unknown by now (it expired while waited for): the 200 is sent, so the body breaks.
          if (record) {
            controller.enqueue(new TextEncoder().encode(JSON.stringify(record)));
            controller.close();
          } else controller.error(new Error(`task "${id}" is gone`));
          finish();
        },
        (error: unknown) => {
          if (done) return;
          controller.error(error);
          finish();
        },
      );
    },
    cancel: finish,
  });
  // The request's signal may fire too, where the host tells it once the answer has begun.
  c.req.raw.signal.addEventListener('abort', finish, { once: true });
  return c.body(body, 200, { 'Content-Type': 'application/json' });
};
