/**
 * The server side of the HTTP case, in its own process: ebbflow's Hono app (`api/app.ts`) over
 * the trivial fixture, or a plain Hono app that does the same work inline in its handler. Both
 * on @hono/node-server at 127.0.0.1 on a free port; prints `listening <url>` when ready.
 * `handler` is ebbflow answering through a function's `fetch` export (`/fn/inc-http/`).
 * Usage: server.ts <ebbflow|inline|handler>
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createApp } from '../../api/app.ts';
import { Metrics } from '../../api/metrics.ts';
import { arg } from '../lib/emit.ts';
import { fixtureRuntime } from '../lib/fixture-runtime.ts';

const impl = arg(0, 'ebbflow');
let app: Hono;
let close = async () => {};
if (impl === 'ebbflow' || impl === 'handler') {
  // The server's defaults (2 warm workers, the scaler on), as `npm start` would run it.
  const metrics = new Metrics();
  const runtime = await fixtureRuntime([impl === 'handler' ? 'inc-http' : 'inc'], {
    onTaskEnd: metrics.observe,
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
});
process.on('SIGTERM', async () => {
  const used = process.cpuUsage(mark);
  console.log(`cpu ${(used.user + used.system) / 1000}`);
  server.close();
  await close();
  process.exit(0);
});
