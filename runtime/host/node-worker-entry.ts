/**
 * Inside a Node worker: serves the function module bundled beside this entry. The Node host
 * bundles this file with the module (see node.ts), so `ebbflow:function` is resolved there.
 */

// @ts-expect-error: an alias the Node host's bundler maps to the function module.
import * as functionModule from 'ebbflow:function';
import { parentPort } from 'node:worker_threads';
import { serveWorker } from '../worker/serve.ts';
import { asyncTaskContext } from './async-context.ts';
import { nodeEndpoint } from './node-endpoint.ts';

if (!parentPort) throw new Error('this module runs only inside a worker thread');
serveWorker(async () => functionModule as Record<string, unknown>, nodeEndpoint(parentPort), {
  context: asyncTaskContext(),
});
