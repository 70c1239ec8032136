/**
 * The one error the client throws: the HTTP status and the server's machine-readable `code`
 * (`unknown_function`, `queue_full`, `too_many_streams`, `function_threw`, `timed_out`,
 * `result_too_large`, ...), or status 0 with code `network_error` / `aborted` when no answer came.
 * @module
 */
import type { TaskRecord } from './types.ts';

export class EbbflowClientError extends Error {
  override name = 'EbbflowClientError';
  /** The HTTP status; 0 when no answer came. */
  readonly status: number;
  readonly code: string;
  /** Per-field problems of a 400. */
  readonly details: { field: string; message: string }[] | undefined;
  /** The task, when the error is a task that failed or timed out (`invoke`). */
  readonly task: TaskRecord | undefined;
  /**
   * Seconds to wait before trying again, when the server said (`Retry-After` of a 429
   * `queue_full` or a 503 `too_many_streams`).
   */
  readonly retryAfter: number | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    extra: {
      details?: { field: string; message: string }[];
      task?: TaskRecord;
      cause?: unknown;
      retryAfter?: number;
    } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.status = status;
    this.code = code;
    this.details = extra.details;
    this.task = extra.task;
    this.retryAfter = extra.retryAfter;
  }
}

/** Turn an error answer (the `{"error": {...}}` shape, or anything else) into the error. */
export const errorFrom = async (response: Response): Promise<EbbflowClientError> => {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } })
    ?.error;
  if (error && typeof error.code === 'string') {
    return new EbbflowClientError(response.status, error.code, String(error.message ?? ''), {
      details: Array.isArray(error.details) ? error.details : undefined,
      retryAfter: seconds(response.headers.get('Retry-After')),
    });
  }
  return new EbbflowClientError(
    response.status,
    `http_${response.status}`,
    `the server answered ${response.status} ${response.statusText}`,
  );
};

/** A `Retry-After` in seconds (the server sends whole seconds), or undefined. */
const seconds = (header: string | null): number | undefined =>
  header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
