/** The types of parent-watch.mjs (plain JavaScript, for the launcher). */

/** Calls `gone` once when the parent id changes from what it was at the start; returns the stop. */
export declare const watchParent: (
  parentPid: () => number,
  gone: () => void,
  everyMs?: number,
) => () => void;
