/**
 * Inside a Node worker: serves the function module bundled beside this entry. The Node host
 * bundles this file with the module (see node.ts), so `ebbflow:function` is resolved there. The
 * module is imported only once `init` has set up what the worker reports with (esbuild keeps a
 * dynamic import of a bundled module lazy), so no function code runs before that.
 */

import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { serveWorker } from '../worker/serve.ts';
import { asyncTaskContext } from './async-context.ts';
import { nodeEndpoint } from './node-endpoint.ts';

if (!parentPort) throw new Error('this module runs only inside a worker thread');

// Held here, so a function that replaces `v8.getHeapStatistics` later changes nothing.
const heapStatistics = getHeapStatistics;
const limitMb = (workerData as { memoryLimitMb?: number } | undefined)?.memoryLimitMb;

serveWorker(
  // @ts-expect-error: an alias the Node host's bundler maps to the function module.
  async () => (await import('ebbflow:function')) as Record<string, unknown>,
  nodeEndpoint(parentPort),
  {
    context: asyncTaskContext(),
    // V8's limit bounds the heap only; Buffers and ArrayBuffers are counted here too.
    memory: limitMb
      ? {
          limitMb,
          used: () => {
            const heap = heapStatistics();
            return heap.used_heap_size + heap.external_memory;
          },
        }
      : undefined,
  },
);
