/**
 * A submission checked before the backend sees it: arguments that are JSON, an id by the id
 * rule, a timeout a timer can hold, a retry policy in range; each refusal an `invalid_argument`
 * that says what is wrong.
 * @module
 */

import { EbbflowError } from '../errors.ts';
import { isTaskId } from '../names.ts';
import { MAX_TIMER_MS } from '../time/timers.ts';
import type { NewTask, ResolvedFunctionConfig, SubmitOptions } from '../types.ts';
import { jsonProblem } from '../worker/json-check.ts';
import { fingerprintOf, invalidIdempotencyKey, isIdempotencyKey } from './idempotency.ts';
import { retryProblem, toRetryPolicy } from './retry.ts';

const invalid = (message: string) => new EbbflowError('invalid_argument', message);

/** The checks every host makes on a task's arguments, id and timeout before accepting it. */
export const checkSubmission = (
  args: unknown[],
  { id, timeoutMs, idempotencyKey }: SubmitOptions,
): void => {
  if (!Array.isArray(args)) throw invalid('args must be an array');
  const problem = args.length === 0 ? undefined : jsonProblem(args, 'args');
  if (problem) throw invalid(problem);
  if (id !== undefined && (typeof id !== 'string' || !isTaskId(id))) {
    throw invalid('id must be 1 to 128 characters of A-Z a-z 0-9 . _ : - and not only dots');
  }
  if (
    timeoutMs !== undefined &&
    (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMER_MS)
  ) {
    throw invalid(`timeoutMs must be an integer from 1 to ${MAX_TIMER_MS}`);
  }
  if (idempotencyKey !== undefined && !isIdempotencyKey(idempotencyKey)) {
    throw invalidIdempotencyKey();
  }
};

export const newTask = (
  name: string,
  args: unknown[],
  { id, timeoutMs, retry, idempotencyKey }: SubmitOptions,
  config: ResolvedFunctionConfig,
): NewTask => {
  checkSubmission(args, { id, timeoutMs, idempotencyKey });
  if (retry !== undefined) {
    const bad = retryProblem(retry, 'retry');
    if (bad) throw invalid(bad);
  }
  const task: NewTask = {
    function: name,
    args,
    timeoutMs: timeoutMs ?? config.timeoutMs,
    retry: retry === undefined ? config.retry : toRetryPolicy(retry),
    maxQueue: config.maxQueue,
  };
  if (id !== undefined) task.id = id;
  return task;
};

/** `task` with the idempotency its options ask for (a fingerprint of the request), if any. */
export const withIdempotency = async (
  task: NewTask,
  options: SubmitOptions,
  ttlMs: number,
): Promise<NewTask> => {
  const key = options.idempotencyKey;
  if (key === undefined) return task;
  const fingerprint = await fingerprintOf(task.function, task.args, options);
  return { ...task, idempotency: { key, fingerprint, ttlMs } };
};
