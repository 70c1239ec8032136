/**
 * ebbflow's portable core: function pools in comlink workers, auto-scaled, with the task
 * lifecycle `queued → running → completed | failed | cancelled`. Hosts live in `./host/`.
 * @module
 */

export { MemoryTaskBackend } from './backend/memory.ts';
export { MAX_ATTEMPTS } from './backend/retry.ts';
export type * from './backend/types.ts';
export type { Clock } from './clock.ts';
export { EbbflowError, type ErrorCode, isEbbflowError } from './errors.ts';
export type * from './host/types.ts';
export { ManualClock } from './manual-clock.ts';
export { FUNCTION_NAME, isFunctionName, isTaskId, TASK_ID } from './names.ts';
export { DEFAULTS, type RuntimeOptions } from './options.ts';
export { createRuntime } from './runtime.ts';
export type * from './types.ts';
