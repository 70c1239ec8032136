/**
 * The valibot schemas of what clients send: task bodies, the queries of `/tasks/:id`, `/tasks`
 * and `/events`, and the rules of path parameters (checked before any lookup).
 * @module
 */
import * as v from 'valibot';
import { FUNCTION_NAME, MAX_ATTEMPTS, MAX_TIMER_MS, TASK_ID } from '../runtime/index.ts';
import { EVENT_TYPES } from './event-stream.ts';
import type { PathParam } from './route.ts';

/** The longest a long-poll holds a request; larger `wait` values are clamped to it. */
export const MAX_WAIT_MS = 30_000;

const TaskId = v.pipe(
  v.string('id must be a string'),
  v.regex(TASK_ID, 'id must be 1 to 128 characters of A-Z a-z 0-9 . _ : - and not only dots'),
);

const TimeoutMs = v.pipe(
  v.number('timeoutMs must be a number'),
  v.integer('timeoutMs must be an integer'),
  v.minValue(1, 'timeoutMs must be at least 1'),
  v.maxValue(MAX_TIMER_MS, `timeoutMs must be at most ${MAX_TIMER_MS}`),
);

/** `retry`: runs in all (1 = no retry) and the first retry's wait; `backoffMs` defaults to 1000. */
const Retry = v.pipe(
  v.custom<Record<string, unknown>>(
    (input) => typeof input === 'object' && input !== null && !Array.isArray(input),
    'retry must be an object like {"attempts": 3, "backoffMs": 1000}',
  ),
  v.strictObject(
    {
      attempts: v.pipe(
        v.number('retry.attempts must be an integer from 1 to 10'),
        v.integer('retry.attempts must be an integer'),
        v.minValue(1, 'retry.attempts must be at least 1'),
        v.maxValue(MAX_ATTEMPTS, `retry.attempts must be at most ${MAX_ATTEMPTS}`),
      ),
      backoffMs: v.optional(
        v.pipe(
          v.number('retry.backoffMs must be a number'),
          v.integer('retry.backoffMs must be an integer'),
          v.minValue(0, 'retry.backoffMs must be at least 0'),
          v.maxValue(MAX_TIMER_MS, `retry.backoffMs must be at most ${MAX_TIMER_MS}`),
        ),
      ),
    },
    // Called for a missing key too (only `attempts` is required).
    (issue) =>
      issue.expected === 'never'
        ? `unknown field retry.${String(issue.received).replaceAll('"', '')}; allowed: attempts, backoffMs`
        : `retry.attempts is required: an integer from 1 to ${MAX_ATTEMPTS}`,
  ),
);

const Args = v.optional(v.array(v.unknown(), 'args must be an array'), () => []);

/** Body of `POST /functions/:name/tasks` and `/invoke`; unknown keys are refused (typos). */
export const TaskBody = v.pipe(
  // valibot's object schemas take arrays; a body is a JSON object only.
  v.custom<Record<string, unknown>>(
    (input) => typeof input === 'object' && input !== null && !Array.isArray(input),
    'the body must be a JSON object',
  ),
  v.strictObject(
    {
      args: Args,
      id: v.optional(TaskId),
      timeoutMs: v.optional(TimeoutMs),
      retry: v.optional(Retry),
    },
    (issue) => `unknown field ${issue.received}; allowed: args, id, timeoutMs, retry`,
  ),
);

/** Body of `POST /functions/:name/rollback`: the version to serve again (default: the previous). */
export const RollbackBody = v.pipe(
  v.custom<Record<string, unknown>>(
    (input) => typeof input === 'object' && input !== null && !Array.isArray(input),
    'the body must be a JSON object',
  ),
  v.strictObject(
    {
      version: v.optional(
        v.pipe(
          v.number('version must be a version number'),
          v.integer('version must be an integer'),
          v.minValue(1, 'version must be at least 1'),
        ),
      ),
    },
    (issue) => `unknown field ${issue.received}; allowed: version`,
  ),
);

export const WaitQuery = v.pipe(
  v.string(),
  v.regex(
    /^\d+$/,
    `wait must be an integer of milliseconds from 0 (at most ${MAX_WAIT_MS} is used)`,
  ),
  v.transform((digits) => Math.min(Number(digits), MAX_WAIT_MS)),
);

/** Query of `GET /tasks/:id`; other parameters are let through. */
export const ResultQuery = v.object({ wait: v.optional(WaitQuery) });

/** Listing size: the contract's 1-1000, 100 by default. */
export const MAX_LIST_LIMIT = 1000;
export const DEFAULT_LIST_LIMIT = 100;

const STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;

/** Query of `GET /tasks`; unknown parameters are refused (a typo would list everything). */
export const ListQuery = v.strictObject(
  {
    function: v.optional(
      v.pipe(
        v.string(),
        v.regex(
          FUNCTION_NAME,
          'function must be a function name: 1 to 64 characters of A-Z a-z 0-9 _ -',
        ),
      ),
    ),
    status: v.optional(v.picklist(STATUSES, `status must be one of ${STATUSES.join(', ')}`)),
    limit: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^\d+$/, `limit must be an integer from 1 to ${MAX_LIST_LIMIT}`),
        v.transform(Number),
        v.minValue(1, `limit must be an integer from 1 to ${MAX_LIST_LIMIT}`),
        v.maxValue(MAX_LIST_LIMIT, `limit must be an integer from 1 to ${MAX_LIST_LIMIT}`),
      ),
      String(DEFAULT_LIST_LIMIT),
    ),
    before: v.optional(
      v.pipe(
        v.string(),
        v.regex(TASK_ID, 'before must be a task id (the next of the previous page)'),
      ),
    ),
  },
  (issue) =>
    `unknown query parameter ${String(issue.received).replaceAll('"', '')}; allowed: function, status, limit, before`,
);

/** A function name in a path; names outside the rule never reach a lookup. */
export const FunctionNameParam: PathParam = {
  pattern: FUNCTION_NAME,
  code: 'invalid_name',
  rule: 'a function name is 1 to 64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit',
  echo: 100,
  example: 'fib',
};

/** A task id in a path. */
export const TaskIdParam: PathParam = {
  pattern: TASK_ID,
  code: 'invalid_id',
  rule: 'a task id is 1 to 128 characters of A-Z a-z 0-9 . _ : - and not only dots',
  echo: 200,
  example: '5d2b7a58-9f1e-4c1e-8a51-0b7f3c2d9e11',
};

const TYPES_LIST = new RegExp(`^(${EVENT_TYPES.join('|')})(,(${EVENT_TYPES.join('|')}))*$`);

/** Query of `GET /events`. */
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
