/**
 * One error shape for every failure the API answers:
 * `{"error": {"code", "message", "details"?}}`, with the runtime's error codes mapped to HTTP
 * statuses in one table.
 * @module
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { type ErrorCode, isEbbflowError } from '../runtime/index.ts';

/** Codes the HTTP layer adds to the runtime's. */
export type ApiErrorCode =
  | ErrorCode
  | 'invalid_json'
  | 'invalid_body'
  | 'invalid_query'
  | 'invalid_name'
  | 'invalid_id'
  | 'payload_too_large'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'internal'
  | 'unsupported_media_type'
  | 'deploy_disabled'
  | 'forbidden'
  /** EBBFLOW_MAX_STREAMS event streams and long-polls are open already (503, with Retry-After). */
  | 'too_many_streams';

/** One problem with a request, naming where it is (`args`, `timeoutMs`, `wait`, ...). */
export interface Detail {
  field: string;
  message: string;
}

export interface ErrorBody {
  error: { code: ApiErrorCode; message: string; details?: Detail[] };
}

/** An error that knows its HTTP answer. Thrown by handlers, answered by `onError`. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: ContentfulStatusCode;
  readonly code: ApiErrorCode;
  readonly details: Detail[] | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: ContentfulStatusCode,
    code: ApiErrorCode,
    message: string,
    options: { details?: Detail[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

/** The HTTP status of each of the runtime's error codes. */
export const ERROR_STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_argument: 400,
  invalid_option: 400,
  unknown_function: 404,
  unknown_task: 404,
  duplicate_id: 409,
  already_terminal: 409,
  not_retryable: 409,
  queue_full: 429,
  draining: 503,
  invalid_function: 422,
  deploy_unsupported: 501,
  backend_unavailable: 503,
  no_fetch_handler: 404,
  handler_failed: 500,
  handler_timed_out: 504,
  function_unavailable: 503,
  javascript_required: 415,
  unknown_version: 404,
  no_previous_version: 409,
  idempotency_key_reused: 422,
  idempotency_task_expired: 410,
  store_locked: 503,
  store_unavailable: 503,
};

export const errorBody = (code: ApiErrorCode, message: string, details?: Detail[]): ErrorBody =>
  details ? { error: { code, message, details } } : { error: { code, message } };

/** Turn anything thrown into the error shape; what we did not expect is a 500 without internals. */
export const errorResponse = (
  c: Context,
  error: unknown,
  log: (message: string) => void,
): Response => {
  if (error instanceof ApiError) {
    return c.json(errorBody(error.code, error.message, error.details), error.status, error.headers);
  }
  if (isEbbflowError(error)) {
    return c.json(errorBody(error.code, error.message), ERROR_STATUS[error.code]);
  }
  log(
    `internal error on ${c.req.method} ${c.req.path}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  return c.json(errorBody('internal', 'internal server error'), 500);
};
