// @ts-self-types="./launch.d.mts"
/**
 * The launcher of Node and Bun servers, in plain JavaScript so that it starts without a
 * TypeScript loader (tsx's start is most of what a launcher costs: bench/cases/startup.ts,
 * `server`). Functions run in threads of the server's process, where `/proc/self/environ` shows
 * the environment the process started with whatever `process.env` says; so the server must start
 * without its secrets. The launcher starts the server as its child with only the variables the
 * runtimes read (`isKept`), writes the whole environment on the child's stdin as one line of
 * JSON (the server keeps it in memory: server/launcher.ts), relays SIGTERM, SIGINT and SIGHUP
 * (and a SIGTERM of its own when npm, which started it, is gone: parent-watch.mjs), and exits
 * with the child's code.
 *
 * The child runs in its own process group, so every signal reaches it through the launcher, each
 * relayed once: the server counts them as it did before there was a launcher (npm relays a
 * signal sent to its process group again). The child holds its stdin open: when the launcher is
 * gone (SIGKILLed with its group) the server ends at once, as it would have.
 *
 * `npm start` and `bun run start` run start.mjs, which relaunches `server/start.ts` with tsx's
 * loader; the TypeScript entries relaunch themselves when started by hand (server/launcher.ts).
 * Its types are in launch.d.mts.
 * @module
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { watchParent } from './parent-watch.mjs';

/**
 * Set (to `stdin`) in the environment of a server its launcher started: the server reads its
 * environment from its stdin, and holds that pipe open to notice when the launcher is gone.
 */
export const HANDED_ENV = 'EBBFLOW_HANDED_ENV';

/**
 * What the runtimes themselves read from the environment (Node, Bun, Deno, tsx, esbuild, the
 * locale and the temp folder): these stay in the server process's environment on Node and Bun.
 * No secret belongs in one of them.
 */
const KEPT_NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TMP',
  'TEMP',
  'TERM',
  'COLORTERM',
  'NO_COLOR',
  'FORCE_COLOR',
  'DEBUG',
  'NODE_ENV',
  'NODE_OPTIONS',
  'NODE_EXTRA_CA_CERTS',
  'UV_THREADPOOL_SIZE',
  'ESBUILD_BINARY_PATH',
]);
const KEPT_PREFIXES = ['LC_', 'XDG_', 'BUN_', 'DENO_', 'TSX_'];

/** Whether variable `name` stays in the environment of the process that runs functions. */
export const isKept = (name) =>
  KEPT_NAMES.has(name) || KEPT_PREFIXES.some((prefix) => name.startsWith(prefix));

/** The environment a launcher starts the server with: the kept variables and the marker. */
export const cleanedEnvironment = (env) => {
  const kept = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && isKept(name)) kept[name] = value;
  }
  kept[HANDED_ENV] = 'stdin';
  return kept;
};

/** The line a launcher writes on the server's stdin. */
export const handOver = (env) => `${JSON.stringify(env)}\n`;

/** The environment in the first line a launcher wrote; throws on anything else. */
export const takeOver = (line) => {
  const parsed = JSON.parse(line);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('the launcher handed over no environment');
  }
  const env = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value === 'string') env[name] = value;
  }
  return env;
};

const RELAYED = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** What the launcher says when npm, which started it, went away without passing on a signal. */
export const PARENT_GONE = 'the npm process that started it exited';

/**
 * Start `this runtime args` as the server, without its secrets in its environment, and stay only
 * to relay signals and exit with its code: never returns.
 */
export const relaunch = (args) =>
  new Promise(() => {
    const child = spawn(process.execPath, args, {
      env: cleanedEnvironment(process.env),
      stdio: ['pipe', 'inherit', 'inherit'],
      detached: true,
    });
    child.on('error', (error) => {
      console.error(`ebbflow: cannot start the server: ${error.message}`);
      process.exit(1);
    });
    // The server may be gone before it read it; its exit code follows.
    child.stdin.on('error', () => {});
    // Left open: the server watches it to notice when this launcher is gone.
    child.stdin.write(handOver(process.env));
    const relay = (signal) => {
      try {
        child.kill(signal);
      } catch {
        // Already gone: its exit code follows.
      }
    };
    // npm runs a bin (`npx ebbflow serve`) under `sh -c`, which dies of a SIGTERM it does not
    // pass on: the launcher notices its parent gone and passes one SIGTERM on itself. A signal
    // relayed first stops the watch, so npm's own relay of a signal is never counted twice.
    const unwatch = process.env.npm_command
      ? watchParent(
          () => process.ppid,
          () => {
            console.error(`ebbflow: ${PARENT_GONE}: passing SIGTERM on to the server`);
            relay('SIGTERM');
          },
        )
      : () => {};
    for (const signal of RELAYED) {
      process.on(signal, () => {
        unwatch();
        relay(signal);
      });
    }
    child.on('exit', (code, signal) => {
      const number = signal ? (constants.signals[signal] ?? 0) : 0;
      process.exit(code ?? 128 + number);
    });
  });
