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
