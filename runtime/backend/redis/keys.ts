/**
 * Where ebbflow keeps its own few keys beside BullMQ's, and how task ids become job ids.
 *
 * BullMQ holds each task as a job in the queue of its function (`<prefix>:q:<function>:<jobId>`);
 * ebbflow adds an id index (task ids are unique across functions, BullMQ's only per queue), a
 * listing order, cancel marks, server heartbeats and two pub/sub channels.
 * @module
 */
import { QueueKeys } from 'bullmq';

export interface Keys {
  /** BullMQ's `prefix` option: every queue key starts with it. */
  readonly bull: string;
  /** `<function>|<sequence>`: which queue holds the task, and its place in the listing. */
  id(taskId: string): string;
  /** A task cancelled: `{"at": <ms>, "running": <bool>}`. Its presence makes the task cancelled. */
  cancel(taskId: string): string;
  /** An idempotency key: `<function>|<task id>|<fingerprint>`, expiring with the key (v3). */
  idempotency(key: string): string;
  /** Sorted set of every task id by submission sequence (newest = highest). */
  readonly all: string;
  /** The same, per function. */
  byFunction(fn: string): string;
  readonly sequence: string;
  /** Set of every function name ever submitted to (for cluster totals). */
  readonly functions: string;
  /** Sorted set of server ids by last heartbeat (ms). */
  readonly servers: string;
  server(serverId: string): string;
  /** Pub/sub: every state change, as a TaskRecord. */
  readonly events: string;
  /** Pub/sub: ids of running tasks to stop on the server that runs them. */
  readonly cancels: string;
  /** The hash BullMQ keeps for one job. */
  job(fn: string, jobId: string): string;
}

export const keysFor = (prefix: string): Keys => ({
  bull: `${prefix}:q`,
  id: (taskId) => `${prefix}:t:${taskId}`,
  cancel: (taskId) => `${prefix}:c:${taskId}`,
  idempotency: (key) => `${prefix}:k:${key}`,
  all: `${prefix}:all`,
  byFunction: (fn) => `${prefix}:f:${fn}`,
  sequence: `${prefix}:seq`,
  functions: `${prefix}:functions`,
  servers: `${prefix}:servers`,
  server: (serverId) => `${prefix}:s:${serverId}`,
  events: `${prefix}:events`,
  cancels: `${prefix}:cancels`,
  job: (fn, jobId) => `${prefix}:q:${fn}:${jobId}`,
});

/**
 * The names of BullMQ's own keys of a queue (`<queue>:wait`, `<queue>:meta`, ...), which share
 * the namespace of its job hashes (`<queue>:<jobId>`): a job with such an id would overwrite one.
 */
const QUEUE_KEY_NAMES: ReadonlySet<string> = new Set(
  Object.keys(new QueueKeys().getKeys('queue')).filter((name) => name !== ''),
);

/**
 * BullMQ refuses job ids that contain `:` or read as an integer, and ids that name one of its
 * own keys (`wait`, `meta`, ...) would clash with them; task ids may be all three
 * (`[A-Za-z0-9._:-]`). `=` and `~` never occur in a task id, so this mapping is reversible, and
 * ids such as UUIDs stay as they are.
 */
export const toJobId = (taskId: string): string => {
  const id = taskId.replaceAll(':', '=');
  return `${Number.parseInt(id, 10)}` === id || QUEUE_KEY_NAMES.has(id) ? `~${id}` : id;
};

export const toTaskId = (jobId: string): string =>
  (jobId.startsWith('~') ? jobId.slice(1) : jobId).replaceAll('=', ':');
