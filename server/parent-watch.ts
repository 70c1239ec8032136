/**
 * Noticing that the process that started this one has gone. `npx ebbflow serve` (and a package
 * script without `exec`) runs the server under `sh -c`: a SIGTERM to npm ends npm and the shell,
 * and the server, adopted by init, would go on answering with no one to stop it. Polling the
 * parent's id is the portable way to see it (Node, Bun and Deno have no event for it): on Linux
 * and macOS an orphan's parent id changes to init's or a subreaper's.
 * @module
 */

/** Calls `gone` once when the parent id changes from what it was at the start; returns the stop. */
export const watchParent = (
  parentPid: () => number,
  gone: () => void,
  everyMs = 500,
): (() => void) => {
  const first = parentPid();
  const timer = setInterval(() => {
    if (parentPid() === first) return;
    clearInterval(timer);
    gone();
  }, everyMs);
  // Never what keeps the process alive.
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
};
