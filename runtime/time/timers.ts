/**
 * Background timers that must not keep the process alive: Node and Bun timers have `unref()`,
 * Deno's are numbers released through `Deno.unrefTimer`.
 * @module
 */
export const unrefTimer = (timer: unknown): void => {
  if (typeof timer === 'object' && timer !== null && 'unref' in timer) {
    (timer as { unref: () => void }).unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
  if (typeof timer === 'number') deno?.unrefTimer?.(timer);
};

/**
 * Run `fn` once the current turn's I/O callbacks are done: `setImmediate` where the host has it
 * (Node, Deno, Bun), else a zero timeout (workerd).
 */
export const afterIo: (fn: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (fn) => {
        (globalThis as unknown as { setImmediate: (fn: () => void) => void }).setImmediate(fn);
      }
    : (fn) => {
        setTimeout(fn, 0);
      };

/** The longest delay a timer can hold (2^31 - 1 ms, about 24.8 days): every timeout, backoff and
 * interval a user sets is bounded by it. */
export const MAX_TIMER_MS = 2_147_483_647;
