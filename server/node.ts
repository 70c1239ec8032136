/**
 * The Node entry (`npm start`): workers in `worker_threads`, served by `@hono/node-server`.
 * @module
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { folderSource } from '../runtime/host/fs-source.ts';
import { nodeHost } from '../runtime/host/node.ts';
import { serverArgs } from './argv.ts';
import { readAsset } from './assets.ts';
import { clusterBackend } from './cluster.ts';
import { functionVariables, reservedVariables } from './function-env.ts';
import { launch } from './launch.ts';
import { serverEnvironment } from './launcher.ts';

// Started by hand, this process becomes the launcher and goes no further (launcher.ts).
const env = await serverEnvironment();

await launch({
  runtime: `Node ${process.versions.node}`,
  argv: serverArgs(process.argv.slice(2)),
  env,
  workers: nodeHost({ env: functionVariables(env), reservedEnv: reservedVariables() }),
  source: folderSource,
  assets: readAsset,
  listen: (app, hostname, port) =>
    new Promise((resolve, reject) => {
      // node:http's defaults hold waiting requests: `requestTimeout` (300 s) and `headersTimeout`
      // (60 s) bound only the receipt of a request (a 4 s answer under a 2 s requestTimeout was
      // still delivered, Node 20.20), `timeout` is 0, and `keepAliveTimeout` (5 s) applies only
      // between requests.
      const server = serve({ fetch: app.fetch, hostname, port }, (info) => {
        const host = info.address.includes(':') ? `[${info.address}]` : info.address;
        resolve({
          url: `http://${host}:${info.port}`,
          close: () =>
            new Promise((done) => {
              server.close(() => done());
              // Idle keep-alive sockets would hold the close open; requests have been answered.
              setTimeout(() => (server as Server).closeAllConnections(), 2_000).unref();
            }),
        });
      });
      server.once('error', reject);
    }),
  cluster: clusterBackend,
  sqlite: async () => (await import('../runtime/host/sqlite-libsql.ts')).libsqlDriver,
  onSignal: (handler) => {
    process.on('SIGTERM', () => handler('SIGTERM'));
    process.on('SIGINT', () => handler('SIGINT'));
  },
  exit: (code) => process.exit(code),
});
