/**
 * Where ebbflow keeps a cluster's tasks in Redis: every key starts with the prefix (`ebbflow` by
 * default), so several clusters can share one Redis. The scripts (`scripts.ts`) build the same
 * names; this file is their list for the TypeScript side and for readers.
 *
 * | key                  | type   | holds                                                          |
 * | -------------------- | ------ | -------------------------------------------------------------- |
 * | `<p>:t:<task id>`    | hash   | one task: input, state, current run, terminal record          |
 * | `<p>:w:<function>`   | list   | ids waiting to run, oldest first                               |
 * | `<p>:d:<function>`   | zset   | ids backing off before a retry, by when they are due (Redis time) |
 * | `<p>:r:<function>`   | set    | ids running on some server                                     |
 * | `<p>:h:<server>`     | set    | ids a server holds (runs); `<p>:holders` lists such servers     |
 * | `<p>:l:<server>`     | string | a server's lease: present while it is alive (expires)          |
 * | `<p>:all`, `<p>:f:<function>` | zset | the listing, by submission sequence (`<p>:seq`)         |
 * | `<p>:done`           | zset   | finished ids by end time: the record cap                       |
 * | `<p>:functions`      | set    | every function name ever submitted to                          |
 * | `<p>:k:<key>`        | string | an idempotency key: its task (JSON: fn, id, sub, fp), expiring |
 * | `<p>:servers`, `<p>:s:<server>` | zset, string | heartbeats and what each server says of itself |
 * | `<p>:events`, `<p>:cancels` | channels | every state change; running tasks to stop          |
 *
 * A task id is used as it is: task keys live under `:t:` alone, so no id (`wait`, `meta`,
 * `done`, `1`, `a:b`, ...) can name another key; idempotency keys likewise under `:k:` alone.
 * @module
 */

export interface Keys {
  readonly prefix: string;
  /** The hash of one task. */
  task(taskId: string): string;
  /**
   * An idempotency key: `{"fn", "id", "sub", "fp"}` (the task it created, its submit time, the
   * request's fingerprint), for the key's time to live.
   */
  idempotency(key: string): string;
  /** Sorted set of every task id by submission sequence (newest = highest). */
  readonly all: string;
  /** The same, per function. */
  byFunction(fn: string): string;
  /** Pub/sub: every state change, as `{"server": <id>, "records": [TaskRecord, ...]}`. */
  readonly events: string;
  /** Pub/sub: ids of running tasks to stop on the server that runs them. */
  readonly cancels: string;
  /** The ids a server holds (runs now). */
  held(serverId: string): string;
  /** A server's lease. */
  lease(serverId: string): string;
  /** What a server says of itself (its heartbeat). */
  server(serverId: string): string;
  /** Sorted set of server ids by last heartbeat (ms). */
  readonly servers: string;
}

export const keysFor = (prefix: string): Keys => ({
  prefix,
  task: (taskId) => `${prefix}:t:${taskId}`,
  idempotency: (key) => `${prefix}:k:${key}`,
  all: `${prefix}:all`,
  byFunction: (fn) => `${prefix}:f:${fn}`,
  events: `${prefix}:events`,
  cancels: `${prefix}:cancels`,
  held: (serverId) => `${prefix}:h:${serverId}`,
  lease: (serverId) => `${prefix}:l:${serverId}`,
  server: (serverId) => `${prefix}:s:${serverId}`,
  servers: `${prefix}:servers`,
});
