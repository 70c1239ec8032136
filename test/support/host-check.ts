/**
 * Runs a check script on a host (tsx, Deno, Bun from node_modules/.bin) from the repository root
 * and collects what it prints, for the tests that run one check per host.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The path of an executable npm installed in node_modules/.bin. */
export const bin = (name: string) =>
  fileURLToPath(new URL(`../../node_modules/.bin/${name}`, import.meta.url));

/** Runs `command` to its exit with the given variables added to this process's environment. */
export const runCheck = (
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
) =>
  new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      err += chunk;
    });
    child.on('exit', (code) => resolve({ code, out, err }));
  });
