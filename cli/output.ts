/** What the CLI prints: a person's line by default, the server's JSON with `--json`. */

export const print = (json: boolean | undefined, body: unknown, human: () => string): void => {
  console.log(json ? JSON.stringify(body, null, 2) : human());
};

/**
 * Whether output may carry colours: only to a terminal, and never with `NO_COLOR` set to
 * anything (no-color.org) or `TERM=dumb`.
 */
export const colours = (
  stream: { isTTY?: boolean } = process.stdout,
  env: Record<string, string | undefined> = process.env,
): boolean => stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** `text` without its colour codes. */
export const plain = (text: string): string => text.replace(ANSI, '');

/** Columns padded to their widest cell; `empty` when there are no rows. */
export const table = (head: string[], rows: unknown[][], empty = '(no functions)'): string => {
  const cells = [head, ...rows.map((row) => row.map((cell) => String(cell)))];
  const widths = head.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  if (rows.length === 0) return empty;
  return cells
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] as number)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
};

/** A task record in a line or two: status, then the result or the error. */
export const describeTask = (record: {
  id: string;
  status: string;
  result?: unknown;
  error?: string;
  executionTime?: number;
}): string => {
  const time =
    record.executionTime === undefined ? '' : ` in ${record.executionTime.toFixed(1)} ms`;
  switch (record.status) {
    case 'completed':
      return JSON.stringify(record.result ?? null, null, 2);
    case 'failed':
    case 'cancelled':
      return `task ${record.id} ${record.status}${time}: ${record.error ?? ''}`;
    default:
      return `task ${record.id} is ${record.status}`;
  }
};

/** One log line: `2026-12-06T10:00:00.000Z warn  message`. */
export const logLine = (entry: { at: number; level: string; message: string }): string =>
  `${new Date(entry.at).toISOString()} ${entry.level.padEnd(5)} ${entry.message}`;
