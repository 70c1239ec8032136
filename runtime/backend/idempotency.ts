/**
 * Idempotent submission (the contract's v3 "Idempotent submission"), the part every backend
 * shares: what a key may be, the fingerprint that tells "the same request" from another one,
 * how a backend marks the record it answers a repeat with, and the two refusals.
 *
 * A submission with `SubmitOptions.idempotencyKey` reaches the backend as `NewTask.idempotency`.
 * The first one with a key creates the task and keeps the key for `ttlMs`; a repeat with the
 * same fingerprint creates nothing and gets the first task's record, marked (`isReplay`); a
 * repeat with another fingerprint is refused with `idempotency_key_reused`.
 * @module
 */
import { EbbflowError } from '../errors.ts';
import type { NewTask, SubmitOptions, TaskRecord } from '../types.ts';

/**
 * What a backend needs to honour a key: the key, the request's fingerprint (SHA-256 hex of the
 * function and the body as JSON values, `fingerprintOf`), and how long the key holds.
 */
export type Idempotency = NonNullable<NewTask['idempotency']>;

/** 1 to 255 printable ASCII characters (space to tilde), as the contract says. */
export const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

export const isIdempotencyKey = (value: unknown): value is string =>
  typeof value === 'string' && IDEMPOTENCY_KEY.test(value);

export const invalidIdempotencyKey = () =>
  new EbbflowError(
    'invalid_argument',
    'an idempotency key must be 1 to 255 printable ASCII characters (space to ~)',
  );

/**
 * The request a key stands for: the function and the body's fields (args, id, timeout, retry)
 * as JSON values, so spacing and the order of object keys do not matter.
 */
export const fingerprintOf = async (
  fn: string,
  args: unknown[],
  { id, timeoutMs, retry }: SubmitOptions,
): Promise<string> => {
  const text = canonical({ function: fn, args, id, timeoutMs, retry });
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
};

/** JSON with object keys sorted at every depth and undefined members left out. */
const canonical = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
};

/** Marks a record as the answer to a repeated key (not serialised: a symbol, not enumerable). */
export const REPLAYED: unique symbol = Symbol.for('ebbflow.idempotentReplay');

/** `record`, marked as the answer to a repeat: the first request's task, nothing created. */
export const markReplayed = <T extends TaskRecord>(record: T): T => {
  Object.defineProperty(record, REPLAYED, { value: true, enumerable: false });
  return record;
};

/** Whether a submit answered with the task an earlier request with the same key created. */
export const isReplay = (record: TaskRecord): boolean =>
  (record as TaskRecord & { [REPLAYED]?: boolean })[REPLAYED] === true;

export const idempotencyKeyReused = (key: string, fn: string, id: string) =>
  new EbbflowError(
    'idempotency_key_reused',
    `the idempotency key ${JSON.stringify(key)} was already used for another request (task "${id}" of function "${fn}"): a key may only be repeated with the same function and body`,
  );

export const idempotentTaskExpired = (key: string, id: string) =>
  new EbbflowError(
    'idempotency_task_expired',
    `the idempotency key ${JSON.stringify(key)} was used for task "${id}", whose record has expired; nothing was created (the key stays taken until its time to live ends)`,
  );
