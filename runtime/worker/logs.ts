/**
 * What a function prints while it runs a task, kept on that task: `console.*` inside a worker is
 * replaced by one that finds the running task and appends to its log, within the contract's
 * bounds (100 entries, 64 KiB of message bytes, then one `warn` entry counting what was dropped).
 * @module
 */
import type { LogEntry, TaskContext } from './protocol.ts';

/** Entries kept per task. */
export const MAX_LOG_ENTRIES = 100;
/** UTF-8 bytes of messages kept per task. */
export const MAX_LOG_BYTES = 64 * 1024;

type Level = LogEntry['level'];
const LEVELS: readonly Level[] = ['log', 'info', 'warn', 'error', 'debug'];

const encoder = new TextEncoder();

/** The log of one task. Closed once the task has ended: later lines go to the real console. */
export class TaskLog {
  #entries: LogEntry[] = [];
  #bytes = 0;
  #dropped = 0;
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  /** Keep one line; false when it was dropped (past the entry or byte bound). */
  add(level: Level, message: string, at: number): boolean {
    const bytes = encoder.encode(message).length;
    if (this.#entries.length >= MAX_LOG_ENTRIES || this.#bytes + bytes > MAX_LOG_BYTES) {
      this.#dropped++;
      return false;
    }
    this.#bytes += bytes;
    this.#entries.push({ at, level, message });
    return true;
  }

  /** The entries kept, with the note about dropped ones; undefined when nothing was printed. */
  close(at: number): LogEntry[] | undefined {
    this.#closed = true;
    if (this.#dropped > 0) {
      this.#entries.push({
        at,
        level: 'warn',
        message: `${this.#dropped} more log entries were dropped (at most ${MAX_LOG_ENTRIES} entries and ${MAX_LOG_BYTES} bytes are kept per task)`,
      });
    }
    return this.#entries.length > 0 ? this.#entries : undefined;
  }
}

/**
 * Route `console.*` to the log of the task that printed. `current` names it: from the async
 * context when the host gave one, else the only running task (exact when concurrency is 1).
 * Lines printed outside any task (at load, or after a task ended) go to the real console, with
 * `[label] ` before each line when a label is given, so they never pass for the server's.
 */
export const captureConsole = (
  current: () => TaskLog | undefined,
  now: () => number,
  label?: () => string | undefined,
): void => {
  const target = console as unknown as Record<Level, (...data: unknown[]) => void>;
  for (const level of LEVELS) {
    const original = target[level].bind(console);
    const outside = (data: unknown[]) => {
      const name = label?.();
      return name ? original(labelled(name, format(data))) : original(...data);
    };
    target[level] = (...data: unknown[]) => {
      const log = current();
      if (!log || log.closed) return outside(data);
      log.add(level, format(data), now());
    };
  }
};

/** `text` with `[label] ` before each of its lines. */
export const labelled = (label: string, text: string): string =>
  `[${label}] ${text.split('\n').join(`\n[${label}] `)}`;

/** Find the task that printed: the async context's, or the only one running. */
export const taskFinder =
  (context: TaskContext | undefined, running: () => ReadonlySet<TaskLog>) =>
  (): TaskLog | undefined => {
    const stored = context?.get();
    if (stored instanceof TaskLog) return stored;
    const all = running();
    if (all.size !== 1) return undefined;
    for (const log of all) return log;
    return undefined;
  };

/** Like the console: strings as they are, errors with their stack, other values as JSON. */
export const format = (data: unknown[]): string => data.map(show).join(' ');

const show = (value: unknown): string => {
  try {
    if (typeof value === 'string') return value;
    if (value instanceof Error) return value.stack ?? `${value.name}: ${value.message}`;
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
      return String(value);
    }
    if (typeof value === 'bigint') return `${value}n`;
    return JSON.stringify(value) ?? String(value);
  } catch {
    // A Proxy whose traps throw, an object whose toJSON or toString throws.
    try {
      return String(value);
    } catch {
      return `[${typeof value} that cannot be shown]`;
    }
  }
};
