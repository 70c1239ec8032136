/**
 * The Bun entry (`bun run start`): Web Workers, served by `Bun.serve`.
 * @module
 */
import { bunHost } from '../runtime/host/bun.ts';
import { folderSource } from '../runtime/host/fs-source.ts';
import { serverArgs } from './argv.ts';
import { readAsset } from './assets.ts';
import { clusterBackend } from './cluster.ts';
import { functionVariables, reservedVariables } from './function-env.ts';
import { launch } from './launch.ts';
import { serverEnvironment } from './launcher.ts';

interface BunServer {
  hostname: string;
  port: number;
  /** The idle timeout of one request's connection, in seconds (0: none). */
  timeout(request: Request, seconds: number): void;
  stop(closeActive?: boolean): Promise<void>;
}

interface BunApi {
  version: string;
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout: number;
    fetch: (request: Request, server: BunServer) => Response | Promise<Response>;
  }): BunServer;
}

const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;

/**
 * Bun closes a connection idle for `idleTimeout` seconds (10 by default, at most 255), and a
 * request whose answer is still being computed counts as idle: long-polls (up to 30 s) and
 * invokes (up to the task's timeout) were reset at 10 s. So the timer is off while the app
 * handles a request (every wait there has its own bound) and back on for the idle keep-alive
 * connection afterwards, and for streamed answers, which write at least every 15 s.
 */
const IDLE_TIMEOUT_S = 255;

// Started by hand, this process becomes the launcher and goes no further (launcher.ts).
const env = await serverEnvironment();

await launch({
  runtime: `Bun ${Bun.version}`,
  argv: serverArgs(process.argv.slice(2)),
  env,
  workers: bunHost({ env: functionVariables(env), reservedEnv: reservedVariables() }),
  source: folderSource,
  assets: readAsset,
  listen: async (app, hostname, port) => {
    const server = Bun.serve({
      hostname,
      port,
      idleTimeout: IDLE_TIMEOUT_S,
      fetch: async (request, bun) => {
        bun.timeout(request, 0);
        try {
          return await app.fetch(request);
        } finally {
          // A 0 would stay on the connection for good (seen on Bun 1.4.5): restore it.
          bun.timeout(request, IDLE_TIMEOUT_S);
        }
      },
    });
    const host = server.hostname.includes(':') ? `[${server.hostname}]` : server.hostname;
    return { url: `http://${host}:${server.port}`, close: () => server.stop() };
  },
  cluster: clusterBackend,
  sqlite: async () => (await import('../runtime/host/sqlite-bun.ts')).bunSqliteDriver,
  onSignal: (handler) => {
    process.on('SIGTERM', () => handler('SIGTERM'));
    process.on('SIGINT', () => handler('SIGINT'));
  },
  exit: (code) => process.exit(code),
});
