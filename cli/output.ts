/** What the CLI prints: a person's line by default, the server's JSON with `--json`. */

export const print = (json: boolean | undefined, body: unknown, human: () => string): void => {
  console.log(json ? JSON.stringify(body, null, 2) : human());
};

/** Columns padded to their widest cell. */
export const table = (head: string[], rows: unknown[][]): string => {
  const cells = [head, ...rows.map((row) => row.map((cell) => String(cell)))];
  const widths = head.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  if (rows.length === 0) return '(no functions)';
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
