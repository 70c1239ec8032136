/**
 * The server side of the HTTP case, in its own process: ebbflow's Hono app (`api/app.ts`) over
 * the trivial fixture, or a plain Hono app that does the same work inline in its handler. Both
 * on @hono/node-server at 127.0.0.1 on a free port; prints `listening <url>` when ready.
 * `handler` is ebbflow answering through a function's `fetch` export (`/fn/inc-http/`).
 * The store: `memory` (the runtime's default), `sqlite` (the server's default: the embedded
 * store) or `sqlite-full` (the same, every commit synced to disk); on SIGTERM it prints its
 * commits, the tasks they took and the file's size.
 * Usage: server.ts <ebbflow|inline|handler> [memory|sqlite|sqlite-full]
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createApp } from '../../api/app.ts';
import { Metrics } from '../../api/metrics.ts';
import { arg } from '../lib/emit.ts';
import { fixtureRuntime } from '../lib/fixture-runtime.ts';
import { benchStore, type StoreName } from '../lib/store.ts';

const impl = arg(0, 'ebbflow');
const store = benchStore(arg(1, 'memory') as StoreName);
let app: Hono;
let close = async () => {};
if (impl === 'ebbflow' || impl === 'handler') {
  // The server's defaults (2 warm workers, the scaler on), as `npm start` would run it.
  const metrics = new Metrics();
  const runtime = await fixtureRuntime([impl === 'handler' ? 'inc-http' : 'inc'], {
    onTaskEnd: metrics.observe,
    backend: store.backend,
  });
  app = createApp({ runtime, metrics, log: (m) => console.error(m) });
  close = () => runtime.close({ drainTimeoutMs: 0 });
} else if (impl === 'inline') {
  // The same route and body, the work done in the handler itself.
  app = new Hono();
  app.post('/functions/:name/invoke', async (c) => {
    const { args } = (await c.req.json()) as { args: [number] };
    return c.json({ status: 'completed', result: args[0] + 1 });
  });
} else {
  throw new Error(`unknown server "${impl}"`);
}

const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => {
  console.log(`listening http://127.0.0.1:${info.port}`);
});
// The load generator asks for the CPU this process used (all its threads) between two marks.
let mark = process.cpuUsage();
process.on('SIGUSR2', () => {
  mark = process.cpuUsage();
  const stored = store.figures();
  if (stored) console.log(`mark ${JSON.stringify(stored)}`);
});
process.on('SIGTERM', async () => {
  const used = process.cpuUsage(mark);
  const stored = store.figures();
  if (stored) console.log(`store ${JSON.stringify(stored)}`);
  console.log(`cpu ${(used.user + used.system) / 1000}`);
  server.close();
  await close();
  await store.close();
  process.exit(0);
});
