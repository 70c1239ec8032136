/**
 * The Deno permissions a server needs, derived from its settings: read of the functions folder
 * and of the project code its workers load, net for the address it listens on, env for exactly
 * the settings' variables, and the one system call the scaler uses. `deno task start` runs
 * deno-launch.ts, which reads the settings and starts the server with these grants; a refusal
 * prints the command from here. Pure, so it is unit-tested on Node.
 * @module
 */
import type { FunctionPermissions } from '../runtime/index.ts';
import { HANDED_ENV } from './launch.mjs';
import { parseSettings, SETTINGS, type Settings } from './settings.ts';

/**
 * The variables the launcher reads (deno.json grants it exactly these): those the grants are
 * derived from, and the secrets it takes out of the server's environment and hands over on the
 * server's stdin (server/launch.mjs). A setting that needs a grant of its own (a Redis
 * address, a folder written by deploys) adds its variable here and its grant in `denoGrants`;
 * a new secret setting adds its variable here (a test checks every secret is listed).
 */
export const LAUNCHER_ENV = [
  'PORT',
  'HOST',
  'EBBFLOW_FUNCTIONS',
  'EBBFLOW_REDIS_URL',
  'EBBFLOW_TOKEN',
  'EBBFLOW_ADMIN_TOKEN',
  'EBBFLOW_STORE',
  'EBBFLOW_DATA',
] as const;

/** The secrets among `LAUNCHER_ENV`: never left in the server's environment. */
export const SECRETS = ['EBBFLOW_TOKEN', 'EBBFLOW_ADMIN_TOKEN', 'EBBFLOW_REDIS_URL'] as const;

/**
 * Folders of the project no function may be granted write of, even by a server started with
 * more grants by hand: the server's own code.
 */
export const PROJECT_CODE = ['runtime', 'node_modules', 'api', 'server'] as const;

/**
 * Project folders the server reads while it runs: a worker's module graph is read with the
 * server's permissions (its entry, runtime/worker/*, comlink from node_modules), and the pages'
 * files (api/pages, uPlot and Swagger UI from node_modules).
 */
export const PROJECT_READS = ['runtime', 'node_modules', 'api/pages'] as const;

/** The launcher runs this binary (deno.json grants `--allow-run` of it, relative to the root). */
export const DENO_BIN = 'node_modules/.bin/deno';

/** The project's folder (this file is in server/). */
export const PROJECT_ROOT = decodeURIComponent(new URL('..', import.meta.url).pathname).replace(
  /\/$/,
  '',
);

export type GrantKind = 'read' | 'write' | 'net' | 'env' | 'sys' | 'run' | 'ffi';

/** Per kind: the names or paths granted, or `true` for everything of that kind. */
export type DenoGrants = Record<GrantKind, string[] | true>;

type Listen = Pick<Settings, 'host' | 'port' | 'functions' | 'redisUrl'> &
  Partial<Pick<Settings, 'store' | 'data'>>;

/** The settings the grants depend on (the defaults with `--help`); throws a `SettingsError`. */
export const listenSettings = (
  argv: readonly string[],
  env: Record<string, string | undefined>,
): Listen => {
  const parsed = parseSettings(argv, env);
  return parsed.help ? listenSettings([], {}) : parsed.settings;
};

/** The grants for `settings`, with the project at `root`; `cwd` resolves a relative folder. */
export const denoGrants = (settings: Listen, root: string, cwd: string): DenoGrants => {
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  // The embedded task store: its file, its write-ahead log and the folder they are made in.
  // The server process only: function workers are granted their own folder, never this one.
  const data = storeFolder(settings, cwd);
  return {
    read: [
      join(cwd, settings.functions),
      ...PROJECT_READS.map((path) => join(root, path)),
      ...data,
    ],
    // Port 0 binds a port chosen at start, so only the host can be named.
    net: [
      settings.port === 0 ? host : `${host}:${settings.port}`,
      ...(settings.redisUrl ? [redisAddress(settings.redisUrl)] : []),
    ],
    // Several servers: ioredis's `debug` dependency lists every variable when it loads, which
    // Deno grants only with all of them (the workers' sandbox is unchanged: env denied).
    env: settings.redisUrl ? true : [...SETTINGS.map((s) => s.env), HANDED_ENV],
    sys: ['systemMemoryInfo'],
    // The functions folder only: deploys land there, and the versions file keeps `version`
    // across restarts (docs/deploy.md).
    write: [join(cwd, settings.functions), ...data],
    run: [],
    ffi: [],
  };
};

