/**
 * The launcher of Node and Bun servers. Functions run in threads of the server's process, where
 * `/proc/self/environ` shows the environment the process started with whatever `process.env`
 * says; so the server must start without its secrets. `serverEnvironment()` called in a process
 * started by hand makes that process the launcher: it starts the same command again as a child
 * whose environment holds only the kept variables (environment.ts), writes its own environment
 * on the child's stdin, relays SIGTERM, SIGINT and SIGHUP, and exits with the child's code (it
 * never resolves). In the child it resolves with what was handed over, kept in memory only.
 *
 * The child runs in its own process group, so every signal reaches it through the launcher,
 * each one relayed once: the server counts them as it would have counted them itself (npm
 * relays a signal sent to its process group again, as it did before there was a launcher).
 * The child holds its stdin open: when the launcher is gone (SIGKILLed with its group) the
 * server ends at once, as it would have.
 * @module
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { cleanedEnvironment, type Env, HANDED_ENV, handOver, takeOver } from './environment.ts';

const RELAYED = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

let environment: Promise<Env> | undefined;

/**
 * The server's environment: handed over by its launcher (in the server), or, in a process
 * started by hand, never: that process becomes the launcher and exits with the server's code.
 */
export const serverEnvironment = (): Promise<Env> => {
  environment ??= process.env[HANDED_ENV] === 'stdin' ? receive() : relaunch();
  return environment;
};

const relaunch = (): Promise<never> =>
  new Promise<never>(() => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      env: cleanedEnvironment(process.env),
      stdio: ['pipe', 'inherit', 'inherit'],
      detached: true,
    });
    child.on('error', (error) => {
      console.error(`ebbflow: cannot start the server: ${error.message}`);
      process.exit(1);
    });
    // The server may be gone before it read it; its exit code follows.
    child.stdin?.on('error', () => {});
    // Left open: the server watches it to notice when this launcher is gone.
    child.stdin?.write(handOver(process.env));
    for (const signal of RELAYED) {
      process.on(signal, () => {
        try {
          child.kill(signal);
        } catch {
          // Already gone: its exit code follows.
        }
      });
    }
    child.on('exit', (code, signal) => {
      const number = signal ? (constants.signals[signal] ?? 0) : 0;
      process.exit(code ?? 128 + number);
    });
  });

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
