/** Naive Fibonacci: deliberately exponential, to put real CPU load on a worker. */
export const config = { timeoutMs: 60_000 };

const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2));

export default function (n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 45)
    throw new RangeError('n must be an integer from 0 to 45');
  return fib(n);
}