/**
 * The folder of the embedded store's file, when a server alone keeps its tasks there: granted to
 * the server, and never to a function (server/deno.ts lists it in the workers' protections).
 */
export const storeFolder = (settings: Listen, cwd: string): string[] => {
  if (settings.redisUrl || settings.store === 'memory' || settings.data === undefined) return [];
  const file = join(cwd, settings.data);
  return [file.slice(0, file.lastIndexOf('/')) || '/'];
};

/** `host:port` of a `redis://` URL (port 6379 when it names none). */
export const redisAddress = (url: string): string => {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '6379'}`;
};

const PATH_KINDS: ReadonlySet<GrantKind> = new Set(['read', 'write', 'ffi']);

/**
 * `grants` plus what a function's `config.permissions` asks for (paths are relative to the
 * functions folder, as in the worker sandbox).
 */
export const withFunctionGrants = (
  grants: DenoGrants,
  folder: string,
  wanted: FunctionPermissions,
): DenoGrants => {
  const all = { ...grants };
  for (const kind of Object.keys(all) as GrantKind[]) {
    const want = wanted[kind];
    const have = all[kind];
    if (want === true) all[kind] = true;
    else if (Array.isArray(want) && have !== true) {
      const extra = PATH_KINDS.has(kind) ? want.map((path) => join(folder, path)) : want;
      all[kind] = [...new Set([...have, ...extra])];
    }
  }
  return all;
};

/** `--allow-<kind>=a,b` flags; an unrestricted grant is `--allow-<kind>`. */
export const denoFlags = (grants: DenoGrants): string[] => {
  const flags: string[] = [];
  for (const [kind, grant] of Object.entries(grants)) {
    if (grant === true) flags.push(`--allow-${kind}`);
    else if (grant.length > 0) flags.push(`--allow-${kind}=${grant.join(',')}`);
  }
  return flags;
};

/** The whole `deno run` command line that starts the server with `grants`, for messages. */
export const denoCommand = (grants: DenoGrants, root: string, argv: readonly string[]): string =>
  [
    join(root, DENO_BIN),
    'run',
    `--config=${join(root, 'deno.json')}`,
    ...denoFlags(grants),
    join(root, 'server/deno.ts'),
    ...argv,
  ]
    .map(quote)
    .join(' ');

/**
 * The exact command that starts the server with the grants its settings need, plus what a
 * function asks for (`extra`): what a refusal tells the user to run. Settings that do not parse
 * fall back to the defaults (the bad one is reported on its own).
 */
export const grantingCommand = (
  argv: readonly string[],
  env: Record<string, string | undefined>,
  cwd: string,
  extra: FunctionPermissions = {},
): string => {
  let listen: Listen;
  try {
    listen = listenSettings(argv, env);
  } catch {
    listen = listenSettings([], {});
  }
  const grants = denoGrants(listen, PROJECT_ROOT, cwd);
  const folder = join(cwd, listen.functions);
  return denoCommand(withFunctionGrants(grants, folder, extra), PROJECT_ROOT, argv);
};

/** Why a grant list cannot hold a path: Deno separates its entries with commas. */
export const unlistable = (grants: DenoGrants): string | undefined => {
  const listed = Object.values(grants).flatMap((grant) => (grant === true ? [] : grant));
  const bad = listed.find((entry) => entry.includes(','));
  return bad === undefined
    ? undefined
    : `Deno cannot grant a name or path with a comma in it: ${bad}`;
};

/** `path` resolved against the folder `base` (both POSIX; an absolute `path` stays). */
export const join = (base: string, path: string): string =>
  path.startsWith('/') ? path : `${base.replace(/\/+$/, '')}/${path.replace(/^\.\//, '')}`;

const quote = (arg: string): string =>
  /^[\w@%+=:,./[\]-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
