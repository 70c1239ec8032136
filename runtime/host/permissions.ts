/**
 * A function's `config.permissions` in each host's terms: Deno's worker sandbox (everything
 * denied but reading the function's own folder, unless granted), and the environment that
 * Node and Bun workers get (nothing, unless granted); and what no host ever grants a function:
 * the server's own variables, and on Deno its state, its code and other functions' files.
 * @module
 */
import { MODULE_EXTENSIONS } from '../names.ts';
import type { FunctionPermissions } from '../types.ts';

type Grant = boolean | string[] | undefined;
type DenoGrant = boolean | Array<string | URL>;

/** The `deno.permissions` option of a Worker running the module at `moduleUrl`. */
export const denoPermissions = (
  moduleUrl: string,
  grants: FunctionPermissions = {},
): Record<string, DenoGrant> => {
  const folder = new URL('.', moduleUrl);
  // Paths are relative to the functions folder; a dynamic import needs read of that folder.
  const paths = (grant: Grant): DenoGrant =>
    Array.isArray(grant) ? grant.map((path) => new URL(path, folder)) : grant === true;
  const names = (grant: Grant): DenoGrant => (Array.isArray(grant) ? grant : grant === true);
  const extra = Array.isArray(grants.read) ? grants.read.map((path) => new URL(path, folder)) : [];
  return {
    read: grants.read === true ? true : [folder, ...extra],
    write: paths(grants.write),
    net: names(grants.net),
    env: names(grants.env),
    run: names(grants.run),
    sys: names(grants.sys),
    ffi: paths(grants.ffi),
    import: false,
  };
};

/**
 * The variables a worker may see: none unless `config.permissions.env` names them (`true`: all),
 * picked from `env` (the server hands its functions' variables here; process.env by default).
 */
export const grantedEnv = (
  grant: Grant,
  env: Readonly<Record<string, string | undefined>> | undefined = processEnv(),
): Record<string, string> => {
  if (!env || !grant) return {};
  const names = grant === true ? Object.keys(env) : grant;
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = env[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
};

const processEnv = (): Record<string, string | undefined> | undefined =>
  (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env;

/** Why `permissions.env` can never be granted: it names one of the server's own variables. */
export const envRefusal = (
  grant: Grant,
  reserved: readonly string[] | undefined,
): string | undefined => {
  if (!Array.isArray(grant) || !reserved) return undefined;
  const named = grant.filter((name) => reserved.includes(name));
  return named.length === 0
    ? undefined
    : `config.permissions.env names ${named.join(', ')}: a function is never granted the server's own variables`;
};

/** What a Deno server never lets a function's sandbox reach. */
export interface DenoProtections {
  /** The server's own variables (its settings, tokens among them). */
  reservedEnv?: readonly string[];
  /** Absolute paths no function may read or write (the server's data, outside its folder). */
  noAccess?: readonly string[];
  /** Absolute paths no function may write (the server's own code). */
  noWrite?: readonly string[];
  /** `host:port` no function may reach (the cluster's Redis). */
  noNet?: readonly string[];
}

/**
 * Why a Deno worker running `moduleUrl` can never have `grants`, or undefined. Grants are within
 * what the server holds (Deno refuses more), and the server holds its secrets, the write of the
 * functions folder (deploys, the versions file) and its Redis address: so a function may not ask
 * for everything of a kind (`true`) where that reaches them, nor name them.
 */
export const denoRefusal = (
  moduleUrl: string,
  grants: FunctionPermissions,
  p: DenoProtections = {},
): string | undefined => {
  const env = envRefusal(grants.env, p.reservedEnv);
  if (env) return env;
  if (grants.env === true) {
    return 'config.permissions.env must name its variables: true would grant every variable the server may read, its own included';
  }
  if (grants.write === true) {
    return "config.permissions.write must name its paths: true would let the function rewrite other functions and the server's state";
  }
  const noAccess = p.noAccess ?? [];
  if (grants.read === true && noAccess.length > 0) {
    return `config.permissions.read must name its paths: true would reach the server's state (${noAccess.join(', ')})`;
  }
  const folder = new URL('.', moduleUrl);
  for (const path of Array.isArray(grants.write) ? grants.write : []) {
    const why = writeRefusal(folder, new URL(path, folder), [...noAccess, ...(p.noWrite ?? [])]);
    if (why) return `config.permissions.write may not name "${path}": ${why}`;
  }
  for (const path of Array.isArray(grants.read) ? grants.read : []) {
    const hit = overlapping(new URL(path, folder), noAccess);
    if (hit)
      return `config.permissions.read may not name "${path}": it reaches ${hit}, the server's state`;
  }
  const noNet = p.noNet ?? [];
  if (noNet.length > 0) {
    if (grants.net === true) {
      return `config.permissions.net must name its hosts: true would reach ${noNet.join(', ')}, the server's task store`;
    }
    const hosts = Array.isArray(grants.net) ? grants.net : [];
    const hit = hosts.find((host) =>
      noNet.some((kept) => kept === host || kept.split(':')[0] === host),
    );
    if (hit) return `config.permissions.net may not name ${hit}: it is the server's task store`;
  }
  return undefined;
};

/** Why writing `target` would reach what the server keeps, or undefined. */
const writeRefusal = (folder: URL, target: URL, kept: readonly string[]): string | undefined => {
  const inside = target.href.startsWith(folder.href) ? target.href.slice(folder.href.length) : '';
  if (target.href === folder.href || folder.href.startsWith(target.href.replace(/\/?$/, '/'))) {
    return "it holds the functions folder (every function and the server's versions file)";
  }
  if (inside !== '') {
    const relative = decodeURIComponent(inside);
    const top = relative.split('/')[0] as string;
    if (top.startsWith('.')) return "hidden files beside the functions are the server's";
    if (
      !relative.replace(/\/$/, '').includes('/') &&
      MODULE_EXTENSIONS.some((e) => top.endsWith(e))
    ) {
      return 'it is a function module';
    }
  }
  const hit = overlapping(target, kept);
  return hit ? `it reaches ${hit}, which the server keeps` : undefined;
};

/** The first of `paths` that `target` is, holds or lies inside, if any. */
const overlapping = (target: URL, paths: readonly string[]): string | undefined => {
  const t = decodeURIComponent(target.pathname).replace(/\/+$/, '');
  return paths.find((path) => {
    const p = path.replace(/\/+$/, '');
    return t === p || t.startsWith(`${p}/`) || p.startsWith(`${t}/`);
  });
};
