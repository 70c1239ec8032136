/** The trivial task: one addition, so a benchmark measures the runtime, not the function. */
export const config = { maxQueue: 1_000_000 };

export default (x: number): number => x + 1;
