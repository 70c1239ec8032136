/**
 * The task context for worker entries: `AsyncLocalStorage` from `node:async_hooks`, which Node,
 * Deno and Bun all provide, so a line printed after an `await` is still kept on its own task
 * when a worker runs several at once.
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { TaskContext } from '../worker/protocol.ts';

export const asyncTaskContext = (): TaskContext => {
  const storage = new AsyncLocalStorage<object>();
  return {
    run: (store, fn) => storage.run(store, fn),
    get: () => storage.getStore(),
  };
};
