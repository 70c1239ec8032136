// @ts-self-types="./parent-watch.d.mts"
/**
 * Noticing that the process that started this one has gone. `npx ebbflow serve` (and a package
 * script without `exec`) runs the launcher under `sh -c`: a SIGTERM to npm ends npm and the
 * shell, and the launcher, adopted by init, would keep its server answering with no one to stop
 * it. Polling the parent's id is the portable way to see it (Node and Bun have no event for it):
 * on Linux and macOS an orphan's parent id changes to init's or a subreaper's. Plain JavaScript,
 * for the launcher (launch.mjs); its types are in parent-watch.d.mts.
 * @module
 */

/** Calls `gone` once when the parent id changes from what it was at the start; returns the stop. */
export const watchParent = (parentPid, gone, everyMs = 500) => {
  const first = parentPid();
  const timer = setInterval(() => {
    if (parentPid() === first) return;
    clearInterval(timer);
    gone();
  }, everyMs);
  // Never what keeps the process alive.
  timer.unref?.();
  return () => clearInterval(timer);
};
