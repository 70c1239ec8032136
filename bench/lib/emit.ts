/** How a case process hands its figures to the harness: one tagged JSON line on stdout. */
export const RESULT_TAG = 'BENCH_RESULT ';

export const emit = (figures: Record<string, unknown>): void => {
  process.stdout.write(`${RESULT_TAG}${JSON.stringify(figures)}\n`);
};

/** Positional arguments of a case process, with a default for each missing one. */
export const arg = (index: number, fallback: string): string => process.argv[2 + index] ?? fallback;

export const numberArg = (index: number, fallback: number): number => {
  const value = Number(arg(index, String(fallback)));
  if (!Number.isFinite(value)) throw new Error(`argument ${index + 1} must be a number`);
  return value;
};
