/**
 * A function's `config.permissions` in each host's terms: Deno's worker sandbox (everything
 * denied but reading the function's own folder, unless granted), and the environment that
 * Node and Bun workers get (nothing, unless granted).
 * @module
 */
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
