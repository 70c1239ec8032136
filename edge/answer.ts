/**
 * Errors lose their class and `code` when they cross a Durable Object's RPC boundary, so the
 * objects answer with a value that carries the code, and the Worker throws it again.
 * @module
 */
import { EbbflowError, type ErrorCode } from '../runtime/errors.ts';

export type Answer<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

export const ok = <T>(value: T): Answer<T> => ({ ok: true, value });

export const failed = (code: ErrorCode, message: string): Answer<never> => ({
  ok: false,
  code,
  message,
});

/** Run `work`, turning an `EbbflowError` into an answer (anything else still throws). */
export const answer = async <T>(work: () => Promise<T>): Promise<Answer<T>> => {
  try {
    return ok(await work());
  } catch (error) {
    if (error instanceof EbbflowError) return failed(error.code, error.message);
    throw error;
  }
};

/** The value, or the error thrown again as an `EbbflowError` (on the Worker's side). */
export const unwrap = <T>(a: Answer<T>): T => {
  if (a.ok) return a.value;
  throw new EbbflowError(a.code, a.message);
};
