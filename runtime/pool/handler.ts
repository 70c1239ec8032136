/**
 * HTTP calls to a function's `fetch` export: the request runs once through the function's pool
 * as an ephemeral run (same workers, scaling, timeout and counters as tasks, no record), the
 * worker answers with the response as bytes.
 * @module
 */

import { EbbflowError, queueFull } from '../errors.ts';
import type { RuntimeEvents } from '../events.ts';
import type { HandlerRequest } from '../types.ts';
import { fromWireResponse, toWireRequest } from '../worker/http.ts';
import type { WireResponse } from '../worker/protocol.ts';
import type { FunctionPool } from './pool.ts';

export const callHandler = async (
  pool: FunctionPool,
  request: Request | HandlerRequest,
  events: RuntimeEvents,
): Promise<Response> => {
  const name = pool.name;
  if (pool.status === 'unavailable') {
    throw new EbbflowError(
      'function_unavailable',
      `function "${name}" is unavailable: ${pool.error}`,
    );
  }
  if (!pool.exports?.fetch) {
    throw new EbbflowError(
      'no_fetch_handler',
      `function "${name}" has no fetch export, so it does not answer HTTP requests`,
    );
  }
  if (pool.queueSize >= pool.config.maxQueue) throw queueFull(name, pool.config.maxQueue);
  const ending = await pool.runEphemeral([], undefined, await toWireRequest(request));
  if (ending.logs && events.active) {
    const label = `${request.method} ${new URL(request.url).pathname}`;
    events.logs(ending.logs.map((line) => ({ function: name, request: label, ...line })));
  }
  if (ending.status === 'completed') return fromWireResponse(ending.result as WireResponse);
  if (ending.errorCode === 'timed_out') {
    throw new EbbflowError('handler_timed_out', `function "${name}": ${ending.error}`);
  }
  throw new EbbflowError('handler_failed', `function "${name}" failed: ${ending.error}`);
};
