/**
 * The two connections a server keeps to Redis:
 * - `store`: every command (submit, claim, finish, read, cancel, list, the tick). Commands made
 *   in the same turn leave in one write (auto-pipelining), so a submit and the claim it triggers
 *   share one round trip. It fails fast while disconnected, and a command Redis does not answer
 *   within `timeoutMs` fails too (503 `backend_unavailable`): no request hangs on a stalled
 *   Redis. Changes Redis might make after the caller gave up are guarded by deadlines checked on
 *   Redis's clock (submit, claim, cancel) or are harmless to repeat (reports, sent again until
 *   taken; a report repeated is refused).
 * - `events`: the subscription to the events and cancels channels (it waits out an outage and
 *   subscribes again).
 * @module
 */
import { Redis } from 'ioredis';
import { EbbflowError, messageOf } from '../../errors.ts';

export interface Connections {
  store: Redis;
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
  const store = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    // A command sent again after a reconnect could run twice; its caller got its 503 already.
    autoResendUnfulfilledCommands: false,
    enableAutoPipelining: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  let lastError = '';
  store.on('error', (error: Error) => {
    lastError = error.message;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      store.connect().then(() => store.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${timeoutMs} ms (EBBFLOW_REDIS_TIMEOUT_MS)`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    store.disconnect();
    throw new Error(
      `cannot reach Redis at ${displayUrl(url)} (EBBFLOW_REDIS_URL): ${lastError || messageOf(error)}`,
    );
  } finally {
    clearTimeout(timer);
  }
  const events = store.duplicate({
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    autoResendUnfulfilledCommands: true,
    enableAutoPipelining: false,
    commandTimeout: undefined,
  });
  events.on('error', () => {});
  return { store, events };
};
