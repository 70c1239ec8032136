/**
 * Inside a Web Worker (Deno, Bun): waits for the host to name the function module, answers
 * liveness pings, tells the host before the function exits the worker, and serves the module.
 * Nothing of the function runs before `serveWorker` has taken what it reports with.
 */
import { serveWorker } from '../worker/serve.ts';
import { asyncTaskContext } from './async-context.ts';
import { comlinkEndpoint, isControl, type MessageTarget } from './web-control.ts';

const scope = globalThis as unknown as MessageTarget & Record<string, unknown>;

let named: (url: string) => void = () => {};
const moduleUrl = new Promise<string>((resolve) => {
  named = resolve;
});
/** This worker's name for the lines it prints outside a task (told with the module to load). */
let label: string | undefined;

scope.addEventListener('message', (event) => {
  const data = event.data;
  if (!isControl(data)) return;
  if (data.ebbflow === 'load') {
    label = data.label;
    named(data.url);
  } else if (data.ebbflow === 'ping') scope.postMessage({ ebbflow: 'pong' });
});

// Deno signals none of these to the parent; a word first lets the host name the cause.
const announce = (owner: unknown, key: string, via: string, hasCode: boolean): void => {
  const target = owner as Record<string, unknown> | undefined;
  const original = target?.[key];
  if (typeof original !== 'function') return; // Bun's workers have no self.close
  (target as Record<string, unknown>)[key] = function (this: unknown, ...args: unknown[]) {
    const code = hasCode ? Number(args[0] ?? 0) : undefined;
    scope.postMessage({ ebbflow: 'exit', via, code });
    return original.apply(this, args);
  };
};
announce(scope.Deno, 'exit', 'Deno.exit', true);
announce(scope.process, 'exit', 'process.exit', true);
announce(scope, 'close', 'self.close', false);

// Deno and Bun print a worker's console on the server's own stdout: lines printed outside a
// task carry the worker's name. The module is imported inside `init`, once the port and the
// timing table are in place.
serveWorker(async () => import(await moduleUrl), comlinkEndpoint(scope), {
  context: asyncTaskContext(),
  label: () => label,
});
