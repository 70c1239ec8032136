/** Waiting in tests without fixed sleeps where a condition can be polled instead. */

/** Poll `check` until it is true or `ms` passed (a loaded machine can be slow). */
export const until = async (check: () => boolean | Promise<boolean>, ms = 30_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await sleep(25);
  }
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
