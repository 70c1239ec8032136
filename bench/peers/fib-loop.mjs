// The CPU case's ideal: a bare thread that computes fib(n) in a loop, with no pool and no
// messages per task. Told {n, count}, it warms up, waits for "go", then answers with its count.
import { parentPort } from 'node:worker_threads';

const fib = (n) => (n < 2 ? n : fib(n - 1) + fib(n - 2));
parentPort.on('message', ({ n, count, go }) => {
  if (!go) {
    for (let i = 0; i < 20; i++) fib(n);
    parentPort.postMessage('ready');
    return;
  }
  let sum = 0;
  for (let i = 0; i < count; i++) sum += fib(n);
  parentPort.postMessage(sum);
});
