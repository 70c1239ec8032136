/**
 * Every error the runtime throws at its callers, each with a machine-readable `code` (errors
 * lose their class when they cross a worker boundary, so callers match on the code).
 * @module
 */

export type ErrorCode =
  | 'invalid_option'
  | 'invalid_argument'
  | 'unknown_function'
  | 'unknown_task'
  | 'duplicate_id'
  | 'queue_full'
  | 'draining'
  | 'already_terminal'
  | 'not_retryable'
  | 'no_fetch_handler'
  | 'handler_failed'
  | 'handler_timed_out'
  /** A handler call to a function whose module failed to load (HTTP 503). */
  | 'function_unavailable'
  /** A deployed source that does not load or check (HTTP 422): the loader's message says why. */
  | 'invalid_function'
  /** A host that runs JavaScript only (Workers) was sent TypeScript: compile it first (415). */
  | 'javascript_required'
  /** The runtime's function source cannot be written (deploys need a folder). */
  | 'deploy_unsupported'
  /** A rollback to a version that is not kept (never was, or no longer among the kept ones). */
  | 'unknown_version'
  /** A rollback to "the previous version" when no older version is kept. */
  | 'no_previous_version'
  /** The shared task store (Redis, several servers) cannot be reached now (503). */
  | 'backend_unavailable'
  /** An idempotency key repeated with another function or body (422). */
  | 'idempotency_key_reused'
  /** An idempotency key repeated after its task's record expired: nothing created (410). */
  | 'idempotency_task_expired'
  /** The embedded store's file is held by another process (a second server): at start only. */
  | 'store_locked'
  /** The embedded store's file cannot be opened or written (503 once serving). */
  | 'store_unavailable';

export class EbbflowError extends Error {
  override name = 'EbbflowError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export const isEbbflowError = (value: unknown): value is EbbflowError =>
  value instanceof EbbflowError;

export const unknownFunction = (name: string) =>
  new EbbflowError('unknown_function', `no function named "${name}"`);

export const unknownTask = (id: string) =>
  new EbbflowError('unknown_task', `no task with id "${id}" (unknown or expired)`);

export const duplicateId = (id: string) =>
  new EbbflowError('duplicate_id', `task id "${id}" is already in use`);

export const queueFull = (name: string, limit: number) =>
  new EbbflowError('queue_full', `the queue of "${name}" is full (${limit} tasks); retry later`);

export const draining = () =>
  new EbbflowError('draining', 'the runtime is shutting down and takes no new tasks');

export const alreadyTerminal = (id: string, status: string) =>
  new EbbflowError('already_terminal', `task "${id}" has already ended (${status})`);

export const notRetryable = (id: string, status: string) =>
  new EbbflowError(
    'not_retryable',
    `task "${id}" is ${status}; only a failed or cancelled task can be retried`,
  );

/**
 * A task accepted a moment ago is no longer in the task store (a remote store lost it: flushed,
 * restarted empty, its keys deleted): its outcome cannot be known (503, like a store away).
 */
export const taskVanished = (id: string) =>
  new EbbflowError(
    'backend_unavailable',
    `task "${id}" is no longer in the task store, which lost it; its outcome is unknown`,
  );

/** A listing cursor (`before`) that names no live task. */
export const unknownCursor = (id: string) =>
  new EbbflowError(
    'invalid_argument',
    `before: no task with id "${id}" (unknown or expired); start again without it`,
  );

/** An option error that names the option and the bad value, as p-queue and piscina do. */
export const invalidOption = (option: string, expected: string, value: unknown) =>
  new EbbflowError(
    'invalid_option',
    `option ${option} must be ${expected}, got ${describeValue(value)}`,
  );

export const describeValue = (value: unknown): string => {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
};

export const invalidFunction = (name: string, why: string) =>
  new EbbflowError('invalid_function', `function "${name}" was not deployed: ${why}`);

export const unknownVersion = (name: string, version: number, kept: readonly number[]) =>
  new EbbflowError(
    'unknown_version',
    `function "${name}" has no version ${version} kept${kept.length ? ` (kept: ${kept.join(', ')})` : ''}`,
  );

export const noPreviousVersion = (name: string, serving: number) =>
  new EbbflowError(
    'no_previous_version',
    `function "${name}" has no kept version older than version ${serving}, which serves`,
  );

export const deployUnsupported = (
  why = 'this runtime’s functions come from a source that cannot be written (deploys need a functions folder)',
) => new EbbflowError('deploy_unsupported', why);
/** The message of anything thrown: an Error's own, else the value as text. */
export const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);
