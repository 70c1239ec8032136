/**
 * The Bun entry (`bun run start`): Web Workers, served by `Bun.serve`.
 * @module
 */
import { bunHost } from '../../runtime/host/bun.ts';
import { folderSource } from '../../runtime/host/fs-source.ts';
import { launch } from '../launch.ts';
import { clusterBackend } from './cluster.ts';

interface BunApi {
  serve(options: {
    hostname: string;
    port: number;
    fetch: (request: Request) => Response | Promise<Response>;
  }): { hostname: string; port: number; stop(closeActive?: boolean): Promise<void> };
}

const Bun = (globalThis as unknown as { Bun: BunApi }).Bun;

await launch({
  argv: process.argv.slice(2),
  env: process.env,
  workers: bunHost(),
  source: folderSource,
  listen: async (app, hostname, port) => {
    const server = Bun.serve({ hostname, port, fetch: app.fetch });
    const host = server.hostname.includes(':') ? `[${server.hostname}]` : server.hostname;
    return { url: `http://${host}:${server.port}`, close: () => server.stop() };
  },
  cluster: clusterBackend,
  onSignal: (handler) => {
    process.on('SIGTERM', () => handler('SIGTERM'));
    process.on('SIGINT', () => handler('SIGINT'));
  },
  exit: (code) => process.exit(code),
});
