// A worker that only listens (and answers once): the floor any Node worker-based pool pays per thread.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (message) => parentPort.postMessage(message));
parentPort.postMessage('ready');
