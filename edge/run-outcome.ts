/**
 * How one run of a function in its isolate ended, and the Worker's own check of it, as the pool
 * checks what a worker sent: an isolate runs the function's code, which may have changed the
 * checks made inside it.
 * @module
 */
import type { FailureCode, TaskLog } from '../runtime/types.ts';
import { boundLogs, cutMessage, resultTooLarge, tooLarge } from '../runtime/worker/bounds.ts';

/** How one run ended, as the Durable Object records it. */
export type RunOutcome =
  | { ok: true; result: unknown; executionTime: number; workerId: number; logs?: TaskLog[] }
  | {
      ok: false;
      code: FailureCode;
      error: string;
      workerId: number;
      executionTime?: number;
      logs?: TaskLog[];
    };

/** The failures an isolate reports itself, after which it serves on. */
export const ISOLATE_FAILURES: ReadonlySet<FailureCode> = new Set<FailureCode>([
  'function_threw',
  'result_not_serializable',
  'result_too_large',
]);

/**
 * The caller's own check of what an isolate answered, as the pool checks a worker's (an isolate
 * runs the function's code, which may have changed the checks there): the result's size, the
 * error's length, the printed lines' bounds.
 */
export const bounded = (outcome: RunOutcome, maxResultBytes: number | undefined): RunOutcome => {
  const logs = outcome.logs && boundLogs(outcome.logs);
  const kept = logs ? { logs } : {};
  if (!outcome.ok) {
    const { logs: _, ...rest } = outcome;
    return { ...rest, error: cutMessage(String(outcome.error)), ...kept };
  }
  if (tooLarge(outcome.result, maxResultBytes)) {
    return {
      ok: false,
      code: 'result_too_large',
      error: resultTooLarge(maxResultBytes as number),
      workerId: outcome.workerId,
      executionTime: outcome.executionTime,
      ...kept,
    };
  }
  if (logs === outcome.logs) return outcome;
  const { logs: _, ...rest } = outcome;
  return { ...rest, ...kept };
};
