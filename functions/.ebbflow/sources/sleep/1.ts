/** Waits `ms` milliseconds and says how long it slept: an I/O-bound function. */
export const config = { concurrency: 16, minWorkers: 1 };

export default async function (ms: number): Promise<{ slept: number }> {
  if (!Number.isInteger(ms) || ms < 0 || ms > 600_000)
    throw new RangeError('ms must be an integer from 0 to 600000');
  const start = Date.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { slept: Date.now() - start };
}
