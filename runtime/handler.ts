/**
 * HTTP calls to a function's `fetch` export: the request goes to a worker of the function's
 * pool like a task (same queue, scaling, timeout and counters) but no record is kept of it.
 * @module
 */

import type { Clock } from './clock.ts';
import { EbbflowError, queueFull } from './errors.ts';
import type { RuntimeEvents } from './events.ts';
import type { FunctionPool } from './pool.ts';
import { Task } from './task.ts';
import { fromWireResponse, toWireRequest } from './worker/http.ts';
import type { WireResponse } from './worker/protocol.ts';

export const callHandler = async (
  pool: FunctionPool,
  request: Request,
  events: RuntimeEvents,
  clock: Clock,
): Promise<Response> => {
  const name = pool.name;
  if (pool.status === 'unavailable') {
    throw new EbbflowError('handler_failed', `function "${name}" is unavailable: ${pool.error}`);
  }
  if (!pool.exports?.fetch) {
    throw new EbbflowError(
      'no_fetch_handler',
      `function "${name}" has no fetch export, so it does not answer HTTP requests`,
    );
  }
  if (pool.queueSize >= pool.config.maxQueue) throw queueFull(name, pool.config.maxQueue);
  const wire = await toWireRequest(request);
  const task = new Task(crypto.randomUUID(), name, [], pool.config.timeoutMs, clock.now(), wire);
  const settled = new Promise<Task>((resolve) => task.onSettled(resolve));
  pool.enqueue(task);
  await settled;
  if (task.logs && events.active) {
    const url = new URL(request.url);
    const label = `${request.method} ${url.pathname}`;
    events.logs(task.logs.map((line) => ({ function: name, request: label, ...line })));
  }
  if (task.status === 'completed') return fromWireResponse(task.result as WireResponse);
  if (task.errorCode === 'timed_out')
    throw new EbbflowError('handler_timed_out', `function "${name}": ${task.error}`);
  throw new EbbflowError('handler_failed', `function "${name}" failed: ${task.error}`);
};
