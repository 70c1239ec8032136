/**
 * The three connections a server keeps to Redis, and what each does when Redis is away or hangs:
 * - `requests`: what callers wait for (submit, read, wait, cancel, list) and the cluster's tick.
 *   Fails fast while disconnected, and any command Redis does not answer within `timeoutMs`
 *   fails too (503 `backend_unavailable`), so no request hangs on a stalled Redis.
 * - `runs`: claims and reports of this server's runs. Waits out an outage (commands queue until
 *   Redis answers), so a task that ends while Redis is away is still reported when it returns.
 * - `events`: the subscription to the events and cancels channels.
 * @module
 */
import { Redis } from 'ioredis';
import { EbbflowError, messageOf } from '../../errors.ts';

export interface Connections {
  requests: Redis;
  runs: Redis;
  events: Redis;
}

/** The URL without its password, for messages. */
export const displayUrl = (url: string): string => {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
};

export const backendUnavailable = (url: string, why?: string) =>
  new EbbflowError(
    'backend_unavailable',
    `the task store (Redis at ${displayUrl(url)}) is unreachable${why ? ` (${why})` : ''}; retry later`,
  );

/** Connect, or throw an error that names the URL (within `timeoutMs`, even if Redis hangs). */
export const connect = async (url: string, timeoutMs: number): Promise<Connections> => {
  const requests = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    // A command sent again after a reconnect could run twice; the caller got its 503 already.
    autoResendUnfulfilledCommands: false,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  let lastError = '';
  requests.on('error', (error: Error) => {
    lastError = error.message;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      requests.connect().then(() => requests.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${timeoutMs} ms (EBBFLOW_REDIS_TIMEOUT_MS)`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    requests.disconnect();
    throw new Error(
      `cannot reach Redis at ${displayUrl(url)} (EBBFLOW_REDIS_URL): ${lastError || messageOf(error)}`,
    );
  } finally {
    clearTimeout(timer);
  }
  const waiting = {
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    autoResendUnfulfilledCommands: true,
    commandTimeout: undefined,
  };
  const runs = requests.duplicate(waiting);
  const events = requests.duplicate(waiting);
  runs.on('error', () => {});
  events.on('error', () => {});
  return { requests, runs, events };
};
