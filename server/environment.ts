/**
 * The server's environment, kept out of the environment of the process that runs functions. A
 * launcher (launcher.ts on Node and Bun, deno-launch.ts on Deno) starts the server with a cleaned
 * environment and hands the rest over on its stdin, as one line of JSON; the server keeps it in
 * memory only. So `/proc/self/environ` (and any child process of a function) shows the server's
 * process only what `isKept` allows, and no function is ever granted one of the server's own
 * variables (function-env.ts). Pure and free of the server's code, so a launcher loads little.
 * @module
 */
export type Env = Readonly<Record<string, string | undefined>>;

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
export const isKept = (name: string): boolean =>
  KEPT_NAMES.has(name) || KEPT_PREFIXES.some((prefix) => name.startsWith(prefix));

/** The environment a launcher starts the server with: the kept variables and the marker. */
export const cleanedEnvironment = (env: Env): Record<string, string> => {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && isKept(name)) kept[name] = value;
  }
  kept[HANDED_ENV] = 'stdin';
  return kept;
};

/** The line a launcher writes on the server's stdin. */
export const handOver = (env: Env): string => `${JSON.stringify(env)}\n`;

/** The environment in the first line a launcher wrote; throws on anything else. */
export const takeOver = (line: string): Record<string, string> => {
  const parsed: unknown = JSON.parse(line);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('the launcher handed over no environment');
  }
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value === 'string') env[name] = value;
  }
  return env;
};
