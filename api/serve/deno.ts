/**
 * The Deno entry (`deno task start`): sandboxed Web Workers, served by `Deno.serve`.
 * @module
 */
import { denoHost } from '../../runtime/host/deno.ts';
import { folderSource } from '../../runtime/host/fs-source.ts';
import { launch } from '../launch.ts';
import { SETTINGS } from '../settings.ts';
import { clusterBackend } from './cluster.ts';

interface DenoServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

interface DenoApi {
  args: string[];
  env: { get(name: string): string | undefined };
  serve(
    options: {
      hostname: string;
      port: number;
      onListen(addr: { hostname: string; port: number }): void;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): DenoServer;
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
  exit(code: number): never;
}

const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

await launch({
  argv: Deno.args,
  // Only the variables ebbflow reads: `deno task start` grants exactly these (--allow-env=...).
  env: Object.fromEntries(SETTINGS.map((s) => [s.env, Deno.env.get(s.env)])),
  workers: denoHost(),
  source: folderSource,
  listen: (app, hostname, port) =>
    new Promise((resolve, reject) => {
      try {
        const server = Deno.serve(
          {
            hostname,
            port,
            onListen: (addr) => {
              const host = addr.hostname.includes(':') ? `[${addr.hostname}]` : addr.hostname;
              resolve({ url: `http://${host}:${addr.port}`, close: () => server.shutdown() });
            },
          },
          app.fetch,
        );
      } catch (error) {
        reject(error);
      }
    }),
  cluster: clusterBackend,
  onSignal: (handler) => {
    Deno.addSignalListener('SIGTERM', () => handler('SIGTERM'));
    Deno.addSignalListener('SIGINT', () => handler('SIGINT'));
  },
  exit: (code) => Deno.exit(code),
});
