/** The figures of an autocannon run over task routes, refused if any request failed. */
import type autocannon from 'autocannon';

/** `perTask`: requests each task takes (2 when polling, else 1). */
export const loadFigures = (result: autocannon.Result, perTask: number) => {
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${bad} requests failed (non-2xx, errors or timeouts)`);
  return {
    reqPerSec: result.requests.average,
    tasksPerSec: result.requests.average / perTask,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
};
