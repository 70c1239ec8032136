/**
 * ebbflow's HTTP API for embedding (`ebbflow/api`): the Hono app over a `Runtime` and its metrics
 * (the server's settings table is `ebbflow/server`).
 * @example
 * import { createRuntime } from 'ebbflow';
 * import { defaultHost, folderSource } from 'ebbflow/hosts';
 * import { createApp, Metrics } from 'ebbflow/api';
 * const metrics = new Metrics();
 * const runtime = await createRuntime({ source: folderSource('functions'), host: await defaultHost(), onTaskEnd: metrics.observe });
 * const app = createApp({ runtime, metrics });
 * @module
 */

export { type AppOptions, createApp } from './app.ts';
export { ApiError, type ApiErrorCode, type ErrorBody } from './errors.ts';
export { Metrics } from './metrics.ts';
