/**
 * The bounds on what a task leaves in its record besides its result: the error message and the
 * lines it printed. Applied in the worker before anything is sent, and again by the pool, which
 * cannot trust a worker whose globals the function's code may have changed.
 * @module
 */
import { jsonBytes } from './json-size.ts';
import { MAX_LOG_BYTES, MAX_LOG_ENTRIES } from './logs.ts';
import type { LogEntry } from './protocol.ts';

/** Characters of an error message kept (a thrown message, a stack, a loader's message). */
export const MAX_ERROR_CHARS = 65_536;

/** Room for the worker's own note about the lines it dropped, on top of the lines' bound. */
const NOTE_CHARS = 1024;

/** Whether `result`'s JSON is larger than `max` UTF-8 bytes (never, when there is no `max`). */
export const tooLarge = (result: unknown, max: number | undefined): boolean =>
  max !== undefined && jsonBytes(result, max) > max;

/** Why a result was refused (by the worker, or by the pool when a worker let one by). */
export const resultTooLarge = (max: number): string =>
  `the result is larger than ${max} bytes as JSON (maxResultBytes, EBBFLOW_MAX_RESULT_BYTES)`;

/**
 * `message` if it has at most `MAX_ERROR_CHARS` characters; else its start with a note saying it
 * was cut, `MAX_ERROR_CHARS` at most in all (so cutting again changes nothing).
 */
export const cutMessage = (message: string): string => {
  if (message.length <= MAX_ERROR_CHARS) return message;
  const note = (kept: number) =>
    ` [cut: the message had ${message.length} characters; the first ${kept} are kept]`;
  let kept = MAX_ERROR_CHARS - note(MAX_ERROR_CHARS).length;
  // Never half of a surrogate pair.
  const last = message.charCodeAt(kept - 1);
  if (last >= 0xd800 && last <= 0xdbff) kept--;
  return `${message.slice(0, kept)}${note(kept)}`;
};

const LEVELS: ReadonlySet<unknown> = new Set(['log', 'info', 'warn', 'error', 'debug']);

/**
 * The pool's check of the lines a worker sent: well-formed entries only, within the bounds a
 * worker keeps (counted in characters, which a UTF-8 byte bound never exceeds), and one note
 * when some were left out. Returns the same array when it holds nothing to change.
 */
export const boundLogs = (logs: unknown): LogEntry[] | undefined => {
  if (!Array.isArray(logs)) return undefined;
  const kept: LogEntry[] = [];
  let chars = 0;
  let left = 0;
  for (const entry of logs as unknown[]) {
    const { at, level, message } = (entry ?? {}) as Partial<LogEntry>;
    const wellFormed = typeof at === 'number' && LEVELS.has(level) && typeof message === 'string';
    // The worker's own note about dropped lines is one entry past the cap.
    if (
      !wellFormed ||
      kept.length > MAX_LOG_ENTRIES ||
      chars + message.length > MAX_LOG_BYTES + NOTE_CHARS
    ) {
      left++;
      continue;
    }
    chars += message.length;
    kept.push(entry as LogEntry);
  }
  if (left === 0) return logs as LogEntry[];
  const at = kept.at(-1)?.at ?? 0;
  kept.push({ at, level: 'warn', message: `${left} log entries were left out by the server` });
  return kept;
};
