/**
 * The server's environment on Node and Bun. A server its launcher started (launch.mjs: `npm
 * start`, `bun run start`) reads it from its stdin and keeps it in memory only; its own
 * environment holds none of it. A process started by hand (`tsx server/node.ts`, `ebbflow
 * serve`) becomes the launcher here: it starts the same command again as that server, and never
 * goes on. The server holds its stdin open: when the launcher is gone, it stops at once.
 * @module
 */
import { type Env, HANDED_ENV, relaunch, takeOver } from './launch.mjs';

let environment: Promise<Env> | undefined;

/**
 * The server's environment: handed over by its launcher (in the server), or, in a process
 * started by hand, never: that process becomes the launcher and exits with the server's code.
 */
export const serverEnvironment = (): Promise<Env> => {
  environment ??=
    process.env[HANDED_ENV] === 'stdin'
      ? receive()
      : relaunch([...process.execArgv, ...process.argv.slice(1)]);
  return environment;
};

const receive = (): Promise<Env> =>
  new Promise<Env>((resolve, reject) => {
    const stdin = process.stdin;
    let text = '';
    let received = false;
    stdin.setEncoding('utf8');
    stdin.on('data', (chunk: string) => {
      if (received) return;
      text += chunk;
      const end = text.indexOf('\n');
      if (end < 0) return;
      received = true;
      try {
        resolve(takeOver(text.slice(0, end)));
      } catch (error) {
        reject(error);
      }
    });
    stdin.on('end', () => {
      if (!received) {
        reject(new Error(`${HANDED_ENV} is set, but nothing was handed over on stdin`));
        return;
      }
      console.error('ebbflow: the launcher is gone: stopping now');
      process.exit(1);
    });
  });
