/**
 * ebbflow's portable core: function pools in comlink workers, auto-scaled, with the task
 * lifecycle `queued → running → completed | failed | cancelled`. Hosts live in `./host/`.
 * @module
 */

export type * from './backend/contract.ts';
export { isReplay } from './backend/idempotency.ts';
export { MemoryTaskBackend } from './backend/memory/backend.ts';
export { MAX_ATTEMPTS } from './backend/retry.ts';
export type { SqliteConnection, SqliteDriver, SqliteStatement } from './backend/sqlite/driver.ts';
export {
  openSqliteStore,
  type SqliteStoreOptions,
  SqliteTaskBackend,
  type SyncLevel,
} from './backend/sqlite/store.ts';
export { EbbflowError, type ErrorCode, isEbbflowError, messageOf } from './errors.ts';
export { FUNCTION_NAME, isFunctionName, isTaskId, TASK_ID } from './names.ts';
export { DEFAULTS, MAX_RESULT_BYTES, type RuntimeOptions } from './options.ts';
export { createRuntime } from './runtime.ts';
export type { Clock } from './time/clock.ts';
export { ManualClock } from './time/manual-clock.ts';
export { MAX_TIMER_MS } from './time/timers.ts';
export type * from './types.ts';
export type * from './worker-host.ts';
