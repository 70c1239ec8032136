/** Scales to zero: every first call after start is a cold start (spawn, load, run). */
export const config = { minWorkers: 0, maxWorkers: 1 };

export default (x: number): number => x + 1;
