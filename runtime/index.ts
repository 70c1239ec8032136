/**
 * ebbflow's portable core: function pools in comlink workers, auto-scaled, with the task
 * lifecycle `queued → running → completed | failed | cancelled`. Hosts live in `./host/`.
 * @module
 */

export type * from './backend/types.ts';
export { EbbflowError, type ErrorCode, isEbbflowError } from './errors.ts';
export type * from './host/types.ts';
export { FUNCTION_NAME, isFunctionName, isTaskId, TASK_ID } from './names.ts';
export { DEFAULTS, type RuntimeOptions } from './options.ts';
export { createRuntime } from './runtime.ts';
export type { TaskStore } from './store.ts';
export type * from './types.ts';
