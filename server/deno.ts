/**
 * The Deno entry (`deno task start`): sandboxed Web Workers, served by `Deno.serve`. Started by
 * deno-launch.ts, it reads its secrets from its stdin (they are not in its environment) and keeps
 * them in memory; no function's grants may reach them, nor the server's state, code or Redis.
 * @module
 */
import { type DenoProtections, denoHost } from '../runtime/host/deno.ts';
import { folderSource } from '../runtime/host/fs-source.ts';
import type { FunctionPermissions } from '../runtime/index.ts';
import { serverArgs } from './argv.ts';
import { readAsset } from './assets.ts';
import { clusterBackend } from './cluster.ts';
import {
  grantingCommand,
  join,
  listenSettings,
  PROJECT_CODE,
  PROJECT_ROOT,
  redisAddress,
  storeFolder,
} from './deno-grants.ts';
import { reservedVariables } from './function-env.ts';
import { HANDED_ENV, takeOver } from './launch.mjs';
import { launch } from './launch.ts';
import { SETTINGS } from './settings.ts';

interface DenoServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

interface DenoApi {
  args: string[];
  version: { deno: string };
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
  stdin: { readable: ReadableStream<Uint8Array> };
}

const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

/**
 * What the launcher wrote on stdin (the secrets), when it started this server; then the pipe is
 * watched: when the launcher is gone, the server ends too.
 */
const handedOver = async (): Promise<Record<string, string>> => {
  let marked: string | undefined;
  try {
    marked = Deno.env.get(HANDED_ENV);
  } catch {
    return {};
  }
  if (marked !== 'stdin') return {};
  const reader = Deno.stdin.readable.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${HANDED_ENV} is set, but nothing was handed over on stdin`);
    text += decoder.decode(value, { stream: true });
    const end = text.indexOf('\n');
    if (end < 0) continue;
    void (async () => {
      while (!(await reader.read()).done) {}
      console.error('ebbflow: the launcher is gone: stopping now');
      Deno.exit(1);
    })();
    return takeOver(text.slice(0, end));
  }
};

const handed = await handedOver();

// Only the variables ebbflow reads: `deno task start` grants exactly these (--allow-env=...).
const env: Record<string, string | undefined> = {};
const unreadable: string[] = [];
for (const { env: name } of SETTINGS) {
  if (handed[name] !== undefined) {
    env[name] = handed[name];
    continue;
  }
  try {
    env[name] = Deno.env.get(name);
  } catch {
    unreadable.push(name);
  }
}

const argv = serverArgs(Deno.args);
const command = (extra?: FunctionPermissions) => grantingCommand(argv, env, Deno.cwd(), extra);

if (unreadable.length > 0) {
  console.error(
    `ebbflow: Deno refused to read ${unreadable.join(', ')}: start with \`deno task start\`, which grants what the settings need, or run: ${command()}`,
  );
  Deno.exit(2);
}

await launch({
  runtime: `Deno ${Deno.version.deno}`,
  argv,
  env,
  workers: denoHost({
    refusalHint: (wanted) => `to grant it, run: ${command(wanted)}`,
    protections: protections(),
  }),
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

/** What no function may reach, even on a server started by hand with more grants. */
function protections(): DenoProtections {
  let listen: ReturnType<typeof listenSettings> | undefined;
  try {
    listen = listenSettings(argv, env);
  } catch {
    // Reported by launch() with the variable's name.
  }
  const redisUrl = listen?.redisUrl;
  return {
    reservedEnv: reservedVariables(),
    // The embedded store's folder: the server reads and writes it, no function may.
    noAccess: listen ? storeFolder(listen, Deno.cwd()) : [],
    noWrite: PROJECT_CODE.map((path) => join(PROJECT_ROOT, path)),
    noNet: redisUrl ? [redisAddress(redisUrl)] : [],
  };
}

function isNotCapable(error: unknown): boolean {
  return error instanceof Error && error.name === 'NotCapable';
}
