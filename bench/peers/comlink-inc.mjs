// The raw comlink baseline: a worker_threads worker exposing the trivial function, nothing else.
import { parentPort } from 'node:worker_threads';
import { expose } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';

expose((x) => x + 1, nodeEndpoint(parentPort));
