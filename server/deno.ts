/**
 * The Deno entry (`deno task start`): sandboxed Web Workers, served by `Deno.serve`.
 * @module
 */
import { denoHost } from '../runtime/host/deno.ts';
import { folderSource } from '../runtime/host/fs-source.ts';
import type { FunctionPermissions } from '../runtime/index.ts';
import { readAsset } from './assets.ts';
import { clusterBackend } from './cluster.ts';
import { grantingCommand } from './deno-grants.ts';
import { launch } from './launch.ts';
import { SETTINGS } from './settings.ts';

interface DenoServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

interface DenoApi {
  args: string[];
  env: { get(name: string): string | undefined };
  cwd(): string;
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

// Only the variables ebbflow reads: `deno task start` grants exactly these (--allow-env=...).
const env: Record<string, string | undefined> = {};
const unreadable: string[] = [];
for (const { env: name } of SETTINGS) {
  try {
    env[name] = Deno.env.get(name);
  } catch {
    unreadable.push(name);
  }
}

const command = (extra?: FunctionPermissions) => grantingCommand(Deno.args, env, Deno.cwd(), extra);

if (unreadable.length > 0) {
  console.error(
    `ebbflow: Deno refused to read ${unreadable.join(', ')}: start with \`deno task start\`, which grants what the settings need, or run: ${command()}`,
  );
  Deno.exit(2);
}

await launch({
  argv: Deno.args,
  env,
  workers: denoHost({ refusalHint: (wanted) => `to grant it, run: ${command(wanted)}` }),
  hint: (error) => (isNotCapable(error) ? `; to grant it, run: ${command()}` : ''),
  source: folderSource,
  assets: readAsset,
  listen: (app, hostname, port) =>
    new Promise((resolve, reject) => {
      try {
        // Deno.serve has no idle timeout: long-polls and long invokes are held as they are.
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
  sqlite: async () => (await import('../runtime/host/sqlite-deno.ts')).denoSqliteDriver,
  onSignal: (handler) => {
    Deno.addSignalListener('SIGTERM', () => handler('SIGTERM'));
    Deno.addSignalListener('SIGINT', () => handler('SIGINT'));
  },
  exit: (code) => Deno.exit(code),
});

function isNotCapable(error: unknown): boolean {
  return error instanceof Error && error.name === 'NotCapable';
}
