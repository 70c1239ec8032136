/** Naive Fibonacci: pure CPU work, for the CPU-efficiency case. */
export const config = { maxQueue: 100_000, timeoutMs: 120_000 };

export const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2));

export default (n: number): number => fib(n);
